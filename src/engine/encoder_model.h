// EncoderModel: the weights of one BERT / XLM-RoBERTa sentence-embedding model (widened to f32,
// 64-byte aligned, checked by name and shape at load) and its forward pass over PACKED
// variable-length batches: all tokens of a batch form one [total_tokens, hidden] matrix, so no
// GEMM works on padding; only attention is per sequence. The projection / FFN GEMMs run through
// oneDNN's matmul with weights packed at load, bias, activation and the residual add fused
// (engine/linear.h); LayerNorm, softmax and attention are our AVX-512 kernels (engine/kernels.h).
// Pooling (cls / max / mean / mean_sqrt_len / weightedmean / lasttoken), Dense and Normalize
// follow modules.json.
// Thread-safety: immutable after load(); forward() is const and may run on several threads at
// once as long as each call has its own EncoderWorkspace.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "engine/aligned_buffer.h"
#include "engine/linear.h"
#include "engine/model_spec.h"

namespace ej::engine {

// One batch: the token ids of every sequence (specials included), concatenated.
struct PackedBatch {
  std::span<const int32_t> ids;
  std::span<const int32_t> offsets;  // size n + 1; sequence i is ids[offsets[i], offsets[i+1])
  // Optional, per sequence: leading prompt tokens (with the first special token) that pooling
  // skips when the Pooling module has include_prompt = false. Empty = none.
  std::span<const int32_t> prompt_tokens;
  size_t size() const { return offsets.empty() ? 0 : offsets.size() - 1; }
};

// Time spent in a forward pass (seconds), for the benchmark's GEMM share.
struct ForwardStats {
  double gemm_s = 0;       // projection and FFN GEMMs (oneDNN)
  double attention_s = 0;  // per-sequence attention (its small GEMMs + softmax)
  double other_s = 0;      // embeddings, bias/activation, LayerNorm, pooling, Dense, Normalize
  void add(const ForwardStats& o) {
    gemm_s += o.gemm_s;
    attention_s += o.attention_s;
    other_s += o.other_s;
  }
};

// Scratch memory of one forward pass; grows to the largest batch seen, then is reused.
struct EncoderWorkspace {
  AlignedBuffer x;       // [T, hidden] the hidden states
  AlignedBuffer big;     // [T, max(3 hidden, intermediate)] QKV, then the FFN intermediate
  AlignedBuffer ctx;     // [T, hidden] attention output
  AlignedBuffer tmp;     // [T, hidden] projection outputs before the residual LayerNorm
  AlignedBuffer pooled;  // [n, max dims] pooled vectors and Dense outputs
  AlignedBuffer pooled2;
  AlignedBuffer gemm_scratch;         // oneDNN scratchpad
  std::vector<AlignedBuffer> scores;  // per OpenMP thread: [len, len] attention probabilities
  std::vector<int32_t> positions;
};

class EncoderModel {
 public:
  // Reads the spec and every weight; throws ej::Error listing ALL missing / misshapen tensors.
  static std::unique_ptr<EncoderModel> load(const std::filesystem::path& dir);

  const EncoderSpec& spec() const { return spec_; }
  int embedding_dim() const { return spec_.embedding_dim; }
  // Longest sequence the position table allows.
  int max_positions() const { return spec_.max_position_embeddings - spec_.position_offset; }

  // Embeds every sequence of the batch: embeddings gets n * embedding_dim() floats; hidden, when
  // not null, gets the last hidden states [total_tokens, hidden_size]. threads >= 1.
  // Throws ej::Error(kInvalidArgument) on an id outside the vocabulary or an over-long sequence.
  void forward(const PackedBatch& batch, int threads, EncoderWorkspace* ws, float* embeddings,
               float* hidden = nullptr, ForwardStats* stats = nullptr) const;

 private:
  struct Layer {
    Linear qkv;  // [h] -> [3h] (query, key, value stacked), bias fused
    Linear o;    // [h] -> [h], bias fused, added onto the residual
    AlignedBuffer ln1_g, ln1_b;
    Linear up;         // [h] -> [ff], bias (+ activation when fused) fused
    Linear down;       // [ff] -> [h], bias fused, added onto the residual
    AlignedBuffer bi;  // FFN-up bias, when the activation runs as a separate kernel
    AlignedBuffer ln2_g, ln2_b;
  };
  struct Dense {
    AlignedBuffer w, b;  // [out, in], [out]
  };
  EncoderModel() = default;
  void pool_and_post(const PackedBatch& batch, EncoderWorkspace* ws, float* embeddings) const;

  EncoderSpec spec_;
  dnnl::engine engine_;
  bool fused_act_ = true;              // activation as a oneDNN post-op of the FFN-up GEMM
  const float* word_table_ = nullptr;  // == word_.data()
  AlignedBuffer word_, pos_, type_, emb_ln_g_, emb_ln_b_;
  std::vector<std::unique_ptr<Layer>> layers_;  // Linear is not movable
  std::vector<Dense> dense_;
};

}  // namespace ej::engine
