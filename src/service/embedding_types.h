// Embedding types (float, int8, uint8, binary, ubinary, base64) requested by a client, and the
// conversion of float vectors into them. Stateless; thread-safe.
#pragma once

#include <cstdint>
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

}  // namespace ej::service
