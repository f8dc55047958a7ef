// gemma3_text (transformers' Gemma3TextModel; EmbeddingGemma with use_bidirectional_attention):
// sandwich-norm decoder, RMSNorm with (1 + w), embeddings scaled by sqrt(hidden) (an f32
// number), GQA with q / k norm, scores scaled by query_pre_attn_scalar^-0.5, layer_types
// sliding / full with rope_local_base_freq / rope_theta, GeGLU (gelu_pytorch_tanh).
// Window: bidirectional -> |i - j| <= sliding_window / 2 (transformers sets the window to
// sliding_window // 2 + 1 and keeps |i - j| < it); causal -> the last sliding_window keys.
#include <cmath>

#include "engine/models/registry.h"

namespace ej::engine {

ArchSpec map_gemma3(Config& c, EncoderSpec* s) {
  const int H = c.integer("hidden_size", 0, true);
  const int L = c.integer("num_hidden_layers", 0, true);
  const int NH = c.integer("num_attention_heads", 0, true);
  const int NKV = c.integer("num_key_value_heads", NH);
  const int FF = c.integer("intermediate_size", 0, true);
  const int dh = c.integer("head_dim", 256);
  const float eps = static_cast<float>(c.number("rms_norm_eps", 1e-6));
  const double qscalar = c.number("query_pre_attn_scalar", dh);
  const int window = c.integer("sliding_window", 4096);
  const bool bidir = c.boolean("use_bidirectional_attention", false);
  s->num_heads = NH;
  s->intermediate_size = FF;
  s->hidden_act = c.activation("hidden_activation", "gelu_pytorch_tanh");
  s->layer_norm_eps = eps;
  s->pad_token_id = c.integer("pad_token_id", 0);
  s->max_position_embeddings = c.integer("max_position_embeddings", 131072);
  if (NKV <= 0 || NH % NKV != 0)
    c.problem("num_attention_heads is not a multiple of num_key_value_heads");
  if (c.has("attn_logit_softcapping")) c.problem("attn_logit_softcapping is not supported");
  if (c.has("rope_scaling")) c.problem("rope_scaling is not supported");
  std::vector<bool> sliding(static_cast<size_t>(std::max(L, 0)));
  const auto& j = c.json();
  if (auto lt = j.find("layer_types"); lt != j.end() && lt->is_array()) {
    if (static_cast<int>(lt->size()) != L)
      c.problem("layer_types does not have num_hidden_layers entries");
    for (size_t i = 0; i < sliding.size() && i < lt->size(); ++i) {
      const std::string t = (*lt)[i].is_string() ? (*lt)[i].get<std::string>() : "";
      if (t != "sliding_attention" && t != "full_attention") {
        c.problem("layer_types[" + std::to_string(i) + "] '" + t + "' is not supported");
      }
      sliding[i] = t == "sliding_attention";
    }
  } else {
    const int pattern =
        c.integer("sliding_window_pattern", c.integer("_sliding_window_pattern", 6));
    for (size_t i = 0; i < sliding.size(); ++i)
      sliding[i] = (static_cast<int>(i) + 1) % pattern != 0;
  }

  ArchSpec a;
  a.kind = "gemma3_text";
  a.vocab_size = c.integer("vocab_size", 0, true);
  a.hidden_size = H;
  a.max_positions = s->max_position_embeddings;
  a.prefixes = {"", "model."};
  a.embeddings.word = "embed_tokens.weight";
  a.embeddings.scale = static_cast<float>(std::sqrt(static_cast<double>(H)));
  RopeSpec full, local;
  full.theta = c.number("rope_theta", 1000000.0);
  full.rotary_dim = dh;
  local.theta = c.number("rope_local_base_freq", 10000.0);
  local.rotary_dim = dh;
  a.ropes = {full, local};
  for (int i = 0; i < L; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    const bool sl = sliding[static_cast<size_t>(i)];
    BlockSpec b;
    b.style = BlockSpec::kSandwich;
    b.norm1 = rms_norm(p + "input_layernorm", eps, true);
    b.post1 = rms_norm(p + "post_attention_layernorm", eps, true);
    b.norm2 = rms_norm(p + "pre_feedforward_layernorm", eps, true);
    b.post2 = rms_norm(p + "post_feedforward_layernorm", eps, true);
    AttentionSpec& at = b.attn;
    at.num_heads = NH;
    at.num_kv_heads = NKV;
    at.head_dim = dh;
    at.scale = static_cast<float>(1.0 / std::sqrt(qscalar));
    at.causal = !bidir;
    at.window = sl ? (bidir ? window / 2 : window - 1) : -1;
    at.rope = sl ? 1 : 0;
    at.qkv = linear({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                     p + "self_attn.v_proj.weight"},
                    {int64_t{NH} * dh, int64_t{NKV} * dh, int64_t{NKV} * dh},
                    c.boolean("attention_bias", false));
    at.o = linear({p + "self_attn.o_proj.weight"}, {H}, c.boolean("attention_bias", false));
    at.q_norm = rms_norm(p + "self_attn.q_norm", eps, true);
    at.k_norm = rms_norm(p + "self_attn.k_norm", eps, true);
    b.mlp.gated = true;
    b.mlp.act = s->hidden_act;
    b.mlp.up = linear({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, {FF, FF}, false);
    b.mlp.down = linear({p + "mlp.down_proj.weight"}, {H}, false);
    a.blocks.push_back(std::move(b));
  }
  a.final_norm = rms_norm("norm", eps, true);
  return a;
}

}  // namespace ej::engine
