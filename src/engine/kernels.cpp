#include "engine/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/simd_math.h"  // <immintrin.h> with AVX-512

namespace ej::engine::kernels {

namespace {

using namespace simd;  // NOLINT: the vector math of engine/simd_math.h

float scalar_act(float x, Activation act) {
  switch (act) {
    case Activation::kGeluErf:
      return 0.5f * x * (1.0f + std::erf(x * kSqrtHalf));
    case Activation::kGeluTanh:
      return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    case Activation::kQuickGelu:
      return x / (1.0f + std::exp(-1.702f * x));
    case Activation::kRelu:
      return x > 0.0f ? x : 0.0f;
    case Activation::kSilu:
      return x / (1.0f + std::exp(-x));
    case Activation::kTanh:
      return std::tanh(x);
    case Activation::kSigmoid:
      return 1.0f / (1.0f + std::exp(-x));
    case Activation::kIdentity:
      return x;
  }
  return x;
}

#if defined(__AVX512F__)

void bias_act_row(float* x, size_t cols, const float* bias, Activation act) {
  for (size_t c = 0; c < cols; c += 16) {
    __mmask16 m = tail_mask(cols - c);
    __m512 v = _mm512_maskz_loadu_ps(m, x + c);
    if (bias != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + c));
    _mm512_mask_storeu_ps(x + c, m, act512(v, act));
  }
}

// x = LN(v) where v = y + bias + x (y, bias may be null); gamma/beta affine.
void ln_row(const float* y, const float* bias, float* x, const float* gamma, const float* beta,
            float eps, size_t cols) {
  __m512 sum = _mm512_setzero_ps();
  for (size_t c = 0; c < cols; c += 16) {
    __mmask16 m = tail_mask(cols - c);
    __m512 v = _mm512_maskz_loadu_ps(m, x + c);
    if (y != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y + c));
    if (bias != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + c));
    _mm512_mask_storeu_ps(x + c, m, v);
    sum = _mm512_add_ps(sum, v);
  }
  const float mean = _mm512_reduce_add_ps(sum) / static_cast<float>(cols);
  const __m512 vmean = _mm512_set1_ps(mean);
  __m512 sq = _mm512_setzero_ps();
  for (size_t c = 0; c < cols; c += 16) {
    __mmask16 m = tail_mask(cols - c);
    __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + c), vmean);
    sq = _mm512_fmadd_ps(d, d, sq);
  }
  const float var = _mm512_reduce_add_ps(sq) / static_cast<float>(cols);
  const __m512 rstd = _mm512_set1_ps(1.0f / std::sqrt(var + eps));
  for (size_t c = 0; c < cols; c += 16) {
    __mmask16 m = tail_mask(cols - c);
    __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + c), vmean), rstd);
    __m512 o =
        _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, gamma + c), _mm512_maskz_loadu_ps(m, beta + c));
    _mm512_mask_storeu_ps(x + c, m, o);
  }
}

#else  // scalar fallback

void bias_act_row(float* x, size_t cols, const float* bias, Activation act) {
  for (size_t c = 0; c < cols; ++c) {
    float v = x[c] + (bias != nullptr ? bias[c] : 0.0f);
    x[c] = scalar_act(v, act);
  }
}

void ln_row(const float* y, const float* bias, float* x, const float* gamma, const float* beta,
            float eps, size_t cols) {
  float sum = 0.0f;
  for (size_t c = 0; c < cols; ++c) {
    float v = x[c];
    if (y != nullptr) v += y[c];
    if (bias != nullptr) v += bias[c];
    x[c] = v;
    sum += v;
  }
  const float mean = sum / static_cast<float>(cols);
  float sq = 0.0f;
  for (size_t c = 0; c < cols; ++c) sq += (x[c] - mean) * (x[c] - mean);
  const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(cols) + eps);
  for (size_t c = 0; c < cols; ++c) x[c] = (x[c] - mean) * rstd * gamma[c] + beta[c];
}

#endif

}  // namespace

void bias_activation_rows(float* x, size_t rows, size_t cols, size_t ld, const float* bias,
                          Activation act, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * cols > 32768)
  for (size_t r = 0; r < rows; ++r) bias_act_row(x + r * ld, cols, bias, act);
}

void gated_activation_rows(const float* u, size_t rows, size_t ff, float* out, Activation act,
                           int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * ff > 32768)
  for (size_t r = 0; r < rows; ++r) {
    const float* g = u + r * 2 * ff;
    float* o = out + r * ff;
    std::memcpy(o, g, ff * sizeof(float));
    bias_act_row(o, ff, nullptr, act);
    for (size_t c = 0; c < ff; ++c) o[c] *= g[ff + c];
  }
}

