// modernbert (transformers' ModernBertModel): pre-norm encoder (layer 0 without attn_norm),
// fused Wqkv, RoPE with a global and a local theta, every global_attn_every_n_layers-th layer
// global and the others a symmetric window of local_attention / 2, GeGLU MLP (Wi = [input;
// gate], the activation on the first half), LayerNorm with or without bias, final norm.
// Also reads transformers >= 5's layer_types / rope_parameters.
#include <cmath>

#include "engine/models/registry.h"

namespace ej::engine {

ArchSpec map_modernbert(Config& c, EncoderSpec* s) {
  const int H = c.integer("hidden_size", 0, true);
  const int L = c.integer("num_hidden_layers", 0, true);
  const int NH = c.integer("num_attention_heads", 0, true);
  const int FF = c.integer("intermediate_size", 0, true);
  const float eps = static_cast<float>(c.number("norm_eps", 1e-5));
  const bool norm_bias = c.boolean("norm_bias", false);
  const bool attn_bias = c.boolean("attention_bias", false);
  const bool mlp_bias = c.boolean("mlp_bias", false);
  const int every = std::max(1, c.integer("global_attn_every_n_layers", 3));
  const int local = c.integer("local_attention", 128);
  double global_theta = c.number("global_rope_theta", 160000.0);
  double local_theta = c.number("local_rope_theta", 10000.0);
  const auto& j = c.json();
  if (auto rp = j.find("rope_parameters"); rp != j.end() && rp->is_object()) {
    if (auto f = rp->find("full_attention"); f != rp->end() && f->contains("rope_theta")) {
      global_theta = (*f)["rope_theta"].get<double>();
    }
    if (auto sl = rp->find("sliding_attention"); sl != rp->end() && sl->contains("rope_theta")) {
      local_theta = (*sl)["rope_theta"].get<double>();
    }
  }
  s->num_heads = NH;
  s->intermediate_size = FF;
  s->hidden_act = c.activation("hidden_activation", "gelu");
  s->layer_norm_eps = eps;
  s->pad_token_id = c.integer("pad_token_id", 0);
  s->max_position_embeddings = c.integer("max_position_embeddings", 8192);
  const int dh = NH > 0 ? H / NH : 0;

  ArchSpec a;
  a.kind = "modernbert";
  a.vocab_size = c.integer("vocab_size", 0, true);
  a.hidden_size = H;
  a.max_positions = s->max_position_embeddings;
  a.prefixes = {"", "model."};
  a.embeddings.word = "embeddings.tok_embeddings.weight";
  a.embeddings.norm = layer_norm("embeddings.norm", eps, norm_bias);
  RopeSpec g, l;
  g.theta = global_theta;
  g.rotary_dim = dh;
  l.theta = local_theta;
  l.rotary_dim = dh;
  a.ropes = {g, l};
  for (int i = 0; i < L; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    const bool global = i % every == 0;
    BlockSpec b;
    b.style = BlockSpec::kPreNorm;
    if (i > 0) b.norm1 = layer_norm(p + "attn_norm", eps, norm_bias);
    b.norm2 = layer_norm(p + "mlp_norm", eps, norm_bias);
    AttentionSpec& at = b.attn;
    at.num_heads = at.num_kv_heads = NH;
    at.head_dim = dh;
    at.scale = 1.0f / std::sqrt(static_cast<float>(dh));
    at.rope = global ? 0 : 1;
    at.window = global ? -1 : local / 2;
    at.qkv = linear({p + "attn.Wqkv.weight"}, {3 * H}, attn_bias);
    at.o = linear({p + "attn.Wo.weight"}, {H}, attn_bias);
    b.mlp.gated = true;
    b.mlp.act = s->hidden_act;
    b.mlp.up = linear({p + "mlp.Wi.weight"}, {2 * FF}, mlp_bias);
    b.mlp.down = linear({p + "mlp.Wo.weight"}, {H}, mlp_bias);
    a.blocks.push_back(std::move(b));
  }
  a.final_norm = layer_norm("final_norm", eps, norm_bias);
  return a;
}

}  // namespace ej::engine
