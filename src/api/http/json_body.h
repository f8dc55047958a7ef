// Bounded JSON decoding for request bodies: the nesting depth is checked while parsing (the
// parse stops at the first level past the limit), so a value that reaches the routes can be
// copied and walked recursively without running out of stack. Stateless; any thread.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace ej::api::http {

constexpr int kMaxJsonDepth = 64;

// Parses `text`; throws ej::Error(kInvalidArgument) naming what is wrong (syntax with its byte
// offset, or nesting deeper than `max_depth` arrays/objects).
nlohmann::json parse_bounded_json(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace ej::api::http
