// The per-call inputs and scratch of a forward pass, shared by the layers (engine/layers/*) and
// EncoderModel: a PACKED batch (all tokens of all sequences in one [T, hidden] matrix), the
// workspace that grows to the largest batch seen and is then reused, and timing counters.
// Thread-safety: one workspace per concurrent forward call.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/aligned_buffer.h"

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
  double other_s = 0;      // embeddings, bias/activation, norms, RoPE, pooling, Dense, Normalize
  void add(const ForwardStats& o) {
    gemm_s += o.gemm_s;
    attention_s += o.attention_s;
    other_s += o.other_s;
  }
};

// Scratch memory of one forward pass; grows to the largest batch seen, then is reused.
struct EncoderWorkspace {
  AlignedBuffer x;       // [T, hidden] the hidden states (the residual stream)
  AlignedBuffer big;     // [T, max(qkv width, FFN up width)] QKV, then the FFN up projection
  AlignedBuffer ctx;     // [T, q width] attention output
  AlignedBuffer tmp;     // [T, hidden] normalized input of pre-norm blocks / sandwich outputs
  AlignedBuffer ctx2;    // [T, hidden] sandwich blocks: projection before its norm
  AlignedBuffer inter;   // [T, ff] gated FFN activation
  AlignedBuffer rel;     // [heads, 2 max_len - 1] relative position bias by distance
  AlignedBuffer pooled;  // [n, max dims] pooled vectors and Dense outputs
  AlignedBuffer pooled2;
  AlignedBuffer gemm_scratch;         // oneDNN scratchpad
  std::vector<AlignedBuffer> scores;  // per OpenMP thread: attention scratch
  std::vector<int32_t> positions;     // [T] absolute-table positions
  std::vector<int32_t> rope_pos;      // [T] position inside the sequence (0 .. len - 1)
};

// What every layer needs to know about the batch being run.
struct BatchContext {
  const PackedBatch* batch = nullptr;
  int64_t tokens = 0;   // T
  int64_t max_len = 0;  // longest sequence
  int32_t base = 0;     // batch->offsets[0]
  int threads = 1;
};

}  // namespace ej::engine
