// Elementwise and row kernels of the encoder forward pass: fused bias + activation, fused
// bias + residual + LayerNorm, softmax. AVX-512 when the compiler targets it (__AVX512F__),
// scalar otherwise; both compute in f32 with accurate exp/erf (abs error ~1e-7).
// Thread-safety: stateless functions; the *_rows variants split rows over `threads` OpenMP
// threads, the others run on the calling thread.
#pragma once

#include <cstddef>
#include <cstdint>

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

// Attention of one head of one sequence: out[i, :] = softmax(scale * q_i K^T) V for i < len.
// q, k, v: rows of dh floats, ld floats apart (the packed QKV matrix); out rows ld_out apart.
// scratch: attention_scratch_floats(len, dh) floats (64-byte aligned). Any dh works; dh a
// multiple of 16 up to 128 takes the AVX-512 path.
size_t attention_scratch_floats(size_t len, size_t dh);
void attention_head(const float* q, const float* k, const float* v, size_t ld, size_t len,
                    size_t dh, float scale, float* out, size_t ld_out, float* scratch);

// Gated FFN (SwiGLU / GeGLU): out[r, c] = act(u[r, c]) * u[r, ff + c] for r < rows, c < ff;
// u rows are 2 ff floats, out rows ff floats.
void gated_activation_rows(const float* u, size_t rows, size_t ff, float* out, Activation act,
                           int threads);

// Which keys a query sees, and an additive bias by distance: query i attends keys [lo, hi) with
// hi = i + 1 when causal (else len), and |i - j| <= window when window >= 0; rel (optional)
// points at the bias of distance 0, rel[j - i] added to the scaled score.
struct AttentionMask {
  bool causal = false;
  int64_t window = -1;
  const float* rel = nullptr;
  void range(size_t i, size_t len, size_t* lo, size_t* hi) const;
};

// attention_head with a mask (same scratch); AVX-512 for dh 16 / 32 / 64 / 128.
void attention_head_masked(const float* q, const float* k, const float* v, size_t ld, size_t len,
                           size_t dh, float scale, const AttentionMask& mask, float* out,
                           size_t ld_out, float* scratch);

// In-place activation of n values.
void activation(float* x, size_t n, Activation act);

}  // namespace ej::engine::kernels
