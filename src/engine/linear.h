// Linear: y[M, out] = epilogue(x[M, in] W^T + b) through oneDNN's matmul primitive, with W
// reordered ONCE at load into the blocked layout the matmul kernel wants (no per-call packing),
// the bias and the activation fused into the GEMM, or the result added onto y (residual).
// Compute modes (ComputeDType, per model):
//   fp32  f32 weights and inputs.
//   bf16  W stored as bf16 only; x is rounded to bf16 (nearest-even) into the caller's scratch
//         at the GEMM input; f32 accumulation and output. On AVX512_BF16 (no AMX) our kernel
//         (engine/narrow_gemm.h) runs it; elsewhere (or Backend::kOneDnn) oneDNN's matmul
//         (AMX-BF16 / AVX512_BF16 kernels).
//   int8  W stored as s8 only, with a symmetric scale per output channel (max |w| / 127); each
//         row of x is quantized to s8 with its own dynamic scale (max |x_row| / 127); s32
//         accumulation, dequantized in the epilogue, then bias, residual and activation in
//         f32. On AVX512-VNNI (no AMX) our kernel (engine/narrow_gemm.h) runs it, faster than
//         oneDNN 2.6 on these shapes; elsewhere (or Backend::kOneDnn) oneDNN's matmul, with
//         output scales per channel x a per-row binary multiply (VNNI / AMX-INT8).
// The interface is f32 in / f32 out in every mode: the layers around the GEMMs (norms, softmax,
// attention, pooling) stay f32.
// M (the packed token count) varies per batch: primitives are created per M (about 0.1 ms)
// and cached. Scratch memory is passed by the caller (user scratchpad mode, plus the narrowed
// input), so one Linear can run from several threads at once.
// Thread-safety: init() once; run() is const and thread-safe (the cache is mutex-guarded).
#pragma once

#include <cstdint>
#include <dnnl.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "engine/aligned_buffer.h"
#include "engine/embedder.h"
#include "engine/model_spec.h"
#include "engine/narrow_gemm.h"

namespace ej::engine {

class Linear {
 public:
  enum class Epilogue { kNone, kActivation, kAccumulate };
  // kAuto: our bf16 / int8 kernel where it applies, else oneDNN; kOneDnn: always oneDNN (the
  // benchmark's GEMM ceiling is oneDNN's).
  enum class Backend { kAuto, kOneDnn };

  // w: [out, in] row-major f32 (PyTorch nn.Linear layout), b: [out] or null. Keeps W only in
  // the compute dtype (packed); w itself may be freed afterwards.
  void init(const dnnl::engine& eng, const float* w, const float* b, int64_t in, int64_t out,
            Epilogue epilogue, Activation act = Activation::kIdentity,
            ComputeDType dtype = ComputeDType::kF32, Backend backend = Backend::kAuto);

  // rows >= 1; x: rows * in floats, y: rows * out floats (read too when kAccumulate).
  // scratch grows as needed; one per calling thread.
  void run(const float* x, int64_t rows, float* y, AlignedBuffer* scratch) const;

  // run() in its two steps, for the benchmark's GEMM ceiling (the matmul alone):
  // narrowed_bytes(rows) bytes at `narrowed` (64-byte aligned) get x in the compute dtype
  // (bf16, or s8 + the f32 row scales; nothing for fp32), then matmul() runs the primitive on
  // them (on x itself for fp32) with scratchpad_bytes(rows) bytes of oneDNN scratchpad.
  size_t narrowed_bytes(int64_t rows) const;
  size_t scratchpad_bytes(int64_t rows) const;
  void narrow_input(const float* x, int64_t rows, void* narrowed) const;
  void matmul(const float* x, const void* narrowed, int64_t rows, float* y, void* scratchpad) const;

  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  ComputeDType dtype() const { return dtype_; }
  // Bytes of the packed weights (the only copy of W kept).
  size_t weight_bytes() const;

  // True if the activation can be fused as a oneDNN post-op.
  static bool fusable(Activation act);

 private:
  struct Prim {
    dnnl::matmul mm;
    size_t scratch_bytes = 0;
  };
  std::shared_ptr<const Prim> prim(int64_t rows) const;

  dnnl::engine eng_;
  dnnl::memory weights_;  // packed, in the compute dtype
  dnnl::memory bias_;
  dnnl::memory::desc weights_desc_;
  AlignedBuffer bias_data_;
  std::vector<float> w_scales_;  // int8: per output channel
  int64_t in_ = 0, out_ = 0;
  Epilogue epilogue_ = Epilogue::kNone;
  Activation act_ = Activation::kIdentity;
  ComputeDType dtype_ = ComputeDType::kF32;
  bool has_bias_ = false;
  bool own_gemm_ = false;  // bf16 / int8 on own_ instead of oneDNN
  NarrowGemm own_;
  mutable std::mutex mu_;
  mutable std::unordered_map<int64_t, std::shared_ptr<const Prim>> cache_;
};

}  // namespace ej::engine
