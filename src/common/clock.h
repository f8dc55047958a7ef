// Wall-clock helpers. Timestamps are microseconds since the Unix epoch (UTC) everywhere inside
// the server; they become RFC 3339 strings ending in 'Z' only at the API edge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ej {

int64_t now_us();
int64_t now_ms();
// 2024-01-15T09:30:00.123456Z
std::string format_rfc3339(int64_t micros_utc);
// Any RFC 3339 date-time ('Z' or +hh:mm offset, optional fraction); nullopt when malformed.
std::optional<int64_t> parse_rfc3339(std::string_view text);

}  // namespace ej
