#include "engine/layers/norm.h"

#include <cmath>
#include <cstring>

#include "engine/kernels.h"

namespace ej::engine {

void Norm::load(WeightReader& r, const NormSpec& spec, const std::string& prefix, int64_t dim) {
  spec_ = spec;
  present_ = spec.present();
  dim_ = dim;
  if (!present_) return;
  const bool ok = r.read(prefix + spec.name + ".weight", {dim}, &w_);
  b_.reserve(static_cast<size_t>(dim));
  std::memset(b_.data(), 0, static_cast<size_t>(dim) * sizeof(float));
  if (spec.kind == NormSpec::kLayerNorm && spec.bias) {
    r.read(prefix + spec.name + ".bias", {dim}, &b_);
  }
  if (ok && spec.plus_one) {
    // Gemma: (1 + w) computed in f32, as transformers does before the multiply.
    for (int64_t c = 0; c < dim; ++c) w_.data()[c] = 1.0f + w_.data()[c];
  }
}

void Norm::row(float* x) const {
  const float* w = w_.data();
  // RMSNorm: x * rsqrt(mean(x^2) + eps) * w, the mean accumulated in double.
  double ss = 0;
  for (int64_t c = 0; c < dim_; ++c) ss += static_cast<double>(x[c]) * x[c];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(dim_) + spec_.eps));
  for (int64_t c = 0; c < dim_; ++c) x[c] = w[c] * (x[c] * inv);
}

void Norm::apply(float* x, size_t rows, int threads) const {
  if (spec_.kind == NormSpec::kLayerNorm) {
    kernels::layernorm_rows(x, w_.data(), b_.data(), spec_.eps, rows, static_cast<size_t>(dim_),
                            threads);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * dim_ > 32768)
  for (size_t t = 0; t < rows; ++t) row(x + t * static_cast<size_t>(dim_));
}

void Norm::apply_heads(float* x, size_t tokens, size_t ld, size_t heads, int threads) const {
  if (spec_.kind == NormSpec::kLayerNorm) {
#pragma omp parallel for num_threads(threads) schedule(static) if (tokens * heads * dim_ > 32768)
    for (size_t t = 0; t < tokens; ++t) {
      kernels::layernorm_rows(x + t * ld, w_.data(), b_.data(), spec_.eps, heads,
                              static_cast<size_t>(dim_), 1);
    }
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static) if (tokens * heads * dim_ > 32768)
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t h = 0; h < heads; ++h) row(x + t * ld + h * static_cast<size_t>(dim_));
  }
}

}  // namespace ej::engine
