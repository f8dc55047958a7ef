// Range requests for file downloads (RFC 9110 section 14): one byte range is honoured; a header
// asking for more than one (or one we do not understand) is ignored and the whole file is sent,
// which the RFC allows, so a request can never make the response larger than the file.
// Stateless; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace ej::api::http {

struct RangeResult {
  enum Kind { kWhole, kPartial, kUnsatisfiable } kind = kWhole;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// `header` is the Range header value ("" when absent); `size` the file's size.
RangeResult resolve_range(std::string_view header, uint64_t size);

}  // namespace ej::api::http
