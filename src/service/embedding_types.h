// Embedding types (float, int8, uint8, binary, ubinary, base64) requested by a client, and the
// conversion of float vectors into them: the ONE place embeddings change form, shared by sync
// embed (api/routes_embed.cpp) and embed jobs (job_service.cpp). Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/embedder.h"

namespace ej::service {

struct EmbeddingTypes {
  bool float_ = false, int8 = false, uint8 = false, binary = false, ubinary = false, base64 = false;
  std::vector<std::string> names() const;  // in the canonical order
};

// Parses a JSON array of type names; absent/null -> float only. Throws a 400 naming the bad
// value. `allow_base64` is false for jobs (their output has no base64 field).
EmbeddingTypes parse_embedding_types(const nlohmann::json& value, bool allow_base64);

engine::InputType parse_input_type(const std::string& s);  // throws 400
std::string input_type_name(engine::InputType t);
engine::Truncate parse_truncate(const std::string& s, bool allow_none);  // throws 400
std::string truncate_name(engine::Truncate t);

// One embedding in the requested quantized types (only the requested members are filled).
struct ConvertedEmbedding {
  std::vector<int8_t> int8, binary;
  std::vector<uint8_t> uint8, ubinary;
};
void convert_embedding(std::span<const float> v, const engine::ModelInfo& info,
                       const EmbeddingTypes& types, ConvertedEmbedding* out);

// base64 of the float32 values, little-endian (as on x86-64).
std::string float_base64(std::span<const float> v);

// Matryoshka output_dimension: the first `dims` components, L2-renormalized.
std::vector<float> truncate_dimensions(std::span<const float> v, int dims);

// {"float": [[...]], "int8": [[...]], ...} with only the requested keys, for n vectors of
// `dims` floats each (row-major).
nlohmann::json embeddings_by_type_json(std::span<const float> vectors, size_t n, int dims,
                                       const engine::ModelInfo& info, const EmbeddingTypes& types);

}  // namespace ej::service
