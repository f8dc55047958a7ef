// The neural encoder engine behind the Embedder interface (owned by the engine work, issue 3).
#pragma once

#include <memory>
#include <string>

#include "engine/embedder.h"

namespace ej::engine {

// source: a model folder in Hugging Face layout (or, later, a Hub repo id).
std::shared_ptr<Embedder> open_neural_embedder(const std::string& source,
                                               const EngineOptions& options);

}  // namespace ej::engine
