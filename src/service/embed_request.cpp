// Decoding of /v1/embed and /v2/embed bodies and the v2 response (moved here from
// api/routes_embed.cpp so that batch records share it).
#include "service/embed_request.h"

#include <algorithm>

#include "common/error.h"

namespace ej::service {

namespace {

constexpr size_t kMaxInputs = 96;

bool present(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && !it->is_null();
}

// Optional string field (null or absent -> ""); 400 naming the field when not a string.
std::string string_field(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_string()) throw_invalid(std::string(name) + " must be a string");
  return it->get<std::string>();
}

// A non-empty `images` / image content part: our models embed text only.
[[noreturn]] void throw_no_images(const ServedModel& model) {
  throw_invalid("invalid request: model '" + model.name +
                "' takes no images (it is a text embedding model); send texts");
}

// An image in the body: an error now when the model is known, else remembered.
void found_image(const ServedModel* model, EmbedCall* c) {
  if (model) throw_no_images(*model);
  c->has_images = true;
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
std::vector<std::string> inputs_field(const nlohmann::json& body, const ServedModel* model,
                                      EmbedCall* c) {
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
      if (type == "image_url") {
        found_image(model, c);
        continue;
      }
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

// Fields both versions share: input_type, truncate; collects deprecation warnings.
EmbedCall decode_common(const nlohmann::json& body, const ServedModel* model) {
  EmbedCall c;
  std::string input_type_s = string_field(body, "input_type");
  if (input_type_s.empty()) {
    throw_invalid("invalid request: valid input_type must be provided with the provided model");
  }
  c.request.input_type = parse_input_type(input_type_s);
  if (c.request.input_type == engine::InputType::kImage) found_image(model, &c);
  std::string truncate_s = string_field(body, "truncate");
  // LEFT / RIGHT: the names of START / END before v3 models.
  if (truncate_s == "LEFT" || truncate_s == "RIGHT") {
    c.warnings.push_back("Parameter truncate value " + truncate_s + " is deprecated, use " +
                         (truncate_s == "LEFT" ? "START" : "END"));
    truncate_s = truncate_s == "LEFT" ? "START" : "END";
  }
  c.request.truncate = parse_truncate(truncate_s.empty() ? "END" : truncate_s, true);
  // cohere 4.x sent these; embeddings were never compressed by them here.
  for (const char* old : {"compress", "compression_codebook"}) {
    if (present(body, old)) {
      c.warnings.push_back(std::string("Parameter ") + old +
                           " is deprecated and ignored; use embedding_types");
    }
  }
  return c;
}

// output_dimension for `model`: one of its Matryoshka dimensions.
int output_dimension_for(const nlohmann::json& v, const ServedModel& model) {
  const engine::ModelInfo& info = model.embedder->info();
  const auto& allowed = model.output_dimensions;
  std::string list;
  for (int d : allowed) list += (list.empty() ? "" : ", ") + std::to_string(d);
  if (allowed.empty()) {
    throw_invalid("invalid request: output_dimension is not supported by model '" + model.name +
                  "': it declares no Matryoshka dimensions (its embeddings have " +
                  std::to_string(info.dims) + ")");
  }
  if (!v.is_number_integer() ||
      std::find(allowed.begin(), allowed.end(), v.get<int64_t>()) == allowed.end()) {
    throw_invalid("invalid request: output_dimension must be one of " + list + " for model '" +
                  model.name + "'");
  }
  return v.get<int>();
}

}  // namespace

const ServedModel& embed_model(const nlohmann::json& body, const ModelRegistry& models) {
  std::string model_name = string_field(body, "model");
  if (model_name.empty()) throw_invalid("a model parameter is required for this endpoint.");
  return models.get(model_name);
}

EmbedCall decode_v1_embed(const nlohmann::json& body, const ServedModel& model) {
  EmbedCall c = decode_common(body, &model);
  if (present(body, "images") && body["images"].is_array() && !body["images"].empty()) {
    throw_no_images(model);
  }
  if (!present(body, "texts")) throw_invalid("invalid request: texts must be provided");
  c.request.texts = texts_field(body);
  check_count(c.request.texts.size(), "texts");
  c.by_type = present(body, "embedding_types");
  c.types = parse_embedding_types(body.value("embedding_types", nlohmann::json()), true);
  return c;
}

EmbedCall decode_v2_embed(const nlohmann::json& body, const ServedModel* model) {
  if (!body.is_object()) throw_invalid("invalid request: the body must be a JSON object");
  EmbedCall c = decode_common(body, model);
  // Exactly one of texts / images / inputs, non-empty (an empty `images: []` is no image).
  const bool has_texts = present(body, "texts");
  const bool has_inputs = present(body, "inputs");
  if (present(body, "images") && (!body["images"].is_array() || !body["images"].empty())) {
    found_image(model, &c);
  }
  if (has_texts && has_inputs) {
    throw_invalid("invalid request: send either texts or inputs, not both");
  }
  if (!has_texts && !has_inputs) {
    // A body of images only: without a model this is the image error, deferred.
    if (c.has_images) return c;
    throw_invalid("invalid request: texts or inputs must be provided");
  }
  c.request.texts = has_texts ? texts_field(body) : inputs_field(body, model, &c);
  check_count(c.request.texts.size(), has_texts ? "texts" : "inputs");
  c.request.max_tokens = int_field(body, "max_tokens", 1, 1 << 30, 0);
  c.request.priority = int_field(body, "priority", 0, 999, 0);
  c.types = parse_embedding_types(body.value("embedding_types", nlohmann::json()), true);
  if (present(body, "output_dimension")) {
    if (model) {
      c.output_dimension = output_dimension_for(body["output_dimension"], *model);
    } else if (!body["output_dimension"].is_number_integer() ||
               body["output_dimension"].get<int64_t>() <= 0) {
      throw_invalid("invalid request: output_dimension must be a positive integer");
    }
  }
  return c;
}

// cached_tokens: of `tokens`, served from the embedding cache (ApiMeta.cached_tokens).
nlohmann::json embed_meta(const char* version, int64_t tokens, int64_t cached_tokens,
                          const std::vector<std::string>& warnings) {
  nlohmann::json meta = {{"api_version", {{"version", version}}}};
  meta["billed_units"] = {{"input_tokens", tokens}};
  meta["tokens"] = {{"input_tokens", tokens}};
  meta["cached_tokens"] = cached_tokens;
  if (!warnings.empty()) meta["warnings"] = warnings;
  return meta;
}

nlohmann::json v2_embed_response(const EmbedCall& call, const EmbedResult& out,
                                 const ServedModel& model, const std::string& id) {
  const engine::ModelInfo& info = model.embedder->info();
  const size_t n = call.request.texts.size();
  const int dims = call.output_dimension > 0 ? call.output_dimension : info.dims;
  nlohmann::json embeddings;
  if (dims != info.dims) {
    std::vector<float> cut;
    cut.reserve(n * static_cast<size_t>(dims));
    for (size_t i = 0; i < n; ++i) {
      std::span<const float> v(out.vectors.data() + i * static_cast<size_t>(info.dims),
                               static_cast<size_t>(info.dims));
      std::vector<float> t = truncate_dimensions(v, dims);
      cut.insert(cut.end(), t.begin(), t.end());
    }
    embeddings = embeddings_by_type_json(cut, n, dims, info, call.types);
  } else {
    embeddings = embeddings_by_type_json(out.vectors, n, dims, info, call.types);
  }
  return {{"id", id},
          {"response_type", "embeddings_by_type"},
          {"embeddings", std::move(embeddings)},
          {"texts", call.request.texts},
          {"meta", embed_meta("2", out.total_tokens, out.cached_tokens, call.warnings)}};
}

nlohmann::json v1_embed_response(const EmbedCall& call, const EmbedResult& out,
                                 const ServedModel& model, const std::string& id) {
  const engine::ModelInfo& info = model.embedder->info();
  const size_t n = call.request.texts.size();
  nlohmann::json res = {{"id", id}, {"texts", call.request.texts}};
  if (call.by_type) {
    res["response_type"] = "embeddings_by_type";
    res["embeddings"] = embeddings_by_type_json(out.vectors, n, info.dims, info, call.types);
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
  res["meta"] = embed_meta("1", out.total_tokens, out.cached_tokens, call.warnings);
  return res;
}

}  // namespace ej::service