void add_bias_rows(float* x, size_t rows, size_t cols, size_t ld, const float* bias, int threads) {
  bias_activation_rows(x, rows, cols, ld, bias, Activation::kIdentity, threads);
}

void bias_residual_layernorm_rows(const float* y, const float* bias, float* x, const float* gamma,
                                  const float* beta, float eps, size_t rows, size_t cols,
                                  int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * cols > 32768)
  for (size_t r = 0; r < rows; ++r) {
    ln_row(y != nullptr ? y + r * cols : nullptr, bias, x + r * cols, gamma, beta, eps, cols);
  }
}

void layernorm_rows(float* x, const float* gamma, const float* beta, float eps, size_t rows,
                    size_t cols, int threads) {
  bias_residual_layernorm_rows(nullptr, nullptr, x, gamma, beta, eps, rows, cols, threads);
}

void softmax(float* x, size_t n) {
#if defined(__AVX512F__)
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, x + i));
  }
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 sum = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mx));
    e = _mm512_maskz_mov_ps(m, e);
    sum = _mm512_add_ps(sum, e);
    _mm512_mask_storeu_ps(x + i, m, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
  }
#else
  float mx = -INFINITY;
  for (size_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (size_t i = 0; i < n; ++i) x[i] *= inv;
#endif
}

size_t attention_scratch_floats(size_t len, size_t dh) {
  const size_t lp = (len + 15) / 16 * 16;
  return 2 * dh * lp + 8 * lp + 64;
}

