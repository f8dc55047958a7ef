// POST /v1/embed and POST /v2/embed (cohere-api.md section 4): request fields -> an
// EmbedRequest for the EmbeddingService (which tokenizes, schedules and embeds), and its
// vectors -> Cohere's response shapes through service/embedding_types (shared with jobs).
#include "api/cohere_types.h"
#include "api/router.h"
#include "common/error.h"
#include "common/ids.h"
#include "service/embedding_service.h"
#include "service/embedding_types.h"

namespace ej::api {

namespace {

constexpr size_t kMaxInputs = 96;

bool present(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && !it->is_null();
}

// A non-empty `images` / image content part: our models embed text only.
[[noreturn]] void throw_no_images(const service::ServedModel& model) {
  throw_invalid("invalid request: model '" + model.name +
                "' takes no images (it is a text embedding model); send texts");
}

// An integer field in [lo, hi], or `fallback` when absent / null.
int int_field(const nlohmann::json& body, const char* key, int lo, int hi, int fallback) {
  if (!present(body, key)) return fallback;
  const nlohmann::json& v = body[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    throw_invalid(std::string("invalid request: ") + key + " must be an integer between " +
                  std::to_string(lo) + " and " + std::to_string(hi));
  }
  return v.get<int>();
}

std::vector<std::string> texts_field(const nlohmann::json& body) {
  const nlohmann::json& j = body["texts"];
  if (!j.is_array()) throw_invalid("invalid request: texts must be an array of strings");
  std::vector<std::string> texts;
  texts.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) {
      throw_invalid("invalid request: texts[" + std::to_string(i) + "] must be a string");
    }
    texts.push_back(j[i].get<std::string>());
  }
  return texts;
}

// v2 `inputs`: [{"content": [{"type": "text", "text": ...}, ...]}]; the text parts of one input
// are joined with a newline.
std::vector<std::string> inputs_field(const nlohmann::json& body,
                                      const service::ServedModel& model) {
  const nlohmann::json& j = body["inputs"];
  if (!j.is_array()) throw_invalid("invalid request: inputs must be an array");
  std::vector<std::string> texts;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string where = "inputs[" + std::to_string(i) + "]";
    if (!j[i].is_object() || !j[i].contains("content") || !j[i]["content"].is_array()) {
      throw_invalid("invalid request: " + where + " must be an object with a content array");
    }
    std::string text;
    const nlohmann::json& parts = j[i]["content"];
    if (parts.empty()) throw_invalid("invalid request: " + where + ".content must not be empty");
    for (size_t k = 0; k < parts.size(); ++k) {
      const nlohmann::json& p = parts[k];
      const std::string pw = where + ".content[" + std::to_string(k) + "]";
      const std::string type = p.is_object() ? p.value("type", "") : "";
      if (type == "image_url") throw_no_images(model);
      if (type != "text" || !p.contains("text") || !p["text"].is_string()) {
        throw_invalid("invalid request: " + pw +
                      " must be {\"type\": \"text\", \"text\": string} or an image_url part");
      }
      if (!text.empty()) text += "\n";
      text += p["text"].get<std::string>();
    }
    texts.push_back(std::move(text));
  }
  return texts;
}

void check_count(size_t n, const char* what) {
  if (n == 0) throw_invalid(std::string("invalid request: ") + what + " must not be empty");
  if (n > kMaxInputs) {
    throw_invalid(std::string("invalid request: total number of ") + what +
                  " must be at most 96 - received " + std::to_string(n));
  }
}

// Fields both versions share: model, input_type, truncate. Collects deprecation warnings.
struct Common {
  const service::ServedModel* model = nullptr;
  service::EmbedRequest request;
  std::vector<std::string> warnings;
};

