// OpenAI's embeddings API beside Cohere's, on the same EmbeddingService, owners and keys:
// POST /v1/embeddings (cohere-api.md has no say here; OpenAI's API reference is the contract).
// Errors on these routes use OpenAI's body, {"error": {"message", "type", "param", "code"}},
// so OpenAI clients show the reason; authentication therefore runs inside the handler.
// Choices (docs/decisions.md, "OpenAI API"): token-id inputs are decoded with the model's
// tokenizer and embedded as text; inputs longer than the model's context are a 400 (as OpenAI
// does); `input_type` (not in OpenAI's API) may pick Cohere's input type, default
// search_document.
#include <cmath>

#include "api/router.h"
#include "common/error.h"
#include "common/log.h"
#include "service/embedding_service.h"
#include "service/embedding_types.h"
#include "service/model_registry.h"

namespace ej::api {

namespace {

constexpr size_t kMaxInputs = 2048;  // OpenAI's limit per request

// An error with the OpenAI field it is about (`param`), so the body can name it.
struct OpenAiError : Error {
  OpenAiError(ErrorCode code, std::string message, std::string param_name, std::string code_name)
      : Error(code, std::move(message)),
        param(std::move(param_name)),
        code_name(std::move(code_name)) {}
  std::string param;
  std::string code_name;
};

[[noreturn]] void invalid(const std::string& message, const std::string& param) {
  throw OpenAiError(ErrorCode::kInvalidArgument, message, param, "");
}

void send_openai_error(http::Response& res, int status, const std::string& message,
                       const std::string& param, const std::string& code) {
  res = http::Response();
  const char* type = status == 429   ? "rate_limit_error"
                     : status >= 500 ? "server_error"
                     : status == 401 ? "authentication_error"
                                     : "invalid_request_error";
  nlohmann::json err = {{"message", message},
                        {"type", type},
                        {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
                        {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}};
  if (status == 429 || status == 503) res.set_header("Retry-After", "1");
  send_json(res, status, {{"error", err}});
}

// Runs fn (which may throw) and answers OpenAI-style on failure. A 5xx names no internals.
template <typename Fn>
void openai_guarded(Ctx& ctx, Fn&& fn) {
  try {
    fn();
  } catch (const OpenAiError& e) {
    send_openai_error(ctx.res, http_status(e.code()), e.what(), e.param, e.code_name);
  } catch (const Error& e) {
    int status = http_status(e.code());
    std::string code = status == 401   ? "invalid_api_key"
                       : status == 404 ? "model_not_found"
                       : status == 429 ? "rate_limit_exceeded"
                                       : "";
    std::string message = status >= 500 ? "the server had an error while processing your request"
                                        : std::string(e.what());
    if (status >= 500) log_error(std::string("openai route: ") + e.what());
    send_openai_error(ctx.res, status, message, status == 404 ? "model" : "", code);
  } catch (const nlohmann::json::exception& e) {
    send_openai_error(ctx.res, 400, std::string("invalid request: ") + e.what(), "", "");
  } catch (const std::exception& e) {
    log_error(std::string("openai route: ") + e.what());
    send_openai_error(ctx.res, 500, "the server had an error while processing your request", "",
                      "");
  }
}

// `input`: a string, an array of strings, an array of token ids, or an array of such arrays.
std::vector<std::string> decode_input(const nlohmann::json& input,
                                      const service::ServedModel& model,
                                      service::EmbeddingService& embeddings) {
  auto ids_to_text = [&](const nlohmann::json& ids, const std::string& where) {
    std::vector<int32_t> tokens;
    for (const auto& t : ids) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX) {
        invalid(where + " must hold token ids (integers >= 0)", "input");
      }
      tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    if (tokens.empty()) invalid(where + " must not be empty", "input");
    return embeddings.detokenize(model, std::move(tokens));
  };
  std::vector<std::string> texts;
  if (input.is_string()) {
    texts.push_back(input.get<std::string>());
  } else if (input.is_array()) {
    if (input.empty()) invalid("'input' must not be an empty array", "input");
    if (input.size() > kMaxInputs) {
      invalid("'input' holds " + std::to_string(input.size()) + " items; at most " +
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
          invalid(where + " must be a string or an array of token ids", "input");
        }
      }
    }
  } else {
    invalid("'input' must be a string, an array of strings, or token ids", "input");
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty()) {
      invalid("'input[" + std::to_string(i) + "]' must not be an empty string", "input");
    }
  }
  return texts;
}

