#include "service/model_registry.h"

#include "common/error.h"

namespace ej::service {

ServedModel& ModelRegistry::add(const std::string& name, std::shared_ptr<engine::Embedder> embedder,
                                std::string identity, std::vector<int> output_dimensions) {
  if (identity.empty()) identity = embedder->info().kind + ":" + embedder->info().source;
  ServedModel& m = models_[name];
  m = ServedModel{name, std::move(embedder), std::move(identity), std::move(output_dimensions)};
  if (default_name_.empty()) default_name_ = name;
  return m;
}

const ServedModel* ModelRegistry::find(const std::string& name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

const ServedModel& ModelRegistry::get(const std::string& name) const {
  const ServedModel* m = find(name);
  if (!m) {
    std::string served;
    for (const auto& [served_name, model] : models_) {
      served += (served.empty() ? "" : ", ") + served_name;
    }
    throw_not_found("model '" + name +
                    "' not found, make sure the correct model ID was used and that you have "
                    "access to the model. This server serves: " +
                    (served.empty() ? std::string("no models") : served) + ".");
  }
  return *m;
}

std::vector<const ServedModel*> ModelRegistry::list() const {
  std::vector<const ServedModel*> out;
  for (const auto& [name, m] : models_) out.push_back(&m);
  return out;
}

}  // namespace ej::service
