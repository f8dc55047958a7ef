#include "common/error.h"
#include "engine/embedder.h"
#include "engine/lexical_embedder.h"
#include "engine/model_source.h"
#include "engine/neural_embedder.h"

namespace ej::engine {

std::shared_ptr<Embedder> open_embedder(const std::string& source, const EngineOptions& options) {
  if (source == "lexical" || source == "builtin:lexical") {
    return std::make_shared<LexicalEmbedder>();
  }
  // A local folder, a repo id in the Hugging Face cache, or a download from the Hub.
  return open_neural_embedder(resolve_model_source(source), options);
}

}  // namespace ej::engine
