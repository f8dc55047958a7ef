#include "engine/neural_embedder.h"

#include "common/error.h"

namespace ej::engine {

std::shared_ptr<Embedder> open_neural_embedder(const std::string& source,
                                               const EngineOptions& /*options*/) {
  throw Error(ErrorCode::kNotImplemented,
              "neural models are not built yet; cannot load '" + source + "'");
}

}  // namespace ej::engine
