// SentenceHead: what sentence-transformers runs after the transformer, per modules.json:
// Pooling (cls / max / mean / mean_sqrt_len / weightedmean / lasttoken, concatenated in that
// order; include_prompt), then the Dense and Normalize steps in order. Dense weights are read
// from each module's own model.safetensors.
// Thread-safety: immutable after load(); run() is const (one workspace per call).
#pragma once

#include <string>
#include <vector>

#include "engine/layers/batch.h"
#include "engine/model_spec.h"

namespace ej::engine {

class SentenceHead {
 public:
  // Appends "<module dir>: <problem>" lines to problems.
  void load(const EncoderSpec& spec, std::vector<std::string>* problems);
  // x: the last hidden states [T, hidden]; embeddings: n * spec.embedding_dim floats.
  void run(const PackedBatch& batch, const float* x, EncoderWorkspace* ws, float* embeddings) const;

 private:
  struct Dense {
    AlignedBuffer w, b;  // [out, in], [out]
  };
  const EncoderSpec* spec_ = nullptr;
  std::vector<Dense> dense_;
};

}  // namespace ej::engine
