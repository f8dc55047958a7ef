// Attention of one head with bf16 products (the bf16 and int8 compute modes; fp32 keeps
// kernels::attention_head): out[i, :] = softmax(scale * q_i K^T) V, as kernels::attention_head,
// but q, K, the probabilities and V are rounded to bf16 and the two products run on
// AVX512_BF16's VDPBF16PS (two multiply-adds per f32 lane, f32 accumulation): half the
// instructions of the f32 kernel. Scores, the row max, exp, the row sum and the output stay f32.
// Thread-safety: pure function; one scratch per calling thread.
#pragma once

#include <cstddef>

namespace ej::engine::kernels {

// True if this build has the kernel (AVX512_BF16) for head width dh (a multiple of 16, <= 128).
bool attention_bf16_supported(size_t dh);

// Same arguments and scratch (attention_scratch_floats(len, dh) floats, 64-byte aligned) as
// kernels::attention_head; only call it when attention_bf16_supported(dh).
void attention_head_bf16(const float* q, const float* k, const float* v, size_t ld, size_t len,
                         size_t dh, float scale, float* out, size_t ld_out, float* scratch);

}  // namespace ej::engine::kernels
