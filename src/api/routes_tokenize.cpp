// POST /v1/tokenize, POST /v1/detokenize, POST /v1/check-api-key. Tokenization runs on the
// EmbeddingService's tokenizer threads, not here.
#include "api/cohere_types.h"
#include "api/router.h"
#include "common/error.h"
#include "service/embedding_service.h"

namespace ej::api {

namespace {

constexpr size_t kMaxTextChars = 65536;  // Cohere's limit for /v1/tokenize
constexpr size_t kMaxTokens = 65536;

const service::ServedModel& model_field(const nlohmann::json& body, Router& r) {
  std::string name = string_field(body, "model");
  if (name.empty()) throw_invalid("a model parameter is required for this endpoint.");
  return r.services().models->get(name);
}

void tokenize(Ctx& ctx, Router& r) {
  nlohmann::json body = parse_json_body(ctx.req);
  if (!body.contains("text") || !body["text"].is_string()) {
    throw_invalid("invalid request: text must be a string");
  }
  std::string text = body["text"].get<std::string>();
  if (text.empty() || text.size() > kMaxTextChars) {
    throw_invalid("invalid request: text must be 1 to 65536 characters long, got " +
                  std::to_string(text.size()));
  }
  const service::ServedModel& model = model_field(body, r);
  engine::TextTokens t = r.services().embeddings->tokenize(model, std::move(text));
  send_json(ctx.res, 200,
            {{"tokens", t.ids}, {"token_strings", t.strings}, {"meta", api_meta("1")}});
}

void detokenize(Ctx& ctx, Router& r) {
  nlohmann::json body = parse_json_body(ctx.req);
  if (!body.contains("tokens") || !body["tokens"].is_array()) {
    throw_invalid("invalid request: tokens must be an array of integers");
  }
  const nlohmann::json& tokens = body["tokens"];
  if (tokens.size() > kMaxTokens) {
    throw_invalid("invalid request: at most 65536 tokens, got " + std::to_string(tokens.size()));
  }
  std::vector<int32_t> ids;
  ids.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].is_number_integer() || tokens[i].get<int64_t>() < 0 ||
        tokens[i].get<int64_t>() > INT32_MAX) {
      throw_invalid("invalid request: tokens[" + std::to_string(i) +
                    "] must be a non-negative integer");
    }
    ids.push_back(tokens[i].get<int32_t>());
  }
  const service::ServedModel& model = model_field(body, r);
  std::string text = r.services().embeddings->detokenize(model, std::move(ids));
  send_json(ctx.res, 200, {{"text", text}, {"meta", api_meta("1")}});
}

}  // namespace

void register_tokenize_routes(Router& r) {
  r.post("/v1/tokenize", [&r](Ctx& ctx) { tokenize(ctx, r); });
  r.post("/v1/detokenize", [&r](Ctx& ctx) { detokenize(ctx, r); });
  // Authenticated like every route: a bad key is a 401 before this runs.
  r.post("/v1/check-api-key", [](Ctx& ctx) {
    send_json(ctx.res, 200,
              {{"valid", true}, {"owner_id", ctx.owner}, {"organization_id", ctx.owner}});
  });
}

}  // namespace ej::api
