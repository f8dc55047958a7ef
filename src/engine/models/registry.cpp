#include "engine/models/registry.h"

namespace ej::engine {

LinearSpec linear(std::vector<std::string> weights, std::vector<int64_t> rows, bool bias) {
  LinearSpec l;
  l.weights = std::move(weights);
  l.rows = std::move(rows);
  l.bias = bias;
  return l;
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
