// bert, xlm-roberta, roberta, camembert (transformers' BertModel / RobertaModel /
// XLMRobertaModel): post-norm encoder, learned absolute positions (RoBERTa family: counted from
// pad_token_id + 1, from the ids), token-type row 0, erf / tanh GELU FFN.
#include <cmath>

#include "engine/models/registry.h"

namespace ej::engine {

ArchSpec map_bert(Config& c, EncoderSpec* s) {
  const std::string t = c.string("model_type", "");
  const bool roberta = t != "bert";
  s->family = roberta ? ModelFamily::kXlmRoberta : ModelFamily::kBert;
  const int H = c.integer("hidden_size", 0, true);
  const int L = c.integer("num_hidden_layers", 0, true);
  const int NH = c.integer("num_attention_heads", 0, true);
  const int FF = c.integer("intermediate_size", 0, true);
  s->num_heads = NH;
  s->intermediate_size = FF;
  s->max_position_embeddings = c.integer("max_position_embeddings", 512);
  s->type_vocab_size = std::max(1, c.integer("type_vocab_size", 2));
  s->pad_token_id = c.integer("pad_token_id", roberta ? 1 : 0);
  s->position_offset = roberta ? s->pad_token_id + 1 : 0;
  s->layer_norm_eps = static_cast<float>(c.number("layer_norm_eps", 1e-12));
  s->hidden_act = c.activation("hidden_act", "gelu");
  const std::string pos_type = c.string("position_embedding_type", "absolute");
  if (pos_type != "absolute") {
    c.problem("position_embedding_type '" + pos_type + "' is not supported (absolute only)");
  }
  if (H > 0 && NH > 0 && H % NH != 0) {
    c.problem("hidden_size is not a multiple of num_attention_heads");
  }
  const float eps = s->layer_norm_eps;

  ArchSpec a;
  a.kind = t == "bert" ? "bert" : t;
  a.vocab_size = c.integer("vocab_size", 0, true);
  a.hidden_size = H;
  a.max_positions = s->max_position_embeddings - s->position_offset;
  a.prefixes = {"", "bert.", "roberta.", "xlm_roberta.", "model."};
  a.pad_token_id = roberta ? s->pad_token_id : -1;
  EmbeddingSpec& e = a.embeddings;
  e.word = "embeddings.word_embeddings.weight";
  e.position = "embeddings.position_embeddings.weight";
  e.token_type = "embeddings.token_type_embeddings.weight";
  e.position_offset = s->position_offset;
  e.positions_from_ids = roberta;
  e.pad_id = s->pad_token_id;
  e.norm = layer_norm("embeddings.LayerNorm", eps);
  const int dh = NH > 0 ? H / NH : 0;
  for (int i = 0; i < L; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    BlockSpec b = post_norm_block(NH, dh);
    AttentionSpec& at = b.attn;
    at.qkv = linear({p + "attention.self.query.weight", p + "attention.self.key.weight",
                     p + "attention.self.value.weight"},
                    {H, H, H}, true);
    at.o = linear({p + "attention.output.dense.weight"}, {H}, true);
    b.norm1 = layer_norm(p + "attention.output.LayerNorm", eps);
    bert_layout_ffn(&b, p, H, FF, s->hidden_act, eps);
    a.blocks.push_back(std::move(b));
  }
  return a;
}

}  // namespace ej::engine
