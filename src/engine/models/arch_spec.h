// ArchSpec: a transformer described as data - which tensors (by name) feed which layer and with
// which options. Each architecture file in engine/models/ maps a config.json onto one of these
// (models/registry.h); EncoderModel builds and runs the layer stack from it. Nothing in the
// forward pass is keyed on model_type.
// Thread-safety: plain data.
#pragma once

#include <string>
#include <vector>

#include "engine/model_spec.h"

namespace ej::engine {

// A norm over the last dimension; name = tensor prefix ("x.weight" / "x.bias"), "" = none.
struct NormSpec {
  enum Kind { kLayerNorm, kRmsNorm } kind = kLayerNorm;
  std::string name;
  float eps = 1e-12f;
  bool bias = true;       // LayerNorm: additive bias present
  bool plus_one = false;  // Gemma: the stored weight is an offset from 1
  bool present() const { return !name.empty(); }
};

// A linear layer whose weight is the concatenation of `weights` along the output dimension
// (one fused QKV or gate/up GEMM); each entry is [rows_i, in]. Biases are "<w minus .weight>.bias".
struct LinearSpec {
  std::vector<std::string> weights;
  std::vector<int64_t> rows;
  bool bias = true;
};

struct RopeSpec {
  double theta = 10000.0;
  int rotary_dim = 0;        // dims of each head that rotate (the rest pass through)
  bool interleaved = false;  // pairs (2k, 2k+1) instead of (k, k + rotary_dim / 2)
};

struct AttentionSpec {
  LinearSpec qkv;  // rows: num_heads * head_dim, then 2 x num_kv_heads * head_dim
  LinearSpec o;
  int num_heads = 0;
  int num_kv_heads = 0;  // query head h uses kv head h / (num_heads / num_kv_heads)
  int head_dim = 0;
  float scale = 0;             // scores = q k^T * scale
  bool causal = false;         // key j visible from query i only if j <= i
  int window = -1;             // >= 0: also only if |i - j| <= window
  int rope = -1;               // index into ArchSpec::ropes, -1 = none
  NormSpec q_norm, k_norm;     // per head, over head_dim, before RoPE
  bool relative_bias = false;  // add ArchSpec::relative_bias (shared by all layers)
};

struct MlpSpec {
  LinearSpec up;  // gated: rows = [gate (activated); value]
  LinearSpec down;
  bool gated = false;
  Activation act = Activation::kGeluErf;
};

struct BlockSpec {
  // kPostNorm: x = norm1(x + attn(x));            x = norm2(x + mlp(x))            (BERT)
  // kPreNorm:  x = x + attn(norm1(x));            x = x + mlp(norm2(x))            (Llama)
  // kSandwich: x = x + post1(attn(norm1(x)));     x = x + post2(mlp(norm2(x)))     (Gemma)
  enum Style { kPostNorm, kPreNorm, kSandwich } style = kPostNorm;
  NormSpec norm1, norm2, post1, post2;  // an absent pre-norm is the identity
  AttentionSpec attn;
  MlpSpec mlp;
};

struct EmbeddingSpec {
  std::string word;        // [vocab, hidden]
  std::string position;    // [max_positions, hidden] or ""
  std::string token_type;  // row 0 added, or ""
  // Position of token t: t + position_offset; with positions_from_ids, ids == pad_id get
  // pad_id and do not advance the count (RoBERTa / MPNet).
  int position_offset = 0;
  bool positions_from_ids = false;
  int pad_id = -1;
  float scale = 1.0f;  // x = word * scale (+ position + type)
  NormSpec norm;
};

// T5 / MPNet bucketed relative position bias: table [num_buckets, num_heads].
struct RelativeBiasSpec {
  std::string table;
  int num_buckets = 32;
  int max_distance = 128;
  bool present() const { return !table.empty(); }
};

struct ArchSpec {
  std::string kind;  // ModelInfo::kind ("bert", "qwen3", ...)
  int vocab_size = 0;
  int hidden_size = 0;
  int max_positions = 0;  // longest sequence; 0 = no position table limit
  // Tensor name prefixes tried in order (checkpoints saved from XForY carry the base model's).
  std::vector<std::string> prefixes{""};
  EmbeddingSpec embeddings;
  std::vector<RopeSpec> ropes;
  RelativeBiasSpec relative_bias;
  std::vector<BlockSpec> blocks;
  NormSpec final_norm;
  int pad_token_id = -1;  // an id the calibration avoids when positions come from ids
};

}  // namespace ej::engine
