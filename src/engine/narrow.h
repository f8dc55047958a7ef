// Narrowing of f32 matrices into the GEMM input types of the bf16 / int8 compute modes
// (engine/linear.h): bf16 by round-to-nearest-even, s8 by a symmetric scale per row.
// Thread-safety: pure functions; the *_rows ones split rows over `threads` OpenMP threads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ej::engine::narrow {

// One f32 -> bf16 bit pattern, round to nearest even (NaN stays NaN).
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

// out[i] = bf16(x[i]) for n = rows * cols values.
void to_bf16_rows(const float* x, size_t rows, size_t cols, uint16_t* out, int threads);

// Per row r: scale[r] = max |x[r, :]| / 127 (1 when the row is all zero), and
// q[r, c] = round(x[r, c] / scale[r]) (nearest, ties to even) in [-127, 127]; and, when
// row_sum is given, row_sum[r] = sum_c q[r, c] (engine/narrow_gemm.h needs it).
void quantize_rows_s8(const float* x, size_t rows, size_t cols, int8_t* q, float* scale,
                      int threads, int32_t* row_sum = nullptr);

// Symmetric per-row quantization of a weight matrix w [rows, cols] (row = output channel), as
// quantize_rows_s8 but single-threaded (load time).
inline void quantize_weights_s8(const float* w, size_t rows, size_t cols, int8_t* q, float* scale) {
  quantize_rows_s8(w, rows, cols, q, scale, 1);
}

}  // namespace ej::engine::narrow
