// libFuzzer target: the streaming multipart/form-data parser (api/http/multipart.cpp), fed in
// pieces whose sizes come from the input, and the boundary parameter of a Content-Type.
// Input: [piece size byte][boundary-selector byte][body]. Checks that the parts' data adds up to
// no more than the body and that only ej::Error (a 400) leaves the parser.
#include <cstdint>
#include <string>

#include "api/http/multipart.h"
#include "common/error.h"
#include "fuzz_input.h"

using ej::api::http::MultipartParser;
using ej::api::http::MultipartPart;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ej::fuzz::Bytes in(data, size);
  const size_t piece = 1 + in.take(63);
  const uint8_t sel = in.take();
  std::string_view body = in.rest();
  std::string boundary = "XyZ";
  try {
    if (sel & 1) {
      // The boundary comes from a Content-Type header made of the first line of the body.
      size_t nl = body.find('\n');
      std::string_view ct = body.substr(0, nl);
      boundary = ej::api::http::multipart_boundary(ct);
      body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    }
  } catch (const ej::Error&) {
    return 0;
  }
  size_t data_bytes = 0;
  int parts = 0;
  MultipartParser parser(
      boundary,
      [&](const MultipartPart& p) {
        ++parts;
        return p.name != "stop";
      },
      [&](const char*, size_t len) {
        data_bytes += len;
        return true;
      });
  try {
    for (size_t off = 0; off < body.size(); off += piece) {
      if (!parser.feed(body.data() + off, std::min(piece, body.size() - off))) break;
    }
    parser.finish();
  } catch (const ej::Error&) {
  }
  if (data_bytes > body.size()) __builtin_trap();
  return 0;
}
