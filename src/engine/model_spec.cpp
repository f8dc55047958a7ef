#include "engine/model_spec.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"

namespace ej::engine {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

bool read_json(const fs::path& p, json* out, std::vector<std::string>* problems) {
  std::ifstream in(p);
  if (!in) return false;
  try {
    *out = json::parse(in);
  } catch (const std::exception& e) {
    problems->push_back(p.string() + ": not valid JSON (" + e.what() + ")");
    return false;
  }
  return true;
}

int get_int(const json& j, const char* key, int dflt, std::vector<std::string>* problems,
            bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) problems->push_back(std::string("config.json: missing '") + key + "'");
    return dflt;
  }
  if (!it->is_number_integer()) {
    problems->push_back(std::string("config.json: '") + key + "' is not an integer");
    return dflt;
  }
  return it->get<int>();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool parse_activation(const std::string& name, Activation* out) {
  // config.json hidden_act values (transformers ACT2FN) and torch module class names.
  std::string n = name;
  auto dot = n.rfind('.');
  if (dot != std::string::npos) n = n.substr(dot + 1);  // torch.nn.modules.activation.Tanh
  if (n == "gelu" || n == "GELU") {
    *out = Activation::kGeluErf;
  } else if (n == "gelu_new" || n == "gelu_pytorch_tanh" || n == "gelu_fast" ||
             n == "NewGELUActivation" || n == "PytorchGELUTanh" || n == "FastGELUActivation") {
    *out = Activation::kGeluTanh;
  } else if (n == "quick_gelu" || n == "QuickGELUActivation") {
    *out = Activation::kQuickGelu;
  } else if (n == "relu" || n == "ReLU") {
    *out = Activation::kRelu;
  } else if (n == "silu" || n == "swish" || n == "SiLU") {
    *out = Activation::kSilu;
  } else if (n == "tanh" || n == "Tanh") {
    *out = Activation::kTanh;
  } else if (n == "sigmoid" || n == "Sigmoid") {
    *out = Activation::kSigmoid;
  } else if (n == "linear" || n == "Identity" || n == "identity") {
    *out = Activation::kIdentity;
  } else {
    return false;
  }
  return true;
}

