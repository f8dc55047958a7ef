#include "engine/layers/mlp.h"

#include <chrono>
#include <cstring>

#include "engine/kernels.h"
#include "engine/layers/attention.h"

namespace ej::engine {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void Mlp::load(WeightReader& r, const dnnl::engine& eng, const MlpSpec& spec,
               const std::string& prefix, int64_t hidden, Linear::Epilogue down_epilogue,
               bool fuse_act, ComputeDType dtype) {
  spec_ = spec;
  fused_ = !spec.gated && fuse_act && Linear::fusable(spec.act);
  if (spec.gated) {
    up_width_ = load_linear(r, eng, spec.up, prefix, hidden, Linear::Epilogue::kNone,
                            Activation::kIdentity, dtype, &up_);
  } else if (fused_) {
    up_width_ = load_linear(r, eng, spec.up, prefix, hidden, Linear::Epilogue::kActivation,
                            spec.act, dtype, &up_);
  } else {
    up_width_ = load_linear(r, eng, spec.up, prefix, hidden, Linear::Epilogue::kNone,
                            Activation::kIdentity, dtype, &up_, &up_bias_);
  }
  load_linear(r, eng, spec.down, prefix, ff(), down_epilogue, Activation::kIdentity, dtype, &down_);
}

void Mlp::forward(const float* in, float* out, const BatchContext& bc, EncoderWorkspace* ws,
                  ForwardStats* st) const {
  using clock = std::chrono::steady_clock;
  const int64_t T = bc.tokens;
  const int64_t FF = ff();
  float* up = ws->big.data();
  auto t1 = clock::now();
  up_.run(in, T, up, &ws->gemm_scratch);
  st->gemm_s += seconds_since(t1);
  const float* down_in = up;
  t1 = clock::now();
  if (spec_.gated) {
    float* g = ws->inter.data();
    kernels::gated_activation_rows(up, static_cast<size_t>(T), static_cast<size_t>(FF), g,
                                   spec_.act, bc.threads);
    down_in = g;
  } else if (!fused_) {
    kernels::bias_activation_rows(up, static_cast<size_t>(T), static_cast<size_t>(FF),
                                  static_cast<size_t>(FF), up_bias_.data(), spec_.act, bc.threads);
  }
  st->other_s += seconds_since(t1);
  t1 = clock::now();
  down_.run(down_in, T, out, &ws->gemm_scratch);
  st->gemm_s += seconds_since(t1);
}

}  // namespace ej::engine