void embeddings_route(Ctx& ctx, Router& r) {
  const std::string owner = r.owner_of(ctx.req);
  nlohmann::json body = parse_json_body(ctx.req);
  if (!body.contains("model") || !body["model"].is_string()) {
    invalid("'model' is required and must be a string", "model");
  }
  if (!body.contains("input")) invalid("'input' is required", "input");
  const service::ServedModel& model = r.services().models->get(body["model"].get<std::string>());

  std::string format = "float";
  if (body.contains("encoding_format") && !body["encoding_format"].is_null()) {
    if (!body["encoding_format"].is_string())
      invalid("'encoding_format' must be a string", "encoding_format");
    format = body["encoding_format"].get<std::string>();
    if (format != "float" && format != "base64") {
      invalid("'encoding_format' must be 'float' or 'base64', got '" + format + "'",
              "encoding_format");
    }
  }
  const int full_dims = model.embedder->info().dims;
  int dims = full_dims;
  if (body.contains("dimensions") && !body["dimensions"].is_null()) {
    const auto& d = body["dimensions"];
    if (!d.is_number_integer() || d.get<int64_t>() < 1) {
      invalid("'dimensions' must be a positive integer", "dimensions");
    }
    dims = static_cast<int>(std::min<int64_t>(d.get<int64_t>(), INT32_MAX));
    const auto& allowed = model.output_dimensions;
    bool ok = dims == full_dims;
    for (int a : allowed) ok = ok || a == dims;
    if (!ok) {
      std::string list;
      for (int a : allowed) list += (list.empty() ? "" : ", ") + std::to_string(a);
      invalid(allowed.empty()
                  ? "model '" + model.name + "' does not support 'dimensions' (it makes " +
                        std::to_string(full_dims) + "-dimension embeddings only)"
                  : "'dimensions' must be one of " + list + " or " + std::to_string(full_dims) +
                        " for model '" + model.name + "'",
              "dimensions");
    }
  }
  if (body.contains("user") && !body["user"].is_null() && !body["user"].is_string()) {
    invalid("'user' must be a string", "user");
  }

  service::EmbedRequest request;
  request.texts = decode_input(body["input"], model, *r.services().embeddings);
  request.owner = owner;
  request.truncate = engine::Truncate::kNone;  // OpenAI refuses over-long inputs
  request.input_type = engine::InputType::kSearchDocument;
  if (body.contains("input_type") && body["input_type"].is_string()) {
    try {
      request.input_type = service::parse_input_type(body["input_type"].get<std::string>());
    } catch (const Error& e) {
      invalid(e.what(), "input_type");
    }
  }
  service::EmbedResult out =
      r.services().embeddings->embed(model, std::move(request), ctx.req.client_gone);

  nlohmann::json data = nlohmann::json::array();
  const size_t n = out.num_tokens.size();
  for (size_t i = 0; i < n; ++i) {
    std::span<const float> full(out.vectors.data() + i * static_cast<size_t>(full_dims),
                                static_cast<size_t>(full_dims));
    std::vector<float> v = dims == full_dims ? std::vector<float>(full.begin(), full.end())
                                             : service::truncate_dimensions(full, dims);
    nlohmann::json item = {{"object", "embedding"}, {"index", i}};
    if (format == "base64") {
      item["embedding"] = service::float_base64(v);
    } else {
      item["embedding"] = v;
    }
    data.push_back(std::move(item));
  }
  send_json(ctx.res, 200,
            {{"object", "list"},
             {"data", std::move(data)},
             {"model", model.name},
             {"usage", {{"prompt_tokens", out.total_tokens}, {"total_tokens", out.total_tokens}}}});
}

}  // namespace

void register_openai_routes(Router& r) {
  r.post(
      "/v1/embeddings", [&r](Ctx& ctx) { openai_guarded(ctx, [&] { embeddings_route(ctx, r); }); },
      false);
}

}  // namespace ej::api
