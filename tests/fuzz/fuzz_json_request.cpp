// libFuzzer target: request body decoding for /v1/embed, /v2/embed and /v1/embed-jobs: the
// depth-bounded JSON parser every route uses (api/http/json_body.cpp), then the field decoders
// those routes share (service/embedding_types: embedding_types, input_type, truncate) on the
// fields of the decoded object, and a walk over texts / inputs as the routes make it. Only
// ej::Error (a 400) may come out; a sanitizer report, a crash or another exception fails.
#include <cstdint>

#include "api/http/json_body.h"
#include "common/error.h"
#include "service/embedding_types.h"

using nlohmann::json;

namespace {

std::string str(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json body;
  try {
    body = ej::api::http::parse_bounded_json(text);
  } catch (const ej::Error&) {
    return 0;
  }
  // The depth bound holds: dumping (recursive) the value cannot exhaust the stack.
  (void)body.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!body.is_object()) return 0;
  for (bool allow_base64 : {true, false}) {
    try {
      (void)ej::service::parse_embedding_types(body.value("embedding_types", json()), allow_base64);
    } catch (const ej::Error&) {
    }
  }
  try {
    (void)ej::service::parse_input_type(str(body, "input_type"));
  } catch (const ej::Error&) {
  }
  for (bool allow_none : {true, false}) {
    try {
      (void)ej::service::parse_truncate(str(body, "truncate"), allow_none);
    } catch (const ej::Error&) {
    }
  }
  // texts / inputs[].content[].text, read with the same checked accessors the routes use.
  if (auto it = body.find("texts"); it != body.end() && it->is_array()) {
    for (const auto& t : *it) {
      if (t.is_string()) (void)t.get<std::string>().size();
    }
  }
  if (auto it = body.find("inputs"); it != body.end() && it->is_array()) {
    for (const auto& in : *it) {
      if (!in.is_object() || !in.contains("content") || !in["content"].is_array()) continue;
      for (const auto& p : in["content"]) {
        if (p.is_object() && p.value("type", "") == "text" && p.contains("text") &&
            p["text"].is_string()) {
          (void)p["text"].get<std::string>().size();
        }
      }
    }
  }
  return 0;
}
