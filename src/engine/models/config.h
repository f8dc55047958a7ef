// Config: typed reads of config.json keys for the architecture mappings, collecting a problem
// per missing / mistyped key ("config.json: ...") instead of throwing at the first.
// Thread-safety: single-threaded, used during load only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/model_spec.h"

namespace ej::engine {

class Config {
 public:
  Config(const nlohmann::json& j, std::vector<std::string>* problems) : j_(j), p_(problems) {}
  bool has(const char* key) const;
  int integer(const char* key, int dflt, bool required = false);
  double number(const char* key, double dflt, bool required = false);
  bool boolean(const char* key, bool dflt);
  std::string string(const char* key, const std::string& dflt);
  // An activation name (hidden_act style); records a problem when unknown.
  Activation activation(const char* key, const std::string& dflt);
  const nlohmann::json& json() const { return j_; }
  void problem(const std::string& p) { p_->push_back("config.json: " + p); }

 private:
  const nlohmann::json& j_;
  std::vector<std::string>* p_;
};

}  // namespace ej::engine
