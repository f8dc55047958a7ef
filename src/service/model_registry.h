// ModelRegistry: the models this server serves, by API name. Filled once at start-up
// (--model NAME=SOURCE), read-only afterwards, so lookups are thread-safe without locks.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/embedder.h"

namespace ej::service {

struct ServedModel {
  std::string name;
  std::shared_ptr<engine::Embedder> embedder;
};

class ModelRegistry {
 public:
  void add(const std::string& name, std::shared_ptr<engine::Embedder> embedder);
  // Throws ej::Error(kNotFound) with Cohere's message when the name is unknown.
  const ServedModel& get(const std::string& name) const;
  const ServedModel* find(const std::string& name) const;
  std::vector<const ServedModel*> list() const;
  bool empty() const { return models_.empty(); }

 private:
  std::map<std::string, ServedModel> models_;
};

// The name the built-in lexical model is served under when no --model is given.
inline constexpr const char* kLexicalModelName = "embedjobs-lexical-v1";

}  // namespace ej::service