Common parse_common(const nlohmann::json& body, Router& r) {
  Common c;
  std::string model_name = string_field(body, "model");
  if (model_name.empty()) throw_invalid("a model parameter is required for this endpoint.");
  c.model = &r.services().models->get(model_name);
  std::string input_type_s = string_field(body, "input_type");
  if (input_type_s.empty()) {
    throw_invalid("invalid request: valid input_type must be provided with the provided model");
  }
  c.request.input_type = service::parse_input_type(input_type_s);
  if (c.request.input_type == engine::InputType::kImage) throw_no_images(*c.model);
  std::string truncate_s = string_field(body, "truncate");
  // LEFT / RIGHT: the names of START / END before v3 models.
  if (truncate_s == "LEFT" || truncate_s == "RIGHT") {
    c.warnings.push_back("Parameter truncate value " + truncate_s + " is deprecated, use " +
                         (truncate_s == "LEFT" ? "START" : "END"));
    truncate_s = truncate_s == "LEFT" ? "START" : "END";
  }
  c.request.truncate = service::parse_truncate(truncate_s.empty() ? "END" : truncate_s, true);
  // cohere 4.x sent these; embeddings were never compressed by them here.
  for (const char* old : {"compress", "compression_codebook"}) {
    if (present(body, old)) {
      c.warnings.push_back(std::string("Parameter ") + old +
                           " is deprecated and ignored; use embedding_types");
    }
  }
  return c;
}

void set_warnings(Ctx& ctx, const std::vector<std::string>& warnings, nlohmann::json* meta) {
  if (warnings.empty()) return;
  std::string header;
  for (const auto& w : warnings) header += (header.empty() ? "" : "; ") + w;
  ctx.res.set_header("X-API-Warning", header);
  (*meta)["warnings"] = warnings;
}

// cached_tokens: of `tokens`, served from the embedding cache (ApiMeta.cached_tokens).
nlohmann::json billed_meta(const char* version, int64_t tokens, int64_t cached_tokens) {
  nlohmann::json meta = api_meta(version);
  meta["billed_units"] = {{"input_tokens", tokens}};
  meta["tokens"] = {{"input_tokens", tokens}};
  meta["cached_tokens"] = cached_tokens;
  return meta;
}

void embed_v1(Ctx& ctx, Router& r) {
  nlohmann::json body = parse_json_body(ctx.req);
  Common c = parse_common(body, r);
  if (present(body, "images") && body["images"].is_array() && !body["images"].empty()) {
    throw_no_images(*c.model);
  }
  if (!present(body, "texts")) throw_invalid("invalid request: texts must be provided");
  c.request.texts = texts_field(body);
  c.request.owner = ctx.owner;  // embedding cache entries are per owner
  check_count(c.request.texts.size(), "texts");
  const bool by_type = present(body, "embedding_types");
  service::EmbeddingTypes types =
      service::parse_embedding_types(body.value("embedding_types", nlohmann::json()), true);
  const engine::ModelInfo& info = c.model->embedder->info();

  nlohmann::json texts_json = body["texts"];
  service::EmbedResult out =
      r.services().embeddings->embed(*c.model, std::move(c.request), ctx.req.client_gone);
  const size_t n = texts_json.size();
  nlohmann::json meta = billed_meta("1", out.total_tokens, out.cached_tokens);
  set_warnings(ctx, c.warnings, &meta);
  nlohmann::json res = {{"id", random_uuid()}, {"texts", std::move(texts_json)}};
  if (by_type) {
    res["response_type"] = "embeddings_by_type";
    res["embeddings"] = service::embeddings_by_type_json(out.vectors, n, info.dims, info, types);
  } else {
    res["response_type"] = "embeddings_floats";
    nlohmann::json list = nlohmann::json::array();
    const size_t d = static_cast<size_t>(info.dims);
    for (size_t i = 0; i < n; ++i) {
      list.push_back(std::vector<float>(out.vectors.begin() + static_cast<ptrdiff_t>(i * d),
                                        out.vectors.begin() + static_cast<ptrdiff_t>((i + 1) * d)));
    }
    res["embeddings"] = std::move(list);
  }
  res["meta"] = std::move(meta);
  send_json(ctx.res, 200, res);
}

