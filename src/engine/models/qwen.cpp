// qwen2 / qwen3 (transformers' Qwen2Model / Qwen3Model; Qwen3-Embedding, gte-Qwen2): pre-norm
// decoder, RMSNorm, grouped-query attention with RoPE, SwiGLU MLP, final norm; causal unless
// the config asks for bidirectional attention. qwen3: per-head q / k RMSNorm, biases per
// attention_bias; qwen2: biases on q / k / v (not o), no q / k norm.
#include <cmath>

#include "engine/models/registry.h"

namespace ej::engine {

ArchSpec map_qwen(Config& c, EncoderSpec* s) {
  const bool q3 = c.string("model_type", "") == "qwen3";
  const int H = c.integer("hidden_size", 0, true);
  const int L = c.integer("num_hidden_layers", 0, true);
  const int NH = c.integer("num_attention_heads", 0, true);
  const int NKV = c.integer("num_key_value_heads", NH);
  const int FF = c.integer("intermediate_size", 0, true);
  const int dh = c.integer("head_dim", NH > 0 ? H / NH : 0);
  const float eps = static_cast<float>(c.number("rms_norm_eps", 1e-6));
  s->num_heads = NH;
  s->intermediate_size = FF;
  s->hidden_act = c.activation("hidden_act", "silu");
  s->max_position_embeddings = c.integer("max_position_embeddings", 32768);
  s->layer_norm_eps = eps;
  if (NKV <= 0 || NH % NKV != 0)
    c.problem("num_attention_heads is not a multiple of num_key_value_heads");
  if (c.boolean("use_sliding_window", false)) c.problem("use_sliding_window true is not supported");
  if (c.has("rope_scaling")) c.problem("rope_scaling is not supported");
  // gte-Qwen2 style checkpoints may declare bidirectional attention.
  const bool causal =
      c.boolean("is_causal", true) && !c.boolean("use_bidirectional_attention", false);
  const bool qkv_bias = q3 ? c.boolean("attention_bias", false) : true;
  const bool o_bias = q3 ? c.boolean("attention_bias", false) : false;

  ArchSpec a;
  a.kind = q3 ? "qwen3" : "qwen2";
  a.vocab_size = c.integer("vocab_size", 0, true);
  a.hidden_size = H;
  a.max_positions = s->max_position_embeddings;
  a.prefixes = {"", "model."};
  a.embeddings.word = "embed_tokens.weight";
  RopeSpec rope;
  rope.theta = c.number("rope_theta", 10000.0);
  rope.rotary_dim = dh;
  a.ropes.push_back(rope);
  for (int i = 0; i < L; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    BlockSpec b;
    b.style = BlockSpec::kPreNorm;
    b.norm1 = rms_norm(p + "input_layernorm", eps);
    b.norm2 = rms_norm(p + "post_attention_layernorm", eps);
    AttentionSpec& at = b.attn;
    at.num_heads = NH;
    at.num_kv_heads = NKV;
    at.head_dim = dh;
    at.scale = 1.0f / std::sqrt(static_cast<float>(dh));
    at.causal = causal;
    at.rope = 0;
    at.qkv = linear({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                     p + "self_attn.v_proj.weight"},
                    {int64_t{NH} * dh, int64_t{NKV} * dh, int64_t{NKV} * dh}, qkv_bias);
    at.o = linear({p + "self_attn.o_proj.weight"}, {H}, o_bias);
    if (q3) {
      at.q_norm = rms_norm(p + "self_attn.q_norm", eps);
      at.k_norm = rms_norm(p + "self_attn.k_norm", eps);
    }
    b.mlp.gated = true;
    b.mlp.act = s->hidden_act;
    b.mlp.up = linear({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, {FF, FF}, false);
    b.mlp.down = linear({p + "mlp.down_proj.weight"}, {H}, false);
    a.blocks.push_back(std::move(b));
  }
  a.final_norm = rms_norm("norm", eps);
  return a;
}

}  // namespace ej::engine
