#include "service/openai_embeddings.h"

#include <algorithm>
#include <span>

#include "common/log.h"
#include "service/embedding_types.h"

namespace ej::service {

namespace {

constexpr size_t kMaxInputs = 2048;  // OpenAI's limit per request

// `input`: a string, an array of strings, an array of token ids, or an array of such arrays.
std::vector<std::string> decode_input(const nlohmann::json& input, const ServedModel& model,
                                      EmbeddingService& embeddings) {
  auto ids_to_text = [&](const nlohmann::json& ids, const std::string& where) {
    std::vector<int32_t> tokens;
    for (const auto& t : ids) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX) {
        openai_invalid(where + " must hold token ids (integers >= 0)", "input");
      }
      tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    if (tokens.empty()) openai_invalid(where + " must not be empty", "input");
    return embeddings.detokenize(model, std::move(tokens));
  };
  std::vector<std::string> texts;
  if (input.is_string()) {
    texts.push_back(input.get<std::string>());
  } else if (input.is_array()) {
    if (input.empty()) openai_invalid("'input' must not be an empty array", "input");
    if (input.size() > kMaxInputs) {
      openai_invalid("'input' holds " + std::to_string(input.size()) + " items; at most " +
                         std::to_string(kMaxInputs) + " are allowed per request",
                     "input");
    }
    if (input[0].is_number_integer()) {
      texts.push_back(ids_to_text(input, "'input'"));
    } else {
      for (size_t i = 0; i < input.size(); ++i) {
        const std::string where = "'input[" + std::to_string(i) + "]'";
        if (input[i].is_string()) {
          texts.push_back(input[i].get<std::string>());
        } else if (input[i].is_array()) {
          texts.push_back(ids_to_text(input[i], where));
        } else {
          openai_invalid(where + " must be a string or an array of token ids", "input");
        }
      }
    }
  } else {
    openai_invalid("'input' must be a string, an array of strings, or token ids", "input");
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty()) {
      openai_invalid("'input[" + std::to_string(i) + "]' must not be an empty string", "input");
    }
  }
  return texts;
}

int decode_dimensions(const nlohmann::json& body, const ServedModel& model) {
  const int full_dims = model.embedder->info().dims;
  if (!body.contains("dimensions") || body["dimensions"].is_null()) return full_dims;
  const auto& d = body["dimensions"];
  if (!d.is_number_integer() || d.get<int64_t>() < 1) {
    openai_invalid("'dimensions' must be a positive integer", "dimensions");
  }
  const int dims = static_cast<int>(std::min<int64_t>(d.get<int64_t>(), INT32_MAX));
  const auto& allowed = model.output_dimensions;
  bool ok = dims == full_dims;
  for (int a : allowed) ok = ok || a == dims;
  if (ok) return dims;
  std::string list;
  for (int a : allowed) list += (list.empty() ? "" : ", ") + std::to_string(a);
  openai_invalid(allowed.empty()
                     ? "model '" + model.name + "' does not support 'dimensions' (it makes " +
                           std::to_string(full_dims) + "-dimension embeddings only)"
                     : "'dimensions' must be one of " + list + " or " + std::to_string(full_dims) +
                           " for model '" + model.name + "'",
                 "dimensions");
}

}  // namespace

void openai_invalid(const std::string& message, const std::string& param) {
  throw OpenAiError(ErrorCode::kInvalidArgument, message, param, "");
}

nlohmann::json openai_error_body(int status, const std::string& message, const std::string& param,
                                 const std::string& code) {
  const char* type = status == 429   ? "rate_limit_error"
                     : status >= 500 ? "server_error"
                     : status == 401 ? "authentication_error"
                                     : "invalid_request_error";
  auto nullable = [](const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
  };
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", nullable(param)},
            {"code", nullable(code)}}}};
}

OpenAiFailure openai_failure(const std::exception& ex) {
  OpenAiFailure f;
  if (const auto* e = dynamic_cast<const OpenAiError*>(&ex)) {
    f.status = http_status(e->code());
    f.message = e->what();
    f.param = e->param;
    f.code = e->code_name;
  } else if (const auto* err = dynamic_cast<const Error*>(&ex)) {
    f.status = http_status(err->code());
    f.code = f.status == 401   ? "invalid_api_key"
             : f.status == 404 ? "model_not_found"
             : f.status == 429 ? "rate_limit_exceeded"
                               : "";
    f.param = f.status == 404 ? "model" : "";
    f.message = err->what();
  } else if (dynamic_cast<const nlohmann::json::exception*>(&ex)) {
    f.status = 400;
    f.message = std::string("invalid request: ") + ex.what();
  }
  if (f.status >= 500) {
    log_error(std::string("openai request: ") + ex.what());
    f.message = "the server had an error while processing your request";
    f.param.clear();
    f.code.clear();
  }
  return f;
}

std::string openai_model_name(const nlohmann::json& body) {
  if (!body.contains("model") || !body["model"].is_string()) {
    openai_invalid("'model' is required and must be a string", "model");
  }
  return body["model"].get<std::string>();
}

OpenAiEmbedCall decode_openai_embeddings(const nlohmann::json& body, const ServedModel& model,
                                         EmbeddingService& embeddings) {
  if (!body.contains("input")) openai_invalid("'input' is required", "input");
  OpenAiEmbedCall call;
  if (body.contains("encoding_format") && !body["encoding_format"].is_null()) {
    if (!body["encoding_format"].is_string()) {
      openai_invalid("'encoding_format' must be a string", "encoding_format");
    }
    const std::string format = body["encoding_format"].get<std::string>();
    if (format != "float" && format != "base64") {
      openai_invalid("'encoding_format' must be 'float' or 'base64', got '" + format + "'",
                     "encoding_format");
    }
    call.base64 = format == "base64";
  }
  call.dims = decode_dimensions(body, model);
  if (body.contains("user") && !body["user"].is_null() && !body["user"].is_string()) {
    openai_invalid("'user' must be a string", "user");
  }
  call.request.texts = decode_input(body["input"], model, embeddings);
  call.request.truncate = engine::Truncate::kNone;  // OpenAI refuses over-long inputs
  call.request.input_type = engine::InputType::kSearchDocument;
  if (body.contains("input_type") && body["input_type"].is_string()) {
    try {
      call.request.input_type = parse_input_type(body["input_type"].get<std::string>());
    } catch (const Error& e) {
      openai_invalid(e.what(), "input_type");
    }
  }
  return call;
}

nlohmann::json openai_embeddings_response(const OpenAiEmbedCall& call, const EmbedResult& out,
                                          const ServedModel& model) {
  const size_t full_dims = static_cast<size_t>(model.embedder->info().dims);
  nlohmann::json data = nlohmann::json::array();
  const size_t n = out.num_tokens.size();
  for (size_t i = 0; i < n; ++i) {
    std::span<const float> full(out.vectors.data() + i * full_dims, full_dims);
    std::vector<float> v = static_cast<size_t>(call.dims) == full_dims
                               ? std::vector<float>(full.begin(), full.end())
                               : truncate_dimensions(full, call.dims);
    nlohmann::json item = {{"object", "embedding"}, {"index", i}};
    if (call.base64) {
      item["embedding"] = float_base64(v);
    } else {
      item["embedding"] = v;
    }
    data.push_back(std::move(item));
  }
  return {{"object", "list"},
          {"data", std::move(data)},
          {"model", model.name},
          {"usage", {{"prompt_tokens", out.total_tokens}, {"total_tokens", out.total_tokens}}}};
}

}  // namespace ej::service
