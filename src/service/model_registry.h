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
  // What exactly is served under `name` (a digest of the model's files, or the built-in model's
  // version): a job records it when it starts and refuses to continue under another.
  std::string identity;
  // Matryoshka dimensions the model was trained for (--output-dimensions): output_dimension may
  // pick one; the vector is then cut to it and L2-renormalized. Empty: output_dimension is a 400.
  std::vector<int> output_dimensions;
  // The compute dtype the model runs in ("fp32", "bf16", "int8"; set where the model is loaded):
  // part of the embedding cache key, since vectors differ by dtype.
  std::string dtype = "fp32";
  // Whether its vectors go through the embedding cache: not for the built-in lexical model,
  // which computes a vector faster than the cache finds one.
  bool cached = true;
};

class ModelRegistry {
 public:
  // identity: see ServedModel; empty means the embedder's kind and source.
  // Returns the added model (to set the fields add() does not take).
  ServedModel& add(const std::string& name, std::shared_ptr<engine::Embedder> embedder,
                   std::string identity = "", std::vector<int> output_dimensions = {});
  // Throws ej::Error(kNotFound) with Cohere's message when the name is unknown.
  const ServedModel& get(const std::string& name) const;
  const ServedModel* find(const std::string& name) const;
  std::vector<const ServedModel*> list() const;
  // The default model (for /v1/models?default_only=true): the first one added.
  const ServedModel* default_model() const { return find(default_name_); }
  bool empty() const { return models_.empty(); }

 private:
  std::map<std::string, ServedModel> models_;
  std::string default_name_;
};

// The name the built-in lexical model is served under when no --model is given.
inline constexpr const char* kLexicalModelName = "embedjobs-lexical-v1";
// The identity of the built-in lexical model (bump when its output changes).
inline constexpr const char* kLexicalModelIdentity = "builtin:lexical-v1";

}  // namespace ej::service
