// EncoderModel: one sentence-embedding transformer (any architecture of models/registry.h),
// built from its ArchSpec as a stack of layers (engine/layers/: embeddings, attention, norms,
// MLP, sentence head), and its forward pass over PACKED variable-length batches: all tokens of
// a batch form one [total_tokens, hidden] matrix, so no GEMM works on padding; only attention
// is per sequence. GEMMs run through oneDNN with weights packed at load (engine/linear.h).
// Pooling, Dense and Normalize follow modules.json (layers/pooling.h).
// Thread-safety: immutable after load(); forward() is const and may run on several threads at
// once as long as each call has its own EncoderWorkspace.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "engine/layers/attention.h"
#include "engine/layers/batch.h"
#include "engine/layers/embeddings.h"
#include "engine/layers/mlp.h"
#include "engine/layers/norm.h"
#include "engine/layers/pooling.h"
#include "engine/layers/relative_bias.h"
#include "engine/layers/rope.h"
#include "engine/model_spec.h"
#include "engine/models/arch_spec.h"

namespace ej::engine {

class EncoderModel {
 public:
  // Reads the spec and every weight; throws ej::Error listing ALL missing / misshapen tensors.
  // dtype: the compute mode of every GEMM (projections, FFN, the Dense head), see linear.h.
  static std::unique_ptr<EncoderModel> load(const std::filesystem::path& dir,
                                            ComputeDType dtype = ComputeDType::kF32);

  const EncoderSpec& spec() const { return spec_; }
  ComputeDType dtype() const { return dtype_; }
  const ArchSpec& arch() const { return *spec_.arch; }
  int embedding_dim() const { return spec_.embedding_dim; }
  // Longest sequence the model takes (position table / configured context).
  int max_positions() const { return max_positions_; }

  // Embeds every sequence of the batch: embeddings gets n * embedding_dim() floats; hidden, when
  // not null, gets the last hidden states [total_tokens, hidden_size]. threads >= 1.
  // Throws ej::Error(kInvalidArgument) on an id outside the vocabulary or an over-long sequence.
  void forward(const PackedBatch& batch, int threads, EncoderWorkspace* ws, float* embeddings,
               float* hidden = nullptr, ForwardStats* stats = nullptr) const;

 private:
  struct Block {
    BlockSpec::Style style = BlockSpec::kPostNorm;
    Norm norm1, norm2, post1, post2;
    Attention attn;
    Mlp mlp;
  };
  EncoderModel() = default;
  void run_block(const Block& b, const BatchContext& bc, EncoderWorkspace* ws,
                 ForwardStats* st) const;

  EncoderSpec spec_;
  ComputeDType dtype_ = ComputeDType::kF32;
  dnnl::engine engine_;
  int max_positions_ = 0;
  Embeddings embeddings_;
  std::vector<Rope> ropes_;
  RelativeBias relative_bias_;
  std::vector<std::unique_ptr<Block>> blocks_;  // Linear is not movable
  Norm final_norm_;
  SentenceHead head_;
  int64_t max_big_ = 0, max_ctx_ = 0, max_ff_ = 0;  // widest workspace rows
};

}  // namespace ej::engine
