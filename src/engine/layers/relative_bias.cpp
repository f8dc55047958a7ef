#include "engine/layers/relative_bias.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace ej::engine {

void RelativeBias::load(WeightReader& r, const RelativeBiasSpec& spec, const std::string& prefix,
                        int heads) {
  spec_ = spec;
  present_ = spec.present();
  heads_ = heads;
  if (!present_) return;
  const TensorInfo* t = r.find(prefix + spec.table);
  const int64_t rows = (t != nullptr && !t->shape.empty()) ? t->shape[0] : spec.num_buckets;
  if (rows < spec.num_buckets) {
    r.problem("tensor '" + prefix + spec.table + "' has " + std::to_string(rows) +
              " buckets, the bias uses " + std::to_string(spec.num_buckets));
  }
  r.read(prefix + spec.table, {rows, heads}, &table_);
}

int RelativeBias::bucket(int64_t relative, int num_buckets, int max_distance) {
  // transformers' relative_position_bucket (MPNet / T5, bidirectional), evaluated in f32.
  int64_t n = -relative;  // i - j
  const int half = num_buckets / 2;
  int ret = n < 0 ? half : 0;
  n = n < 0 ? -n : n;
  const int max_exact = half / 2;
  if (n < max_exact) return ret + static_cast<int>(n);
  const float lg = std::log(static_cast<float>(n) / static_cast<float>(max_exact)) /
                   static_cast<float>(std::log(static_cast<double>(max_distance) / max_exact)) *
                   static_cast<float>(half - max_exact);
  const int large = std::min(max_exact + static_cast<int>(lg), half - 1);
  return ret + large;
}

void RelativeBias::expand(int64_t max_len, float* out) const {
  const int64_t len = 2 * max_len - 1;
  for (int64_t d = -(max_len - 1); d <= max_len - 1; ++d) {
    const int b = bucket(d, spec_.num_buckets, spec_.max_distance);
    for (int h = 0; h < heads_; ++h) {
      out[h * len + (d + max_len - 1)] = table_.data()[static_cast<int64_t>(b) * heads_ + h];
    }
  }
}

}  // namespace ej::engine
