// Norm: LayerNorm (with or without bias) or RMSNorm (weight as is, or Gemma's 1 + weight) over
// the last dimension, loaded from "<name>.weight" / "<name>.bias" per a NormSpec.
// Thread-safety: immutable after load(); apply*() are const.
#pragma once

#include <cstddef>
#include <string>

#include "engine/aligned_buffer.h"
#include "engine/models/arch_spec.h"
#include "engine/weights.h"

namespace ej::engine {

class Norm {
 public:
  // Absent spec (no name): present() is false and apply() must not be called.
  void load(WeightReader& r, const NormSpec& spec, const std::string& prefix, int64_t dim);
  bool present() const { return present_; }

  // rows contiguous rows of dim floats, in place.
  void apply(float* x, size_t rows, int threads) const;
  // `heads` rows of dim floats at x + t * ld + h * dim for every token t < tokens (q / k norm).
  void apply_heads(float* x, size_t tokens, size_t ld, size_t heads, int threads) const;

 private:
  void row(float* x) const;
  NormSpec spec_;
  bool present_ = false;
  int64_t dim_ = 0;
  AlignedBuffer w_, b_;
};

}  // namespace ej::engine
