#include "api/http/range.h"

#include <charconv>

namespace ej::api::http {

namespace {
bool parse_u64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
}  // namespace

RangeResult resolve_range(std::string_view header, uint64_t size) {
  RangeResult whole{RangeResult::kWhole, 0, size};
  if (header.substr(0, 6) != "bytes=") return whole;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return whole;  // more than one range
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
  uint64_t a = 0, b = 0;
  if (first.empty()) {  // suffix range: the last N bytes
    if (!parse_u64(last, &b)) return whole;
    if (b == 0 || size == 0) return {RangeResult::kUnsatisfiable, 0, 0};
    uint64_t n = std::min(b, size);
    return {RangeResult::kPartial, size - n, n};
  }
  if (!parse_u64(first, &a)) return whole;
  if (last.empty()) {
    b = size == 0 ? 0 : size - 1;
  } else if (!parse_u64(last, &b) || b < a) {
    return whole;
  }
  if (a >= size) return {RangeResult::kUnsatisfiable, 0, 0};
  b = std::min(b, size - 1);
  return {RangeResult::kPartial, a, b - a + 1};
}

}  // namespace ej::api::http
