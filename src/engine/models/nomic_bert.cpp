// nomic_bert (nomic-embed-text, remote code modeling_hf_nomic_bert.py): BERT-order post-norm
// encoder with a fused Wqkv, rotary positions (fraction / base / interleaved from the config),
// a gated MLP (swiglu / geglu / glu: the activation on fc12, fc11 the value) or plain fc1 / fc2,
// token-type row 0, no position table. GPT-2 style config keys (n_embd, n_head, ...).
#include <cmath>

#include "engine/models/registry.h"

namespace ej::engine {

ArchSpec map_nomic_bert(Config& c, EncoderSpec* s) {
  const int H = c.integer("n_embd", 0, true);
  const int L = c.integer("n_layer", 0, true);
  const int NH = c.integer("n_head", 0, true);
  const float eps = static_cast<float>(c.number("layer_norm_epsilon", 1e-12));
  s->num_heads = NH;
  s->layer_norm_eps = eps;
  s->pad_token_id = c.integer("pad_token_id", 0);
  s->type_vocab_size = std::max(0, c.integer("type_vocab_size", 2));
  if (c.boolean("prenorm", false)) c.problem("prenorm true is not supported");
  if (c.boolean("parallel_block", false)) c.problem("parallel_block true is not supported");
  if (c.boolean("causal", false)) c.problem("causal true is not supported");
  if (c.has("rotary_scaling_factor")) c.problem("rotary_scaling_factor is not supported");
  const double fraction = c.number("rotary_emb_fraction", 0.0);
  if (fraction <= 0.0) c.problem("rotary_emb_fraction 0 (absolute positions) is not supported");
  const bool qkv_bias = c.boolean("qkv_proj_bias", true);
  const bool fc1_bias = c.boolean("mlp_fc1_bias", true);
  const bool fc2_bias = c.boolean("mlp_fc2_bias", true);
  const std::string act = c.string("activation_function", "swiglu");
  bool gated = true;
  Activation a_fn = Activation::kSilu;
  if (act == "swiglu") {
    a_fn = Activation::kSilu;
  } else if (act == "geglu") {
    a_fn = Activation::kGeluErf;
  } else if (act == "glu") {
    a_fn = Activation::kSigmoid;
  } else {
    gated = false;
    a_fn = c.activation("activation_function", "gelu");
  }
  s->hidden_act = a_fn;
  const int dh = NH > 0 ? H / NH : 0;

  ArchSpec a;
  a.kind = "nomic_bert";
  a.vocab_size = c.integer("vocab_size", 0, true);
  a.hidden_size = H;
  a.max_positions = c.integer("n_positions", 0);
  a.prefixes = {"", "bert.", "model."};
  a.embeddings.word = "embeddings.word_embeddings.weight";
  if (s->type_vocab_size > 0) a.embeddings.token_type = "embeddings.token_type_embeddings.weight";
  a.embeddings.norm = layer_norm("emb_ln", eps);
  RopeSpec rope;
  rope.theta = c.number("rotary_emb_base", 10000.0);
  rope.rotary_dim = static_cast<int>(dh * fraction);
  rope.interleaved = c.boolean("rotary_emb_interleaved", false);
  a.ropes.push_back(rope);
  for (int i = 0; i < L; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    BlockSpec b = post_norm_block(NH, dh);
    AttentionSpec& at = b.attn;
    at.rope = 0;
    at.qkv = linear({p + "attn.Wqkv.weight"}, {3 * H}, qkv_bias);
    at.o = linear({p + "attn.out_proj.weight"}, {H}, qkv_bias);
    b.norm1 = layer_norm(p + "norm1", eps);
    b.mlp.gated = gated;
    b.mlp.act = a_fn;
    if (gated) {
      b.mlp.up = linear({p + "mlp.fc12.weight", p + "mlp.fc11.weight"}, {0, 0}, fc1_bias);
    } else {
      b.mlp.up = linear({p + "mlp.fc1.weight"}, {0}, fc1_bias);
    }
    b.mlp.down = linear({p + "mlp.fc2.weight"}, {H}, fc2_bias);
    b.norm2 = layer_norm(p + "norm2", eps);
    a.blocks.push_back(std::move(b));
  }
  return a;
}

}  // namespace ej::engine
