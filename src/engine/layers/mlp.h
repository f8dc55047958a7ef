// Mlp: the feed-forward part of a block per an MlpSpec. Plain: down(act(up(x))) with the bias
// and activation fused into the up GEMM (oneDNN post-op) or, when not fusable, run by our
// kernel. Gated (SwiGLU / GeGLU): one GEMM for [gate; value], act(gate) * value, then down.
// The down projection is added onto the residual or written out, as the block asks.
// Thread-safety: immutable after load(); forward() is const (one workspace per call).
#pragma once

#include <dnnl.hpp>
#include <string>

#include "engine/layers/batch.h"
#include "engine/linear.h"
#include "engine/models/arch_spec.h"
#include "engine/weights.h"

namespace ej::engine {

class Mlp {
 public:
  // fuse_act: run a plain MLP's activation as a oneDNN post-op when it can.
  void load(WeightReader& r, const dnnl::engine& eng, const MlpSpec& spec,
            const std::string& prefix, int64_t hidden, Linear::Epilogue down_epilogue,
            bool fuse_act, ComputeDType dtype);
  int64_t up_width() const { return up_width_; }
  int64_t ff() const { return spec_.gated ? up_width_ / 2 : up_width_; }

  void forward(const float* in, float* out, const BatchContext& bc, EncoderWorkspace* ws,
               ForwardStats* st) const;

 private:
  MlpSpec spec_;
  bool fused_ = false;
  int64_t up_width_ = 0;
  Linear up_, down_;
  AlignedBuffer up_bias_;  // plain MLP with an unfused activation
};

}  // namespace ej::engine
