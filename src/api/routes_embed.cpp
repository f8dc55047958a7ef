// POST /v2/embed: synchronous embedding (texts; float and the quantized types). Images, `inputs`
// and /v1/embed come with the sync-embedding work.
#include <atomic>

#include "api/cohere_types.h"
#include "api/router.h"
#include "common/error.h"
#include "common/ids.h"
#include "engine/quantize.h"
#include "service/embedding_types.h"

namespace ej::api {

namespace {

constexpr size_t kMaxTexts = 96;
constexpr int kMaxInFlight = 64;  // concurrent sync requests before 429
std::atomic<int> g_in_flight{0};

struct Permit {
  Permit() {
    if (g_in_flight.fetch_add(1) >= kMaxInFlight) {
      g_in_flight.fetch_sub(1);
      throw Error(ErrorCode::kResourceExhausted,
                  "too many embed requests in flight, please retry shortly");
    }
  }
  ~Permit() { g_in_flight.fetch_sub(1); }
};

std::string base64(const uint8_t* p, size_t n) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = static_cast<uint32_t>(p[i]) << 16;
    if (i + 1 < n) v |= static_cast<uint32_t>(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    out.push_back(kChars[(v >> 18) & 63]);
    out.push_back(kChars[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kChars[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kChars[v & 63] : '=');
  }
  return out;
}

void embed_v2(Ctx& ctx, Router& r) {
  nlohmann::json body = parse_json_body(ctx.req);
  std::string model_name = string_field(body, "model");
  if (model_name.empty()) throw_invalid("a model parameter is required for this endpoint.");
  std::string input_type_s = string_field(body, "input_type");
  if (input_type_s.empty()) {
    throw_invalid("invalid request: valid input_type must be provided with the provided model");
  }
  engine::InputType input_type = service::parse_input_type(input_type_s);
  if (input_type == engine::InputType::kImage) {
    throw_invalid("invalid request: images are not supported by this server yet");
  }
  for (const char* unsupported : {"images", "inputs"}) {
    if (body.contains(unsupported) && !body[unsupported].is_null()) {
      throw_invalid(std::string("invalid request: '") + unsupported +
                    "' is not supported by this server yet; send texts");
    }
  }
  if (body.contains("max_tokens") && !body["max_tokens"].is_null()) {
    throw_invalid("invalid request: max_tokens is not supported by this server yet");
  }
  if (body.contains("output_dimension") && !body["output_dimension"].is_null()) {
    throw_invalid("invalid request: output_dimension is only supported by embed-v4 models");
  }
  std::string truncate_s = string_field(body, "truncate");
  engine::Truncate truncate =
      service::parse_truncate(truncate_s.empty() ? "END" : truncate_s, true);
  nlohmann::json types_json = body.value("embedding_types", nlohmann::json());
  if (types_json.is_null()) types_json = nlohmann::json::array({"float"});
  service::EmbeddingTypes types = service::parse_embedding_types(types_json, true);

  if (!body.contains("texts") || !body["texts"].is_array()) {
    throw_invalid("invalid request: texts must be an array of strings");
  }
  const nlohmann::json& texts_json = body["texts"];
  if (texts_json.empty()) throw_invalid("invalid request: texts must not be empty");
  if (texts_json.size() > kMaxTexts) {
    throw_invalid("invalid request: total number of texts must be at most 96 - received " +
                  std::to_string(texts_json.size()));
  }
  std::vector<std::string_view> texts;
  for (size_t i = 0; i < texts_json.size(); ++i) {
    if (!texts_json[i].is_string()) {
      throw_invalid("invalid request: texts[" + std::to_string(i) + "] must be a string");
    }
    texts.push_back(texts_json[i].get_ref<const std::string&>());
  }
  const service::ServedModel& model = r.services().models->get(model_name);
  const engine::ModelInfo& info = model.embedder->info();

  Permit permit;
  engine::EmbedOutput out;
  model.embedder->embed(texts, input_type, truncate, &out);

  nlohmann::json emb = nlohmann::json::object();
  const size_t dims = static_cast<size_t>(info.dims);
  auto each = [&](const char* key, auto fn) {
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < texts.size(); ++i) {
      std::span<const float> v(out.vectors.data() + i * dims, dims);
      list.push_back(fn(v));
    }
    emb[key] = std::move(list);
  };
  if (types.float_) {
    each("float", [](std::span<const float> v) {
      return nlohmann::json(std::vector<float>(v.begin(), v.end()));
    });
  }
  if (types.int8) {
    each("int8", [&](std::span<const float> v) {
      return nlohmann::json(engine::quantize_int8(v, info.calib_lo, info.calib_hi));
    });
  }
  if (types.uint8) {
    each("uint8", [&](std::span<const float> v) {
      return nlohmann::json(engine::quantize_uint8(v, info.calib_lo, info.calib_hi));
    });
  }
  if (types.binary) {
    each("binary", [](std::span<const float> v) { return nlohmann::json(engine::pack_binary(v)); });
  }
  if (types.ubinary) {
    each("ubinary",
         [](std::span<const float> v) { return nlohmann::json(engine::pack_ubinary(v)); });
  }
  if (types.base64) {
    each("base64", [](std::span<const float> v) {
      // little-endian float32, as on x86-64
      return nlohmann::json(base64(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4));
    });
  }
  int64_t tokens = 0;
  for (int n : out.num_tokens) tokens += n;
  nlohmann::json meta = api_meta("2");
  meta["billed_units"] = {{"input_tokens", tokens}};
  meta["tokens"] = {{"input_tokens", tokens}};
  send_json(ctx.res, 200,
            {{"id", random_uuid()},
             {"response_type", "embeddings_by_type"},
             {"embeddings", emb},
             {"texts", texts_json},
             {"meta", meta}});
}

}  // namespace

void register_embed_routes(Router& r) {
  r.post("/v2/embed", [&r](Ctx& ctx) { embed_v2(ctx, r); });
}

}  // namespace ej::api
