// Embeddings: token ids -> the first hidden states per an EmbeddingSpec: word row (times an
// optional scale) + optional absolute position row (positions counted from an offset, or from
// the ids RoBERTa-style) + optional token-type row 0, then an optional norm. An F32 word table
// is copied into an aligned buffer; an F16 / BF16 one is kept in its stored dtype and rows are
// widened exactly on lookup (half the memory of an f32 copy, same numbers).
// Thread-safety: immutable after load(); forward() is const (one workspace per call).
#pragma once

#include <string>

#include "engine/layers/batch.h"
#include "engine/layers/norm.h"
#include "engine/models/arch_spec.h"
#include "engine/weights.h"

namespace ej::engine {

class Embeddings {
 public:
  void load(WeightReader& r, const EmbeddingSpec& spec, const std::string& prefix, int64_t vocab,
            int64_t hidden, int64_t max_positions);
  // Longest sequence the position table allows (0 = no table).
  int64_t max_len() const { return max_len_; }

  // Writes x [T, hidden]; throws ej::Error(kInvalidArgument) on an id outside the vocabulary.
  void forward(const BatchContext& bc, float* x, EncoderWorkspace* ws) const;

 private:
  EmbeddingSpec spec_;
  int64_t vocab_ = 0, hidden_ = 0, max_len_ = 0;
  AlignedBuffer word_f32_;  // F32 tables
  StoredTensor word_;       // F16 / BF16 tables (view into bytes)
  AlignedBuffer pos_, type_;
  Norm norm_;
};

}  // namespace ej::engine
