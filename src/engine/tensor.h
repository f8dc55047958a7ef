// TensorView: a non-owning view of a weight tensor in its STORED dtype (f32 / f16 / bf16, later
// int8), e.g. straight into a safetensors mapping. Layers that can compute from the stored dtype
// keep a view instead of an f32 copy (the embedding table: rows are widened on lookup); the
// bf16 / int8 compute modes of the speed issue hang their packed formats off the same dtype.
// Thread-safety: plain data; const access from any thread while the viewed memory lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/safetensors.h"

namespace ej::engine {

using DType = TensorDType;

struct TensorView {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;

  bool empty() const { return data == nullptr; }
  size_t numel() const {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
  size_t element_bytes() const { return dtype == DType::kF32 ? 4 : 2; }
  // Row r of a 2-D tensor widened exactly to f32 (shape[1] floats into out).
  void row_f32(int64_t r, float* out) const;
};

}  // namespace ej::engine
