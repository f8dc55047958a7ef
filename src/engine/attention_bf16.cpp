#include "engine/attention_bf16.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/error.h"
#include "engine/simd_math.h"

#if defined(__AVX512F__) && defined(__AVX512BF16__) && defined(__AVX512BW__)
#define EJ_ATTENTION_BF16 1
#endif

namespace ej::engine::kernels {

namespace {

#if defined(EJ_ATTENTION_BF16)

using simd::exp512;
using simd::store_scaled_scores;
using simd::tail_mask;

// 16 floats -> 16 bf16 (nearest even), as 16 u16 in a 256-bit register.
inline __m256i bf16x16(__m512 x) {
  return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(x));
}

// Pairs (a[d], b[d]) of bf16 as 16 u32 lanes: a in the low half (VDPBF16PS's even element).
inline __m512i pair_lanes(__m512 a, __m512 b) {
  const __m512i lo = _mm512_cvtepu16_epi32(bf16x16(a));
  const __m512i hi = _mm512_cvtepu16_epi32(bf16x16(b));
  return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

// Scores of QR query rows x 16 NC keys: s[r, j] = scale * sum_d q[r, d] k[j, d], the products in
// bf16 pairs over d. q2[r]: the row's DH / 2 pairs; kt2: [DH / 2][ldk] pairs (key-major).
template <int QR, int NC, int DH>
inline void score_block(const uint32_t (*q2)[DH / 2], const uint32_t* kt2, size_t ldk,
                        __m512 vscale, float* out, size_t ldo, size_t left, __m512* vmax) {
  __m512 acc[QR][NC];
#pragma GCC unroll 8
  for (int r = 0; r < QR; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  for (size_t d2 = 0; d2 < DH / 2; ++d2) {
    __m512bh kv[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
      kv[c] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(kt2 + d2 * ldk + 16 * c));
    }
#pragma GCC unroll 8
    for (int r = 0; r < QR; ++r) {
      const __m512bh qb =
          reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(q2[r][d2])));
#pragma GCC unroll 8
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], kv[c], qb);
    }
  }
  store_scaled_scores<QR, NC>(acc, vscale, out, ldo, left, vmax);
}

// dh = 16 NV. Scratch (floats): kt2 [dh / 2][lp] u32 pairs of K (k[j, d], k[j, d + 1]) in the
// first dh lp / 2, the bf16 probabilities [RB][lp] u16 after it (within the first dh lp);
// vc2 [lp / 2][dh] u32 pairs of V (v[j, d], v[j + 1, d]) in the next dh lp / 2 ... dh lp;
// the f32 scores [RB][lp] after 2 dh lp. Keys past len are zero (pairs and probabilities), so
// every loop runs whole vectors and whole pairs.
template <int NV, int RB>
void attention_head_bf16_avx512(const float* q, const float* k, const float* v, size_t ld,
                                size_t len, float scale, float* out, size_t ld_out,
                                float* scratch) {
  static_assert(RB % 4 == 0, "RB is a multiple of 4");
  constexpr size_t dh = 16 * NV;
  constexpr int QR = 4;
  const size_t lp = (len + 15) / 16 * 16;
  auto* kt2 = reinterpret_cast<uint32_t*>(scratch);
  auto* p16 = reinterpret_cast<uint16_t*>(scratch + dh * lp / 2);
  auto* vc2 = reinterpret_cast<uint32_t*>(scratch + dh * lp);
  float* sc = scratch + 2 * dh * lp;
  // K: each key row to bf16 pairs, scattered to the key-major layout.
  for (size_t j = 0; j < len; ++j) {
    const float* kr = k + j * ld;
    alignas(64) uint32_t pairs[dh / 2];
#pragma GCC unroll 8
    for (size_t d = 0; d + 32 <= dh; d += 32) {
      const __m512i two = reinterpret_cast<__m512i>(
          _mm512_cvtne2ps_pbh(_mm512_loadu_ps(kr + d + 16), _mm512_loadu_ps(kr + d)));
      _mm512_store_si512(pairs + d / 2, two);
    }
    if constexpr (NV % 2 == 1) {  // the last 16 floats: 8 pairs
      _mm256_store_si256(reinterpret_cast<__m256i*>(pairs + (dh - 16) / 2),
                         bf16x16(_mm512_loadu_ps(kr + dh - 16)));
    }
#pragma GCC unroll 16
    for (size_t d2 = 0; d2 < dh / 2; ++d2) kt2[d2 * lp + j] = pairs[d2];
  }
  for (size_t d2 = 0; d2 < dh / 2; ++d2) {
    for (size_t j = len; j < lp; ++j) kt2[d2 * lp + j] = 0;
  }
  // V: rows j and j + 1 interleaved per d (a zero row past len).
  for (size_t j = 0; j < lp; j += 2) {
#pragma GCC unroll 8
    for (int c = 0; c < NV; ++c) {
      const __m512 a = j < len ? _mm512_loadu_ps(v + j * ld + 16 * c) : _mm512_setzero_ps();
      const __m512 b =
          j + 1 < len ? _mm512_loadu_ps(v + (j + 1) * ld + 16 * c) : _mm512_setzero_ps();
      _mm512_storeu_si512(vc2 + (j / 2) * dh + 16 * c, pair_lanes(a, b));
    }
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  for (size_t i0 = 0; i0 < len; i0 += RB) {
    const size_t rows = std::min<size_t>(RB, len - i0);
    float row_max[RB];
    float row_inv[RB];
    for (int g = 0; g < RB; g += QR) {
      alignas(64) uint32_t q2[QR][dh / 2];
#pragma GCC unroll 8
      for (int r = 0; r < QR; ++r) {
        const float* qr = q + (i0 + std::min<size_t>(static_cast<size_t>(g + r), rows - 1)) * ld;
#pragma GCC unroll 8
        for (size_t d = 0; d + 32 <= dh; d += 32) {
          _mm512_storeu_si512(q2[r] + d / 2,
                              reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(
                                  _mm512_loadu_ps(qr + d + 16), _mm512_loadu_ps(qr + d))));
        }
        if constexpr (NV % 2 == 1) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(q2[r] + (dh - 16) / 2),
                              bf16x16(_mm512_loadu_ps(qr + dh - 16)));
        }
      }
      __m512 vmax[QR];
#pragma GCC unroll 8
      for (int r = 0; r < QR; ++r) vmax[r] = _mm512_set1_ps(-INFINITY);
      size_t j0 = 0;
      float* srow = sc + static_cast<size_t>(g) * lp;
      for (; j0 + 64 <= lp; j0 += 64) {
        score_block<QR, 4, dh>(q2, kt2 + j0, lp, vscale, srow + j0, lp, len - j0, vmax);
      }
      switch ((lp - j0) / 16) {
        case 1:
          score_block<QR, 1, dh>(q2, kt2 + j0, lp, vscale, srow + j0, lp, len - j0, vmax);
          break;
        case 2:
          score_block<QR, 2, dh>(q2, kt2 + j0, lp, vscale, srow + j0, lp, len - j0, vmax);
          break;
        case 3:
          score_block<QR, 3, dh>(q2, kt2 + j0, lp, vscale, srow + j0, lp, len - j0, vmax);
          break;
        default:
          break;
      }
#pragma GCC unroll 8
      for (int r = 0; r < QR; ++r) row_max[g + r] = _mm512_reduce_max_ps(vmax[r]);
    }
    // exp over the real keys (zero past len), the f32 sum, the bf16 probabilities.
    for (int r = 0; r < RB; ++r) {
      const float* row = sc + static_cast<size_t>(r) * lp;
      uint16_t* prow = p16 + static_cast<size_t>(r) * lp;
      const __m512 mx = _mm512_set1_ps(row_max[r]);
      __m512 sum = _mm512_setzero_ps();
      for (size_t j = 0; j < lp; j += 16) {
        const __mmask16 m = j < len ? tail_mask(len - j) : static_cast<__mmask16>(0);
        const __m512 e =
            _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_loadu_ps(row + j), mx)));
        sum = _mm512_add_ps(sum, e);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(prow + j), bf16x16(e));
      }
      row_inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
    }
    // O_block = P V over key pairs (unnormalized), then scaled per row.
    __m512 o[RB][NV];
