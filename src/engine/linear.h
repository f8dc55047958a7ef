// Linear: y[M, out] = epilogue(x[M, in] W^T + b) through oneDNN's matmul primitive, with W
// reordered ONCE at load into the blocked layout the matmul kernel wants (no per-call packing),
// the bias and the activation fused into the GEMM, or the result added onto y (residual).
// M (the packed token count) varies per batch: primitives are created per M (about 0.1 ms)
// and cached. Scratch memory is passed by the caller (user scratchpad mode), so one Linear can
// run from several threads at once.
// Thread-safety: init() once; run() is const and thread-safe (the cache is mutex-guarded).
#pragma once

#include <cstdint>
#include <dnnl.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "engine/aligned_buffer.h"
#include "engine/model_spec.h"

namespace ej::engine {

class Linear {
 public:
  enum class Epilogue { kNone, kActivation, kAccumulate };

  // w: [out, in] row-major (PyTorch nn.Linear layout), b: [out] or null. Copies what it needs.
  void init(const dnnl::engine& eng, const float* w, const float* b, int64_t in, int64_t out,
            Epilogue epilogue, Activation act = Activation::kIdentity);

  // rows >= 1; x: rows * in floats, y: rows * out floats (read too when kAccumulate).
  // scratch grows as needed; one per calling thread.
  void run(const float* x, int64_t rows, float* y, AlignedBuffer* scratch) const;

  int64_t in() const { return in_; }
  int64_t out() const { return out_; }

  // True if the activation can be fused as a oneDNN post-op.
  static bool fusable(Activation act);

 private:
  struct Prim {
    dnnl::matmul mm;
    size_t scratch_bytes = 0;
  };
  std::shared_ptr<const Prim> prim(int64_t rows) const;

  dnnl::engine eng_;
  dnnl::memory weights_;  // packed
  dnnl::memory bias_;
  dnnl::memory::desc weights_desc_;
  AlignedBuffer bias_data_;
  int64_t in_ = 0, out_ = 0;
  Epilogue epilogue_ = Epilogue::kNone;
  Activation act_ = Activation::kIdentity;
  bool has_bias_ = false;
  mutable std::mutex mu_;
  mutable std::unordered_map<int64_t, std::shared_ptr<const Prim>> cache_;
};

}  // namespace ej::engine
