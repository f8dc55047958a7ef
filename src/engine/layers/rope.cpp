#include "engine/layers/rope.h"

#include <cmath>

namespace ej::engine {

void Rope::init(const RopeSpec& spec, int64_t max_len) {
  spec_ = spec;
  max_len_ = max_len;
  const int64_t half = spec.rotary_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t k = 0; k < half; ++k) {
    const float e = static_cast<float>(2 * k) / static_cast<float>(spec.rotary_dim);
    inv[static_cast<size_t>(k)] =
        1.0f / std::pow(static_cast<float>(spec.theta), e);  // f32, as torch
  }
  cos_.resize(static_cast<size_t>(max_len * half));
  sin_.resize(static_cast<size_t>(max_len * half));
  for (int64_t p = 0; p < max_len; ++p) {
    for (int64_t k = 0; k < half; ++k) {
      const float a = static_cast<float>(p) * inv[static_cast<size_t>(k)];
      cos_[static_cast<size_t>(p * half + k)] = std::cos(a);
      sin_[static_cast<size_t>(p * half + k)] = std::sin(a);
    }
  }
}

void Rope::apply(float* x, size_t tokens, size_t ld, size_t heads, size_t head_dim,
                 const int32_t* pos, int threads) const {
  const size_t half = static_cast<size_t>(spec_.rotary_dim / 2);
  const bool inter = spec_.interleaved;
#pragma omp parallel for num_threads(threads) schedule(static) if (tokens * heads > 4096)
  for (size_t t = 0; t < tokens; ++t) {
    const float* c = cos_.data() + static_cast<size_t>(pos[t]) * half;
    const float* s = sin_.data() + static_cast<size_t>(pos[t]) * half;
    for (size_t h = 0; h < heads; ++h) {
      float* v = x + t * ld + h * head_dim;
      for (size_t k = 0; k < half; ++k) {
        const size_t i0 = inter ? 2 * k : k;
        const size_t i1 = inter ? 2 * k + 1 : k + half;
        const float a = v[i0], b = v[i1];
        v[i0] = a * c[k] - b * s[k];
        v[i1] = b * c[k] + a * s[k];
      }
    }
  }
}

}  // namespace ej::engine