#pragma GCC unroll 8
    for (int r = 0; r < RB; ++r) {
#pragma GCC unroll 8
      for (int c = 0; c < NV; ++c) o[r][c] = _mm512_setzero_ps();
    }
    for (size_t j = 0; j < len; j += 2) {
      __m512bh vv[NV];
      const uint32_t* vr = vc2 + (j / 2) * dh;
#pragma GCC unroll 8
      for (int c = 0; c < NV; ++c)
        vv[c] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(vr + 16 * c));
#pragma GCC unroll 8
      for (int r = 0; r < RB; ++r) {
        uint32_t pp;
        std::memcpy(&pp, p16 + static_cast<size_t>(r) * lp + j, 4);
        const __m512bh pb = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(pp)));
#pragma GCC unroll 8
        for (int c = 0; c < NV; ++c) o[r][c] = _mm512_dpbf16_ps(o[r][c], vv[c], pb);
      }
    }
    for (size_t r = 0; r < rows; ++r) {
      const __m512 inv = _mm512_set1_ps(row_inv[r]);
#pragma GCC unroll 8
      for (int c = 0; c < NV; ++c) {
        _mm512_storeu_ps(out + (i0 + r) * ld_out + 16 * c, _mm512_mul_ps(o[r][c], inv));
      }
    }
  }
}

#endif  // EJ_ATTENTION_BF16

}  // namespace

bool attention_bf16_supported(size_t dh) {
#if defined(EJ_ATTENTION_BF16)
  return dh > 0 && dh % 16 == 0 && dh <= 128;
#else
  (void)dh;
  return false;
#endif
}

void attention_head_bf16(const float* q, const float* k, const float* v, size_t ld, size_t len,
                         size_t dh, float scale, float* out, size_t ld_out, float* scratch) {
#if defined(EJ_ATTENTION_BF16)
  switch (dh) {
    case 16:
      return attention_head_bf16_avx512<1, 8>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 32:
      return attention_head_bf16_avx512<2, 8>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 48:
      return attention_head_bf16_avx512<3, 4>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 64:
      return attention_head_bf16_avx512<4, 4>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 80:
      return attention_head_bf16_avx512<5, 4>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 96:
      return attention_head_bf16_avx512<6, 4>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 112:
      return attention_head_bf16_avx512<7, 4>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 128:
      return attention_head_bf16_avx512<8, 4>(q, k, v, ld, len, scale, out, ld_out, scratch);
    default:
      break;
  }
#else
  (void)q;
  (void)k;
  (void)v;
  (void)ld;
  (void)len;
  (void)scale;
  (void)out;
  (void)ld_out;
  (void)scratch;
#endif
  throw Error(ErrorCode::kInternal, "attention_head_bf16: head width " + std::to_string(dh) +
                                        " not supported in this build");
}

}  // namespace ej::engine::kernels
