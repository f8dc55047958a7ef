// Attention: multi-head self-attention over a packed batch, per an AttentionSpec: one fused QKV
// GEMM (q rows, then k, then v; biases on or off), optional per-head q / k norms, RoPE,
// grouped-query heads, bidirectional or causal masking, a symmetric or causal sliding window,
// an additive relative position bias (by distance j - i), then the output projection (added
// onto the residual, or written out, as the block asks). Attention itself runs per (sequence,
// head), so no work is spent on padding and a sequence's result does not depend on its batch.
// In the bf16 and int8 compute modes the unmasked heads take the bf16-product kernel
// (engine/attention_bf16.h) where the build has it; fp32 and masked heads stay f32.
// Thread-safety: immutable after load(); forward() is const (one workspace per call).
#pragma once

#include <dnnl.hpp>
#include <string>
#include <vector>

#include "engine/layers/batch.h"
#include "engine/layers/norm.h"
#include "engine/layers/rope.h"
#include "engine/linear.h"
#include "engine/models/arch_spec.h"
#include "engine/weights.h"

namespace ej::engine {

// Loads a LinearSpec (weights concatenated along the output dimension; rows 0 = take the
// tensor's own first dimension) into lin. Returns the total output rows.
int64_t load_linear(WeightReader& r, const dnnl::engine& eng, const LinearSpec& spec,
                    const std::string& prefix, int64_t in, Linear::Epilogue ep, Activation act,
                    ComputeDType dtype, Linear* lin, AlignedBuffer* keep_bias = nullptr);

class Attention {
 public:
  // o_epilogue: kAccumulate adds the output onto `out`, kNone overwrites it.
  void load(WeightReader& r, const dnnl::engine& eng, const AttentionSpec& spec,
            const std::string& prefix, int64_t hidden, Linear::Epilogue o_epilogue,
            ComputeDType dtype);

  int64_t qkv_width() const { return (spec_.num_heads + 2 * spec_.num_kv_heads) * spec_.head_dim; }
  int64_t q_width() const { return static_cast<int64_t>(spec_.num_heads) * spec_.head_dim; }
  const AttentionSpec& spec() const { return spec_; }

  // in: [T, hidden]; out: [T, hidden]. rope: the table for spec().rope (or null); rel: the
  // relative bias [heads, 2 max_len - 1] by distance (or null).
  void forward(const float* in, float* out, const BatchContext& bc, const Rope* rope,
               const float* rel, EncoderWorkspace* ws, ForwardStats* st) const;

  // Scratch floats per thread for sequences up to len.
  size_t scratch_floats(size_t len) const;

 private:
  AttentionSpec spec_;
  Linear qkv_, o_;
  Norm q_norm_, k_norm_;
  bool bf16_products_ = false;  // unmasked heads on kernels::attention_head_bf16
};

}  // namespace ej::engine
