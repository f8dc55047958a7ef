#include "engine/models/registry.h"

#include <cmath>

namespace ej::engine {

LinearSpec linear(std::vector<std::string> weights, std::vector<int64_t> rows, bool bias) {
  LinearSpec l;
  l.weights = std::move(weights);
  l.rows = std::move(rows);
  l.bias = bias;
  return l;
}

BlockSpec post_norm_block(int num_heads, int head_dim) {
  BlockSpec b;
  b.style = BlockSpec::kPostNorm;
  b.attn.num_heads = b.attn.num_kv_heads = num_heads;
  b.attn.head_dim = head_dim;
  b.attn.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  return b;
}

void bert_layout_ffn(BlockSpec* b, const std::string& p, int64_t hidden, int64_t intermediate,
                     Activation act, float eps) {
  b->mlp.up = linear({p + "intermediate.dense.weight"}, {intermediate}, true);
  b->mlp.down = linear({p + "output.dense.weight"}, {hidden}, true);
  b->mlp.act = act;
  b->norm2 = layer_norm(p + "output.LayerNorm", eps);
}

NormSpec layer_norm(std::string name, float eps, bool bias) {
  NormSpec n;
  n.kind = NormSpec::kLayerNorm;
  n.name = std::move(name);
  n.eps = eps;
  n.bias = bias;
  return n;
}

NormSpec rms_norm(std::string name, float eps, bool plus_one) {
  NormSpec n;
  n.kind = NormSpec::kRmsNorm;
  n.name = std::move(name);
  n.eps = eps;
  n.bias = false;
  n.plus_one = plus_one;
  return n;
}

std::shared_ptr<ArchSpec> map_architecture(const nlohmann::json& cfg, EncoderSpec* s,
                                           std::vector<std::string>* problems) {
  Config c(cfg, problems);
  const std::string t = c.string("model_type", "");
  s->model_type = t;
  ArchSpec a;
  if (t == "bert" || t == "xlm-roberta" || t == "roberta" || t == "camembert") {
    a = map_bert(c, s);
  } else if (t == "nomic_bert") {
    a = map_nomic_bert(c, s);
  } else if (t == "qwen2" || t == "qwen3") {
    a = map_qwen(c, s);
  } else if (t == "modernbert") {
    a = map_modernbert(c, s);
  } else if (t == "gemma3_text") {
    a = map_gemma3(c, s);
  } else if (t == "mpnet") {
    a = map_mpnet(c, s);
  } else {
    c.problem("model_type '" + t +
              "' is not supported (bert, xlm-roberta, roberta, camembert, nomic_bert, qwen2, "
              "qwen3, modernbert, gemma3_text, mpnet)");
    return nullptr;
  }
  s->vocab_size = a.vocab_size;
  s->hidden_size = a.hidden_size;
  s->num_layers = static_cast<int>(a.blocks.size());
  return std::make_shared<ArchSpec>(std::move(a));
}

}  // namespace ej::engine