void embed_v2(Ctx& ctx, Router& r) {
  nlohmann::json body = parse_json_body(ctx.req);
  Common c = parse_common(body, r);
  // Exactly one of texts / images / inputs, non-empty (an empty `images: []` is no image).
  const bool has_texts = present(body, "texts");
  const bool has_inputs = present(body, "inputs");
  if (present(body, "images") && (!body["images"].is_array() || !body["images"].empty())) {
    throw_no_images(*c.model);
  }
  if (has_texts && has_inputs) {
    throw_invalid("invalid request: send either texts or inputs, not both");
  }
  if (!has_texts && !has_inputs) throw_invalid("invalid request: texts or inputs must be provided");
  c.request.texts = has_texts ? texts_field(body) : inputs_field(body, *c.model);
  c.request.owner = ctx.owner;  // embedding cache entries are per owner
  check_count(c.request.texts.size(), has_texts ? "texts" : "inputs");
  c.request.max_tokens = int_field(body, "max_tokens", 1, 1 << 30, 0);
  c.request.priority = int_field(body, "priority", 0, 999, 0);
  service::EmbeddingTypes types =
      service::parse_embedding_types(body.value("embedding_types", nlohmann::json()), true);
  const engine::ModelInfo& info = c.model->embedder->info();
  int dims = info.dims;
  if (present(body, "output_dimension")) {
    const auto& allowed = c.model->output_dimensions;
    std::string list;
    for (int d : allowed) list += (list.empty() ? "" : ", ") + std::to_string(d);
    if (allowed.empty()) {
      throw_invalid("invalid request: output_dimension is not supported by model '" +
                    c.model->name +
                    "': it declares no Matryoshka dimensions (its embeddings have " +
                    std::to_string(info.dims) + ")");
    }
    const nlohmann::json& v = body["output_dimension"];
    if (!v.is_number_integer() ||
        std::find(allowed.begin(), allowed.end(), v.get<int64_t>()) == allowed.end()) {
      throw_invalid("invalid request: output_dimension must be one of " + list + " for model '" +
                    c.model->name + "'");
    }
    dims = v.get<int>();
  }
  nlohmann::json texts_json = c.request.texts;
  const size_t n = c.request.texts.size();
  service::EmbedResult out =
      r.services().embeddings->embed(*c.model, std::move(c.request), ctx.req.client_gone);
  if (dims != info.dims) {
    std::vector<float> cut;
    cut.reserve(n * static_cast<size_t>(dims));
    for (size_t i = 0; i < n; ++i) {
      std::span<const float> v(out.vectors.data() + i * static_cast<size_t>(info.dims),
                               static_cast<size_t>(info.dims));
      std::vector<float> t = service::truncate_dimensions(v, dims);
      cut.insert(cut.end(), t.begin(), t.end());
    }
    out.vectors = std::move(cut);
  }
  nlohmann::json meta = billed_meta("2", out.total_tokens, out.cached_tokens);
  set_warnings(ctx, c.warnings, &meta);
  send_json(ctx.res, 200,
            {{"id", random_uuid()},
             {"response_type", "embeddings_by_type"},
             {"embeddings", service::embeddings_by_type_json(out.vectors, n, dims, info, types)},
             {"texts", std::move(texts_json)},
             {"meta", std::move(meta)}});
}

}  // namespace

void register_embed_routes(Router& r) {
  r.post("/v1/embed", [&r](Ctx& ctx) { embed_v1(ctx, r); });
  r.post("/v2/embed", [&r](Ctx& ctx) { embed_v2(ctx, r); });
  // Registered from here so that http_server.cpp needs no change (see router.h).
  register_tokenize_routes(r);
}

}  // namespace ej::api
