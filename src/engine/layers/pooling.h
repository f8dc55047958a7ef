// SentenceHead: what sentence-transformers runs after the transformer, per modules.json:
// Pooling (cls / max / mean / mean_sqrt_len / weightedmean / lasttoken, concatenated in that
// order; include_prompt), then the Dense and Normalize steps in order. Dense weights are read
// from each module's own model.safetensors and run through the same Linear (GEMM, compute
// dtype, fused activation) as the transformer's projections.
// Thread-safety: immutable after load(); run() is const (one workspace per call).
#pragma once

#include <string>
#include <vector>

#include <dnnl.hpp>
#include <memory>

#include "engine/layers/batch.h"
#include "engine/linear.h"
#include "engine/model_spec.h"

namespace ej::engine {

class SentenceHead {
 public:
  // Appends "<module dir>: <problem>" lines to problems.
  void load(const EncoderSpec& spec, const dnnl::engine& eng, ComputeDType dtype,
            std::vector<std::string>* problems);
  // x: the last hidden states [T, hidden]; embeddings: n * spec.embedding_dim floats.
  void run(const PackedBatch& batch, const float* x, EncoderWorkspace* ws, float* embeddings) const;

 private:
  const EncoderSpec* spec_ = nullptr;
  std::vector<std::unique_ptr<Linear>> dense_;  // Linear is not movable
};

}  // namespace ej::engine
