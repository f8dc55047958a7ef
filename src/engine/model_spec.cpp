#include "engine/model_spec.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "engine/models/registry.h"

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

  // The architecture mapping (models/<type>.cpp) fills the generic fields.
  s.arch = map_architecture(cfg, &s, &problems);

  // Context length: sentence_bert_config.json max_seq_length, else what the positions allow.
  int pos_limit = s.arch != nullptr && s.arch->max_positions > 0 ? s.arch->max_positions
                                                                 : std::numeric_limits<int>::max();
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
  for (const json* src : {&stc, &cfg}) {
    for (const char* key : {"matryoshka_dims", "matryoshka_dimensions"}) {
      auto it = src->is_object() ? src->find(key) : src->end();
      if (!src->is_object() || it == src->end() || !it->is_array() || !s.matryoshka_dims.empty()) {
        continue;
      }
      for (const auto& d : *it) {
        if (!d.is_number_integer() || d.get<int>() <= 0 || d.get<int>() > dims) {
          problems.push_back(std::string(key) + ": " + d.dump() + " is not a size in 1.." +
                             std::to_string(dims));
          continue;
        }
        s.matryoshka_dims.push_back(d.get<int>());
      }
      std::sort(s.matryoshka_dims.begin(), s.matryoshka_dims.end());
    }
  }

  if (!problems.empty()) {
    std::string msg = "cannot load model '" + dir.string() + "':";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(ErrorCode::kInvalidArgument, msg);
  }
  return s;
}

}  // namespace ej::engine
