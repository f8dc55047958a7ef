#include "common/error.h"
#include "engine/embedder.h"
#include "engine/lexical_embedder.h"
#include "engine/neural_embedder.h"

namespace ej::engine {

const char* compute_dtype_name(ComputeDType dtype) {
  switch (dtype) {
    case ComputeDType::kF32:
      return "fp32";
    case ComputeDType::kBF16:
      return "bf16";
    case ComputeDType::kInt8:
      return "int8";
  }
  return "fp32";
}

bool parse_compute_dtype(std::string_view name, ComputeDType* dtype) {
  if (name == "fp32" || name == "f32" || name == "float32") {
    *dtype = ComputeDType::kF32;
  } else if (name == "bf16" || name == "bfloat16") {
    *dtype = ComputeDType::kBF16;
  } else if (name == "int8") {
    *dtype = ComputeDType::kInt8;
  } else {
    return false;
  }
  return true;
}

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
