// Vector math shared by the engine's AVX-512 kernels (kernels.cpp, narrow_gemm.cpp,
// attention_bf16.cpp): e^x, erf, the activations on 16 floats at a time, tail masks, and the
// attention kernels' scaled-score store. Header-only (inline) so that each kernel
// keeps them in registers inside its own loops.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>

#include "engine/model_spec.h"

#if defined(__AVX512F__)
// GCC 12 reports its own _mm512_undefined_ps() temporaries inside the intrinsics headers as
// "maybe uninitialized" (false positive); silence it for these headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace ej::engine::simd {

constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): erf(x) = 1 - poly(t) e^{-x^2},
// t = 1 / (1 + p x), x >= 0; odd symmetry for x < 0.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f;
constexpr float kErfA2 = -0.284496736f;
constexpr float kErfA3 = 1.421413741f;
constexpr float kErfA4 = -1.453152027f;
constexpr float kErfA5 = 1.061405429f;

#if defined(__AVX512F__)

inline __mmask16 tail_mask(size_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
}

// e^x: x = n ln2 + r, |r| <= ln2/2, degree-7 Taylor for e^r (rel. error < 1e-8), scaled by 2^n.
inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// 1 / d for d >= 1: the 14-bit estimate and one Newton step (relative error ~1e-8, below the
// f32 rounding that follows), a few times cheaper than a 512-bit divide.
inline __m512 recip_ge1_512(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

inline __m512 erf512(__m512 x) {
  __m512 ax = _mm512_abs_ps(x);
  __m512 t = recip_ge1_512(_mm512_fmadd_ps(_mm512_set1_ps(kErfP), ax, _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(kErfA5);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kErfA4));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kErfA3));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kErfA2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kErfA1));
  p = _mm512_mul_ps(p, t);
  __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(ax, ax)));
  __m512 y = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
  // copy the sign of x
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  return _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(y), _mm512_and_si512(_mm512_castps_si512(x), sign)));
}

// x / (1 + e^{-k x}) style: x * sigmoid(z)
inline __m512 mul_sigmoid512(__m512 x, __m512 z) {
  __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), z));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline __m512 act512(__m512 x, Activation act) {
  switch (act) {
    case Activation::kGeluErf: {
      __m512 e = erf512(_mm512_mul_ps(x, _mm512_set1_ps(kSqrtHalf)));
      return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x),
                           _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    }
    case Activation::kGeluTanh: {
      // 0.5 x (1 + tanh(u)) == x * sigmoid(2u)
      __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
      __m512 u = _mm512_mul_ps(_mm512_set1_ps(kSqrt2OverPi),
                               _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
      return mul_sigmoid512(x, _mm512_add_ps(u, u));
    }
    case Activation::kQuickGelu:
      return mul_sigmoid512(x, _mm512_mul_ps(_mm512_set1_ps(1.702f), x));
    case Activation::kRelu:
      return _mm512_max_ps(x, _mm512_setzero_ps());
    case Activation::kSilu:
      return mul_sigmoid512(x, x);
    case Activation::kSigmoid:
      return mul_sigmoid512(_mm512_set1_ps(1.0f), x);
    case Activation::kTanh: {
      // tanh(x) = 2 sigmoid(2x) - 1
      __m512 s = mul_sigmoid512(_mm512_set1_ps(2.0f), _mm512_add_ps(x, x));
      return _mm512_sub_ps(s, _mm512_set1_ps(1.0f));
    }
    case Activation::kIdentity:
      return x;
  }
  return x;
}

// Attention scores of QR query rows x 16 NC keys: out[r, 16 c + i] = scale * acc[r][c][i], and
// each row's running max over its first `left` keys (the real ones) folded into vmax[r].
template <int QR, int NC>
__attribute__((always_inline)) inline void store_scaled_scores(const __m512 (&acc)[QR][NC],
                                                               __m512 vscale, float* out,
                                                               size_t ldo, size_t left,
                                                               __m512* vmax) {
#pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) {
    const size_t col = 16 * static_cast<size_t>(c);
    const __mmask16 m = col >= left ? 0 : tail_mask(left - col);
#pragma GCC unroll 8
    for (int r = 0; r < QR; ++r) {
      const __m512 x = _mm512_mul_ps(acc[r][c], vscale);
      vmax[r] = _mm512_mask_max_ps(vmax[r], m, vmax[r], x);
      _mm512_storeu_ps(out + r * ldo + col, x);
    }
  }
}

#endif  // __AVX512F__

}  // namespace ej::engine::simd
