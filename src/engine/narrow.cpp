#include "engine/narrow.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#if defined(__AVX512F__) && defined(__AVX512BW__)
// GCC 12 reports its own _mm512_undefined_* temporaries inside the intrinsics headers as "maybe
// uninitialized" (false positive); silenced for these headers only, as in kernels.cpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define EJ_NARROW_AVX512 1
#endif

namespace ej::engine::narrow {

namespace {

void bf16_row(const float* x, size_t n, uint16_t* o) {
  size_t c = 0;
#if defined(EJ_NARROW_AVX512)
  for (; c + 16 <= n; c += 16) {
    const __m512 v = _mm512_loadu_ps(x + c);
#if defined(__AVX512BF16__)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + c),
                        reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
#else
    // Round to nearest even on the bit pattern; NaNs are quieted as f32_to_bf16 does.
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_mov_epi32(r, nan,
                              _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + c), _mm512_cvtepi32_epi16(r));
#endif
  }
#endif
  for (; c < n; ++c) o[c] = f32_to_bf16(x[c]);
}

float max_abs(const float* x, size_t n) {
  size_t c = 0;
  float m = 0.0f;
#if defined(EJ_NARROW_AVX512)
  __m512 vm = _mm512_setzero_ps();
  for (; c + 16 <= n; c += 16) vm = _mm512_max_ps(vm, _mm512_abs_ps(_mm512_loadu_ps(x + c)));
  m = _mm512_reduce_max_ps(vm);
#endif
  for (; c < n; ++c) m = std::max(m, std::fabs(x[c]));
  return m;
}

// Quantizes one row; returns the sum of its s8 values.
int32_t s8_row(const float* x, size_t n, float inv, int8_t* q) {
  size_t c = 0;
  int32_t sum = 0;
#if defined(EJ_NARROW_AVX512)
  const __m512 vi = _mm512_set1_ps(inv);
  __m512i vsum = _mm512_setzero_si512();
  for (; c + 16 <= n; c += 16) {
    // Nearest, ties to even (the MXCSR default), saturated to [-128, 127]; |x * inv| <= 127.
    const __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + c), vi));
    vsum = _mm512_add_epi32(vsum, r);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + c), _mm512_cvtsepi32_epi8(r));
  }
  sum = _mm512_reduce_add_epi32(vsum);
#endif
  for (; c < n; ++c) {
    q[c] = static_cast<int8_t>(std::clamp(std::nearbyint(x[c] * inv), -127.0f, 127.0f));
    sum += q[c];
  }
  return sum;
}

}  // namespace

void to_bf16_rows(const float* x, size_t rows, size_t cols, uint16_t* out, int threads) {
  const int64_t n = static_cast<int64_t>(rows);
#pragma omp parallel for num_threads(threads) schedule(static) if (rows > 16)
  for (int64_t r = 0; r < n; ++r) {
    bf16_row(x + static_cast<size_t>(r) * cols, cols, out + static_cast<size_t>(r) * cols);
  }
}

void quantize_rows_s8(const float* x, size_t rows, size_t cols, int8_t* q, float* scale,
                      int threads, int32_t* row_sum) {
  const int64_t n = static_cast<int64_t>(rows);
#pragma omp parallel for num_threads(threads) schedule(static) if (rows > 16)
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + static_cast<size_t>(r) * cols;
    const float m = max_abs(xr, cols);
    const float s = m > 0.0f ? m / 127.0f : 1.0f;
    const int32_t sum = s8_row(xr, cols, 1.0f / s, q + static_cast<size_t>(r) * cols);
    scale[r] = s;
    if (row_sum != nullptr) row_sum[r] = sum;
  }
}

}  // namespace ej::engine::narrow
