#include "engine/models/config.h"

namespace ej::engine {

bool Config::has(const char* key) const {
  auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

int Config::integer(const char* key, int dflt, bool required) {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) {
    if (required) problem(std::string("missing '") + key + "'");
    return dflt;
  }
  if (!it->is_number_integer()) {
    problem(std::string("'") + key + "' is not an integer");
    return dflt;
  }
  return it->get<int>();
}

double Config::number(const char* key, double dflt, bool required) {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) {
    if (required) problem(std::string("missing '") + key + "'");
    return dflt;
  }
  if (!it->is_number()) {
    problem(std::string("'") + key + "' is not a number");
    return dflt;
  }
  return it->get<double>();
}

bool Config::boolean(const char* key, bool dflt) {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) {
    problem(std::string("'") + key + "' is not a boolean");
    return dflt;
  }
  return it->get<bool>();
}

std::string Config::string(const char* key, const std::string& dflt) {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return dflt;
  if (!it->is_string()) {
    problem(std::string("'") + key + "' is not a string");
    return dflt;
  }
  return it->get<std::string>();
}

Activation Config::activation(const char* key, const std::string& dflt) {
  const std::string name = string(key, dflt);
  Activation a = Activation::kGeluErf;
  if (!parse_activation(name, &a) || a == Activation::kIdentity) {
    problem(std::string(key) + " '" + name + "' is not supported");
  }
  return a;
}

}  // namespace ej::engine
