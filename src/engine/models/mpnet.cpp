// mpnet (transformers' MPNetModel; all-mpnet-base-v2): BERT-order post-norm encoder, learned
// positions counted RoBERTa-style from the ids (padding_idx 1 as transformers hard-codes it),
// no token types, and a bucketed relative position bias shared by all layers (always 32
// buckets / max distance 128 in transformers; relative_attention_num_buckets sizes the table).
#include <cmath>

#include "engine/models/registry.h"

namespace ej::engine {

ArchSpec map_mpnet(Config& c, EncoderSpec* s) {
  const int H = c.integer("hidden_size", 0, true);
  const int L = c.integer("num_hidden_layers", 0, true);
  const int NH = c.integer("num_attention_heads", 0, true);
  const int FF = c.integer("intermediate_size", 0, true);
  const float eps = static_cast<float>(c.number("layer_norm_eps", 1e-12));
  constexpr int kPad = 1;                // MPNetEmbeddings.padding_idx
  s->family = ModelFamily::kXlmRoberta;  // positions from the ids
  s->num_heads = NH;
  s->intermediate_size = FF;
  s->hidden_act = c.activation("hidden_act", "gelu");
  s->layer_norm_eps = eps;
  s->pad_token_id = kPad;
  s->position_offset = kPad + 1;
  s->max_position_embeddings = c.integer("max_position_embeddings", 514);
  s->type_vocab_size = 0;
  const int dh = NH > 0 ? H / NH : 0;

  ArchSpec a;
  a.kind = "mpnet";
  a.vocab_size = c.integer("vocab_size", 0, true);
  a.hidden_size = H;
  a.max_positions = s->max_position_embeddings - s->position_offset;
  a.prefixes = {"", "mpnet."};
  a.pad_token_id = kPad;
  EmbeddingSpec& e = a.embeddings;
  e.word = "embeddings.word_embeddings.weight";
  e.position = "embeddings.position_embeddings.weight";
  e.position_offset = s->position_offset;
  e.positions_from_ids = true;
  e.pad_id = kPad;
  e.norm = layer_norm("embeddings.LayerNorm", eps);
  a.relative_bias.table = "encoder.relative_attention_bias.weight";
  a.relative_bias.num_buckets = 32;
  a.relative_bias.max_distance = 128;
  for (int i = 0; i < L; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    BlockSpec b = post_norm_block(NH, dh);
    AttentionSpec& at = b.attn;
    at.relative_bias = true;
    at.qkv = linear({p + "attention.attn.q.weight", p + "attention.attn.k.weight",
                     p + "attention.attn.v.weight"},
                    {H, H, H}, true);
    at.o = linear({p + "attention.attn.o.weight"}, {H}, true);
    b.norm1 = layer_norm(p + "attention.LayerNorm", eps);
    bert_layout_ffn(&b, p, H, FF, s->hidden_act, eps);
    a.blocks.push_back(std::move(b));
  }
  return a;
}

}  // namespace ej::engine
