// Rope: rotary position embeddings for one (theta, rotary_dim, layout) - cos / sin tables for
// positions 0 .. max_len - 1 built once at load, computed in f32 as transformers does
// (inv_freq = 1 / theta^(2k / rotary_dim), angle = position * inv_freq). Rotates the first
// rotary_dim dims of each head, half-split (GPT-NeoX: k with k + rotary_dim / 2) or interleaved
// (pairs 2k, 2k + 1); the other dims pass through.
// Thread-safety: immutable after init(); apply() is const.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/models/arch_spec.h"

namespace ej::engine {

class Rope {
 public:
  void init(const RopeSpec& spec, int64_t max_len);
  int64_t max_len() const { return max_len_; }
  // For every token t < tokens: `heads` heads of head_dim floats at x + t * ld + h * head_dim,
  // rotated by angle pos[t].
  void apply(float* x, size_t tokens, size_t ld, size_t heads, size_t head_dim, const int32_t* pos,
             int threads) const;

 private:
  RopeSpec spec_;
  int64_t max_len_ = 0;
  std::vector<float> cos_, sin_;  // [max_len, rotary_dim / 2]
};

}  // namespace ej::engine
