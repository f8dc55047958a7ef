#include "engine/layers/pooling.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "engine/kernels.h"
#include "engine/weights.h"

namespace ej::engine {

void SentenceHead::load(const EncoderSpec& spec, const dnnl::engine& eng, ComputeDType dtype,
                        std::vector<std::string>* problems) {
  spec_ = &spec;
  dense_.clear();
  for (const DenseSpec& d : spec.dense) {
    auto lin = std::make_unique<Linear>();
    try {
      std::vector<SafetensorsFile> df;
      df.push_back(SafetensorsFile::open(d.dir / "model.safetensors"));
      WeightReader dr(std::move(df));
      AlignedBuffer w, b;
      dr.read("linear.weight", {d.out_features, d.in_features}, &w);
      if (d.bias) dr.read("linear.bias", {d.out_features}, &b);
      for (auto& p : dr.problems()) problems->push_back(d.dir.filename().string() + ": " + p);
      if (dr.problems().empty()) {
        const bool fused = Linear::fusable(d.activation);
        lin->init(eng, w.data(), d.bias ? b.data() : nullptr, d.in_features, d.out_features,
                  fused ? Linear::Epilogue::kActivation : Linear::Epilogue::kNone,
                  fused ? d.activation : Activation::kIdentity, dtype);
      }
    } catch (const Error& err) {
      problems->push_back(err.what());
    }
    dense_.push_back(std::move(lin));
  }
}

void SentenceHead::run(const PackedBatch& batch, const float* x, EncoderWorkspace* ws,
                       float* embeddings) const {
  const EncoderSpec& s = *spec_;
  const PoolingSpec& P = s.pooling;
  const size_t n = batch.size();
  const int64_t H = s.hidden_size;
  const int32_t base = batch.offsets[0];
  int64_t width = H * std::max(1, P.num_modes());
  for (const DenseSpec& d : s.dense) width = std::max<int64_t>(width, d.out_features);
  ws->pooled.reserve(static_cast<size_t>(n * width));
  ws->pooled2.reserve(static_cast<size_t>(n * width));
  float* pooled = ws->pooled.data();
  std::vector<double> acc(static_cast<size_t>(H));
  int64_t dims = H * std::max(1, P.num_modes());
  for (size_t i = 0; i < n; ++i) {
    const float* rows = x + static_cast<int64_t>(batch.offsets[i] - base) * H;
    const int64_t len = batch.offsets[i + 1] - batch.offsets[i];
    int64_t skip = 0;
    if (!P.include_prompt && !batch.prompt_tokens.empty()) {
      skip = std::min<int64_t>(batch.prompt_tokens[i], len - 1);
    }
    float* out = pooled + static_cast<int64_t>(i) * dims;
    if (P.cls) {
      std::memcpy(out, rows, static_cast<size_t>(H) * sizeof(float));
      out += H;
    }
    if (P.max) {
      for (int64_t c = 0; c < H; ++c) {
        float m = -1e9f;
        for (int64_t t = skip; t < len; ++t) m = std::max(m, rows[t * H + c]);
        out[c] = m;
      }
      out += H;
    }
    if (P.mean || P.mean_sqrt_len) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t t = skip; t < len; ++t) {
        for (int64_t c = 0; c < H; ++c) acc[static_cast<size_t>(c)] += rows[t * H + c];
      }
      const double cnt = static_cast<double>(std::max<int64_t>(len - skip, 1));
      if (P.mean) {
        for (int64_t c = 0; c < H; ++c) out[c] = static_cast<float>(acc[c] / cnt);
        out += H;
      }
      if (P.mean_sqrt_len) {
        for (int64_t c = 0; c < H; ++c) out[c] = static_cast<float>(acc[c] / std::sqrt(cnt));
        out += H;
      }
    }
    if (P.weighted_mean) {
      std::fill(acc.begin(), acc.end(), 0.0);
      double wsum = 0;
      for (int64_t t = skip; t < len; ++t) {
        const double w = static_cast<double>(t + 1);
        wsum += w;
        for (int64_t c = 0; c < H; ++c) acc[static_cast<size_t>(c)] += w * rows[t * H + c];
      }
      for (int64_t c = 0; c < H; ++c) out[c] = static_cast<float>(acc[c] / std::max(wsum, 1e-9));
      out += H;
    }
    if (P.last_token) {
      std::memcpy(out, rows + (len - 1) * H, static_cast<size_t>(H) * sizeof(float));
      out += H;
    }
  }

  // Dense / Normalize steps in modules.json order.
  float* cur = pooled;
  float* other = ws->pooled2.data();
  for (const PostStep& step : s.post) {
    if (step.kind == PostStep::kDense) {
      const DenseSpec& d = s.dense[static_cast<size_t>(step.dense_index)];
      const Linear& lin = *dense_[static_cast<size_t>(step.dense_index)];
      lin.run(cur, static_cast<int64_t>(n), other, &ws->gemm_scratch);
      if (!Linear::fusable(d.activation)) {
        kernels::activation(other, n * static_cast<size_t>(d.out_features), d.activation);
      }
      std::swap(cur, other);
      dims = d.out_features;
    } else {
      for (size_t i = 0; i < n; ++i) {
        float* v = cur + static_cast<int64_t>(i) * dims;
        double ss = 0;
        for (int64_t c = 0; c < dims; ++c) ss += static_cast<double>(v[c]) * v[c];
        const double inv = 1.0 / std::max(std::sqrt(ss), 1e-12);
        for (int64_t c = 0; c < dims; ++c) v[c] = static_cast<float>(v[c] * inv);
      }
    }
  }
  std::memcpy(embeddings, cur, static_cast<size_t>(n * dims) * sizeof(float));
}

}  // namespace ej::engine