EncoderSpec read_encoder_spec(const fs::path& dir) {
  EncoderSpec s;
  s.dir = dir;
  std::vector<std::string> problems;
  if (!fs::is_directory(dir)) {
    throw Error(ErrorCode::kNotFound, "model folder '" + dir.string() + "' does not exist");
  }
  json cfg;
  if (!read_json(dir / "config.json", &cfg, &problems)) {
    if (problems.empty()) problems.push_back("config.json: missing");
    std::string msg = "cannot load model '" + dir.string() + "':";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(ErrorCode::kInvalidArgument, msg);
  }

  s.model_type = cfg.value("model_type", std::string());
  if (s.model_type == "bert") {
    s.family = ModelFamily::kBert;
  } else if (s.model_type == "xlm-roberta" || s.model_type == "roberta" ||
             s.model_type == "camembert") {
    s.family = ModelFamily::kXlmRoberta;
  } else {
    problems.push_back("config.json: model_type '" + s.model_type +
                       "' is not supported (bert, xlm-roberta, roberta, camembert)");
  }
  s.vocab_size = get_int(cfg, "vocab_size", 0, &problems, true);
  s.hidden_size = get_int(cfg, "hidden_size", 0, &problems, true);
  s.num_layers = get_int(cfg, "num_hidden_layers", 0, &problems, true);
  s.num_heads = get_int(cfg, "num_attention_heads", 0, &problems, true);
  s.intermediate_size = get_int(cfg, "intermediate_size", 0, &problems, true);
  s.max_position_embeddings = get_int(cfg, "max_position_embeddings", 512, &problems, false);
  s.type_vocab_size = get_int(cfg, "type_vocab_size", 2, &problems, false);
  s.pad_token_id =
      get_int(cfg, "pad_token_id", s.family == ModelFamily::kBert ? 0 : 1, &problems, false);
  s.position_offset = s.family == ModelFamily::kXlmRoberta ? s.pad_token_id + 1 : 0;
  if (auto it = cfg.find("layer_norm_eps"); it != cfg.end() && it->is_number()) {
    s.layer_norm_eps = it->get<float>();
  }
  std::string act = cfg.value("hidden_act", std::string("gelu"));
  if (!parse_activation(act, &s.hidden_act) || s.hidden_act == Activation::kIdentity) {
    problems.push_back("config.json: hidden_act '" + act + "' is not supported");
  }
  std::string pos_type = cfg.value("position_embedding_type", std::string("absolute"));
  if (pos_type != "absolute") {
    problems.push_back("config.json: position_embedding_type '" + pos_type +
                       "' is not supported (absolute only)");
  }
  if (s.hidden_size > 0 && s.num_heads > 0 && s.hidden_size % s.num_heads != 0) {
    problems.push_back("config.json: hidden_size is not a multiple of num_attention_heads");
  }
  if (s.type_vocab_size < 1) s.type_vocab_size = 1;

  // Context length: sentence_bert_config.json max_seq_length, else what the positions allow.
  int pos_limit = s.max_position_embeddings - s.position_offset;
  s.max_seq_length = pos_limit;
  json sb;
  if (read_json(dir / "sentence_bert_config.json", &sb, &problems)) {
    if (auto it = sb.find("max_seq_length"); it != sb.end() && it->is_number_integer()) {
      s.max_seq_length = std::min(it->get<int>(), pos_limit);
    }
  }
  if (s.max_seq_length < 2) problems.push_back("max_seq_length is below 2");

  json stc;
  if (read_json(dir / "config_sentence_transformers.json", &stc, &problems)) {
    if (auto it = stc.find("prompts"); it != stc.end() && it->is_object()) {
      for (auto p = it->begin(); p != it->end(); ++p) {
        if (p.value().is_string()) s.prompts[p.key()] = p.value().get<std::string>();
      }
    }
    if (auto it = stc.find("default_prompt_name"); it != stc.end() && it->is_string()) {
      s.default_prompt_name = it->get<std::string>();
    }
  }

  // modules.json: Transformer, Pooling, then Dense / Normalize steps in order. Without it, the
  // folder is a plain transformers model: mean pooling (1_Pooling/config.json if present).
  json modules;
  int dims = s.hidden_size;
  bool have_pooling = false;
  auto read_pooling = [&](const fs::path& pdir) {
    json pc;
    if (!read_json(pdir / "config.json", &pc, &problems)) {
      problems.push_back((pdir / "config.json").string() + ": missing");
      return;
    }
    PoolingSpec& p = s.pooling;
    p.cls = pc.value("pooling_mode_cls_token", false);
    p.max = pc.value("pooling_mode_max_tokens", false);
    p.mean = pc.value("pooling_mode_mean_tokens", false);
    p.mean_sqrt_len = pc.value("pooling_mode_mean_sqrt_len_tokens", false);
    p.weighted_mean = pc.value("pooling_mode_weightedmean_tokens", false);
    p.last_token = pc.value("pooling_mode_lasttoken", false);
    p.include_prompt = pc.value("include_prompt", true);
    if (p.num_modes() == 0) problems.push_back(pdir.string() + "/config.json: no pooling mode set");
    int wdim = pc.value("word_embedding_dimension", s.hidden_size);
    if (wdim != s.hidden_size) {
      problems.push_back(pdir.string() + "/config.json: word_embedding_dimension " +
                         std::to_string(wdim) + " != hidden_size " + std::to_string(s.hidden_size));
    }
    dims = s.hidden_size * std::max(1, p.num_modes());
    have_pooling = true;
  };
  if (read_json(dir / "modules.json", &modules, &problems) && modules.is_array()) {
    for (const auto& m : modules) {
      std::string type = m.value("type", std::string());
      std::string path = m.value("path", std::string());
      if (ends_with(type, "models.Transformer")) {
        continue;
      } else if (ends_with(type, "models.Pooling")) {
        read_pooling(dir / path);
      } else if (ends_with(type, "models.Normalize")) {
        s.post.push_back({PostStep::kNormalize, -1});
        s.normalize = true;
      } else if (ends_with(type, "models.Dense")) {
        DenseSpec d;
        d.dir = dir / path;
        json dc;
        if (!read_json(d.dir / "config.json", &dc, &problems)) {
          problems.push_back((d.dir / "config.json").string() + ": missing");
          continue;
        }
        d.in_features = dc.value("in_features", 0);
        d.out_features = dc.value("out_features", 0);
        d.bias = dc.value("bias", true);
        std::string a =
            dc.value("activation_function", std::string("torch.nn.modules.activation.Tanh"));
        if (!parse_activation(a, &d.activation)) {
          problems.push_back(path + "/config.json: activation_function '" + a +
                             "' is not supported");
        }
        if (d.in_features != dims) {
          problems.push_back(path + "/config.json: in_features " + std::to_string(d.in_features) +
                             " != " + std::to_string(dims) + " (the dims coming in)");
        }
        if (!fs::exists(d.dir / "model.safetensors")) {
          problems.push_back(path + "/model.safetensors: missing (only safetensors is supported)");
        }
        dims = d.out_features;
        s.post.push_back({PostStep::kDense, static_cast<int>(s.dense.size())});
        s.dense.push_back(std::move(d));
      } else {
        problems.push_back("modules.json: module type '" + type + "' is not supported");
      }
    }
  }
  if (!have_pooling && fs::exists(dir / "1_Pooling" / "config.json"))
    read_pooling(dir / "1_Pooling");
  s.embedding_dim = dims;

  if (!problems.empty()) {
    std::string msg = "cannot load model '" + dir.string() + "':";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(ErrorCode::kInvalidArgument, msg);
  }
  return s;
}

}  // namespace ej::engine
