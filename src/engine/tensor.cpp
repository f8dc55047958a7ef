#include "engine/tensor.h"

#include <cstring>

namespace ej::engine {

void TensorView::row_f32(int64_t r, float* out) const {
  const int64_t cols = shape.size() > 1 ? shape[1] : shape[0];
  const size_t off = static_cast<size_t>(r * cols);
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, static_cast<const float*>(data) + off, static_cast<size_t>(cols) * 4);
      return;
    case DType::kF16: {
      const uint16_t* p = static_cast<const uint16_t*>(data) + off;
      for (int64_t c = 0; c < cols; ++c) out[c] = f16_to_f32(p[c]);
      return;
    }
    case DType::kBF16: {
      const uint16_t* p = static_cast<const uint16_t*>(data) + off;
      for (int64_t c = 0; c < cols; ++c) out[c] = bf16_to_f32(p[c]);
      return;
    }
    default:
      return;
  }
}

}  // namespace ej::engine
