#include "common/error.h"
#include "engine/embedder.h"
#include "engine/lexical_embedder.h"
#include "engine/neural_embedder.h"

namespace ej::engine {

bool is_builtin_model(const std::string& source) {
  return source == "lexical" || source == "builtin:lexical";
}

std::shared_ptr<Embedder> open_embedder(const std::string& source, const EngineOptions& options) {
  if (is_builtin_model(source)) {
    return std::make_shared<LexicalEmbedder>();
  }
  // A local model folder (hub::resolve_model_source turns a repo id into one beforehand).
  return open_neural_embedder(source, options);
}

}  // namespace ej::engine