namespace {

// Reference path: any dh, no SIMD requirement.
void attention_head_scalar(const float* q, const float* k, const float* v, size_t ld, size_t len,
                           size_t dh, float scale, float* out, size_t ld_out, float* scratch) {
  float* s = scratch;
  for (size_t i = 0; i < len; ++i) {
    for (size_t j = 0; j < len; ++j) {
      float a = 0.0f;
      for (size_t d = 0; d < dh; ++d) a += q[i * ld + d] * k[j * ld + d];
      s[j] = a * scale;
    }
    softmax(s, len);
    float* o = out + i * ld_out;
    for (size_t d = 0; d < dh; ++d) o[d] = 0.0f;
    for (size_t j = 0; j < len; ++j) {
      for (size_t d = 0; d < dh; ++d) o[d] += s[j] * v[j * ld + d];
    }
  }
}

#if defined(__AVX512F__)

// NV = dh / 16 vectors per row (1..8). Blocks of 4 query rows: scores for the 4 rows against
// K^T (transposed once per head, zero-padded to a multiple of 16 keys), softmax of each row,
// then P V with 4 x NV accumulators.
// Scores of QR query rows against NC * 16 keys (columns of kt, row stride ldk): scaled, stored
// into out (row stride ldo), and folded into the per-row running max over the real keys
// (`left` = keys remaining from this block's first column).
template <int QR, int NC, size_t DH>
inline void score_block(const float* const* qr, const float* kt, size_t ldk, __m512 vscale,
                        float* out, size_t ldo, size_t left, __m512* vmax) {
  __m512 acc[QR][NC];
#pragma GCC unroll 8
  for (int r = 0; r < QR; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  for (size_t d = 0; d < DH; ++d) {
    __m512 kv[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) kv[c] = _mm512_loadu_ps(kt + d * ldk + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < QR; ++r) {
      const __m512 qb = _mm512_set1_ps(qr[r][d]);
#pragma GCC unroll 8
      for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_fmadd_ps(qb, kv[c], acc[r][c]);
    }
  }
  store_scaled_scores<QR, NC>(acc, vscale, out, ldo, left, vmax);
}

// Attention of one head, dh = 16 * NV. K is transposed once per head into kt [dh, lp] (lp = len
// rounded up to 16, zero keys past len) and V copied into vc [len, dh], both L1/L2-resident.
// Query rows go in blocks of RB: scores 4 rows x 64 keys at a time (16 accumulators) with the
// row max tracked on the fly (masked to real keys), exp + sum in place, then P V with RB x NV
// accumulators, scaled by 1 / sum at the end. Rows past len repeat the last row (computed,
// never stored) so every loop has a fixed trip count and the accumulators stay in registers.
template <int NV, int RB, bool MASKED = false>
void attention_head_avx512(const float* q, const float* k, const float* v, size_t ld, size_t len,
                           float scale, float* out, size_t ld_out, float* scratch,
                           const AttentionMask* mask = nullptr) {
  static_assert(RB % 4 == 0 || RB < 4, "RB is 1, 2 or a multiple of 4");
  constexpr size_t dh = 16 * NV;
  const size_t lp = (len + 15) / 16 * 16;  // keys padded to whole vectors (zero keys)
  float* kt = scratch;
  float* vc = scratch + dh * lp;
  float* sc = scratch + 2 * dh * lp;  // [RB, lp]
  // K and V rows are ld floats apart in the packed QKV matrix (mostly outside L2): prefetch a
  // few rows ahead, the strided pattern defeats the hardware prefetcher.
  constexpr size_t kAhead = 6;
  for (size_t j = 0; j < std::min(len, kAhead); ++j) {
    for (size_t d = 0; d < dh; d += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(k + j * ld + d), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(v + j * ld + d), _MM_HINT_T0);
    }
  }
  for (size_t j = 0; j < len; ++j) {
    if (j + kAhead < len) {
#pragma GCC unroll 8
      for (size_t d = 0; d < dh; d += 16) {
        _mm_prefetch(reinterpret_cast<const char*>(k + (j + kAhead) * ld + d), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(v + (j + kAhead) * ld + d), _MM_HINT_T0);
      }
    }
    const float* kr = k + j * ld;
#pragma GCC unroll 16
    for (size_t d = 0; d < dh; ++d) kt[d * lp + j] = kr[d];
    std::memcpy(vc + j * dh, v + j * ld, dh * sizeof(float));
  }
  for (size_t d = 0; d < dh; ++d) {
    for (size_t j = len; j < lp; ++j) kt[d * lp + j] = 0.0f;
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  constexpr int QR = RB < 4 ? RB : 4;  // rows per score step
  for (size_t i0 = 0; i0 < len; i0 += RB) {
    const size_t rows = std::min<size_t>(RB, len - i0);
    float row_max[RB];
    float row_inv[RB];
    for (int g = 0; g < RB; g += QR) {
      const float* qr[QR];
#pragma GCC unroll 8
      for (int r = 0; r < QR; ++r) {
        qr[r] = q + (i0 + std::min<size_t>(static_cast<size_t>(g + r), rows - 1)) * ld;
      }
      __m512 vmax[QR];
#pragma GCC unroll 8
      for (int r = 0; r < QR; ++r) vmax[r] = _mm512_set1_ps(-INFINITY);
      size_t j0 = 0;
      for (; j0 + 64 <= lp; j0 += 64) {
        score_block<QR, 4, dh>(qr, kt + j0, lp, vscale, sc + g * lp + j0, lp, len - j0, vmax);
      }
      switch ((lp - j0) / 16) {
        case 1:
          score_block<QR, 1, dh>(qr, kt + j0, lp, vscale, sc + g * lp + j0, lp, len - j0, vmax);
          break;
        case 2:
          score_block<QR, 2, dh>(qr, kt + j0, lp, vscale, sc + g * lp + j0, lp, len - j0, vmax);
          break;
        case 3:
          score_block<QR, 3, dh>(qr, kt + j0, lp, vscale, sc + g * lp + j0, lp, len - j0, vmax);
          break;
        default:
          break;
      }
#pragma GCC unroll 8
      for (int r = 0; r < QR; ++r) row_max[g + r] = _mm512_reduce_max_ps(vmax[r]);
    }
    // exp in place over the real keys; zero the rest so P V can run over whole rows.
    size_t j_lo = 0, j_hi = len;  // keys any row of the block sees
    if constexpr (MASKED) {
      j_lo = len;
      j_hi = 0;
    }
    for (int r = 0; r < RB; ++r) {
      float* row = sc + r * lp;
      size_t lo = 0, hi = len;
      if constexpr (MASKED) {
        // The visible keys of this row's query, its bias by distance, and the max over them.
        const size_t i = i0 + std::min<size_t>(static_cast<size_t>(r), rows - 1);
        mask->range(i, len, &lo, &hi);
        if (mask->rel != nullptr) {
          const float* rel = mask->rel - static_cast<ptrdiff_t>(i);
          for (size_t j = lo; j < hi; ++j) row[j] += rel[j];
        }
        float mxv = -INFINITY;
        for (size_t j = lo; j < hi; ++j) mxv = std::max(mxv, row[j]);
        row_max[r] = mxv;
        j_lo = std::min(j_lo, lo);
        j_hi = std::max(j_hi, hi);
      }
      const __m512 mx = _mm512_set1_ps(row_max[r]);
      __m512 sum = _mm512_setzero_ps();
      for (size_t j = 0; j < len; j += 16) {
        __mmask16 m = tail_mask(len - j);
        if constexpr (MASKED) {
          m = j < hi ? static_cast<__mmask16>(m & tail_mask(hi - j)) : static_cast<__mmask16>(0);
          if (j < lo) m = static_cast<__mmask16>(m & ~tail_mask(lo - j));
        }
        __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_loadu_ps(row + j), mx)));
        sum = _mm512_add_ps(sum, e);
        _mm512_storeu_ps(row + j, e);
      }
      row_inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
    }
    // O_block = P V (unnormalized), then scaled per row.
    __m512 o[RB][NV];
#pragma GCC unroll 8
    for (int r = 0; r < RB; ++r) {
#pragma GCC unroll 8
      for (int c = 0; c < NV; ++c) o[r][c] = _mm512_setzero_ps();
    }
    for (size_t j = j_lo; j < j_hi; ++j) {
      __m512 vv[NV];
      const float* vr = vc + j * dh;
#pragma GCC unroll 8
      for (int c = 0; c < NV; ++c) vv[c] = _mm512_loadu_ps(vr + 16 * c);
#pragma GCC unroll 8
      for (int r = 0; r < RB; ++r) {
        const __m512 p = _mm512_set1_ps(sc[r * lp + j]);
#pragma GCC unroll 8
        for (int c = 0; c < NV; ++c) o[r][c] = _mm512_fmadd_ps(p, vv[c], o[r][c]);
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

#endif

}  // namespace

void attention_head(const float* q, const float* k, const float* v, size_t ld, size_t len,
                    size_t dh, float scale, float* out, size_t ld_out, float* scratch) {
#if defined(__AVX512F__)
  switch (dh) {
    case 16:
      return attention_head_avx512<1, 8>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 32:
      return attention_head_avx512<2, 8>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 48:
      return attention_head_avx512<3, 4>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 64:
      return attention_head_avx512<4, 4>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 80:
      return attention_head_avx512<5, 2>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 96:
      return attention_head_avx512<6, 2>(q, k, v, ld, len, scale, out, ld_out, scratch);
    case 128:
      return attention_head_avx512<8, 2>(q, k, v, ld, len, scale, out, ld_out, scratch);
    default:
      break;
  }
#endif
  attention_head_scalar(q, k, v, ld, len, dh, scale, out, ld_out, scratch);
}

void AttentionMask::range(size_t i, size_t len, size_t* lo, size_t* hi) const {
  *lo = 0;
  *hi = causal ? i + 1 : len;
  if (window >= 0) {
    const size_t w = static_cast<size_t>(window);
    *lo = i > w ? i - w : 0;
    *hi = std::min(*hi, i + w + 1);
  }
}

void attention_head_masked(const float* q, const float* k, const float* v, size_t ld, size_t len,
                           size_t dh, float scale, const AttentionMask& mask, float* out,
                           size_t ld_out, float* scratch) {
#if defined(__AVX512F__)
  const AttentionMask* m = &mask;
  switch (dh) {
    case 16:
      return attention_head_avx512<1, 8, true>(q, k, v, ld, len, scale, out, ld_out, scratch, m);
    case 32:
      return attention_head_avx512<2, 8, true>(q, k, v, ld, len, scale, out, ld_out, scratch, m);
    case 64:
      return attention_head_avx512<4, 4, true>(q, k, v, ld, len, scale, out, ld_out, scratch, m);
    case 128:
      return attention_head_avx512<8, 2, true>(q, k, v, ld, len, scale, out, ld_out, scratch, m);
    default:
      break;
  }
#endif
  // Reference path: any dh.
  float* s = scratch;
  for (size_t i = 0; i < len; ++i) {
    size_t lo = 0, hi = len;
    mask.range(i, len, &lo, &hi);
    for (size_t j = lo; j < hi; ++j) {
      float a = 0.0f;
      for (size_t d = 0; d < dh; ++d) a += q[i * ld + d] * k[j * ld + d];
      a *= scale;
      if (mask.rel != nullptr) a += mask.rel[static_cast<ptrdiff_t>(j) - static_cast<ptrdiff_t>(i)];
      s[j - lo] = a;
    }
    softmax(s, hi - lo);
    float* o = out + i * ld_out;
    for (size_t d = 0; d < dh; ++d) o[d] = 0.0f;
    for (size_t j = lo; j < hi; ++j) {
      for (size_t d = 0; d < dh; ++d) o[d] += s[j - lo] * v[j * ld + d];
    }
  }
}

void activation(float* x, size_t n, Activation act) {
  // Small vectors (Dense heads): the scalar libm forms, exact to the last bit or so.
  for (size_t i = 0; i < n; ++i) x[i] = scalar_act(x[i], act);
}

}  // namespace ej::engine::kernels
