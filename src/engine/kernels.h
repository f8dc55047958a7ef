// Elementwise and row kernels of the encoder forward pass: fused bias + activation, fused
// bias + residual + LayerNorm, softmax. AVX-512 when the compiler targets it (__AVX512F__),
// scalar otherwise; both compute in f32 with accurate exp/erf (abs error ~1e-7).
// Thread-safety: stateless functions; the *_rows variants split rows over `threads` OpenMP
// threads, the others run on the calling thread.
#pragma once

#include <cstddef>

#include "engine/model_spec.h"

namespace ej::engine::kernels {

// x[r, c] = act(x[r, c] + bias[c]) for r < rows, c < cols; rows are ld floats apart.
void bias_activation_rows(float* x, size_t rows, size_t cols, size_t ld, const float* bias,
                          Activation act, int threads);

// x[r, c] += bias[c].
void add_bias_rows(float* x, size_t rows, size_t cols, size_t ld, const float* bias, int threads);

// x = LayerNorm(y + bias + x) * gamma + beta, row by row (x holds the residual on entry).
void bias_residual_layernorm_rows(const float* y, const float* bias, float* x, const float* gamma,
                                  const float* beta, float eps, size_t rows, size_t cols,
                                  int threads);

// x = LayerNorm(x) * gamma + beta, row by row.
void layernorm_rows(float* x, const float* gamma, const float* beta, float eps, size_t rows,
                    size_t cols, int threads);

// In-place softmax of one row of n values.
void softmax(float* x, size_t n);

// In-place activation of n values.
void activation(float* x, size_t n, Activation act);

}  // namespace ej::engine::kernels
