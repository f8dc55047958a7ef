// RelativeBias: the bucketed relative position bias of T5 / MPNet (bidirectional buckets,
// exact below num_buckets / 4, logarithmic up to max_distance), table [num_buckets, heads],
// shared by all layers. Expanded per batch into a bias by distance d = j - i for each head.
// Thread-safety: immutable after load(); expand() is const.
#pragma once

#include <string>

#include "engine/aligned_buffer.h"
#include "engine/models/arch_spec.h"
#include "engine/weights.h"

namespace ej::engine {

class RelativeBias {
 public:
  void load(WeightReader& r, const RelativeBiasSpec& spec, const std::string& prefix, int heads);
  bool present() const { return present_; }
  // out[h * (2 max_len - 1) + (d + max_len - 1)] = bias of head h at distance d = j - i.
  void expand(int64_t max_len, float* out) const;
  // The bucket of relative position j - i (exposed for tests).
  static int bucket(int64_t relative, int num_buckets, int max_distance);

 private:
  RelativeBiasSpec spec_;
  bool present_ = false;
  int heads_ = 0;
  AlignedBuffer table_;
};

}  // namespace ej::engine
