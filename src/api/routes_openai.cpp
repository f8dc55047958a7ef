// OpenAI's embeddings API beside Cohere's, on the same EmbeddingService, owners and keys:
// POST /v1/embeddings (cohere-api.md has no say here; OpenAI's API reference is the contract;
// the request and response are service/openai_embeddings.h). Errors on these routes use
// OpenAI's body, {"error": {"message", "type", "param", "code"}}, so OpenAI clients show the
// reason; authentication therefore runs inside the handler. The Files and Batch APIs are in
// routes_openai_batch.cpp.
#include "api/routes_openai.h"

#include "service/embedding_service.h"
#include "service/model_registry.h"

namespace ej::api {

namespace {

void embeddings_route(Ctx& ctx, Router& r) {
  const std::string owner = r.owner_of(ctx.req);
  nlohmann::json body = parse_json_body(ctx.req);
  const std::string name = service::openai_model_name(body);
  if (!body.contains("input")) service::openai_invalid("'input' is required", "input");
  const service::ServedModel& model = r.services().models->get(name);
  service::OpenAiEmbedCall call =
      service::decode_openai_embeddings(body, model, *r.services().embeddings);
  call.request.owner = owner;
  service::EmbedResult out =
      r.services().embeddings->embed(model, std::move(call.request), ctx.req.client_gone);
  send_json(ctx.res, 200, service::openai_embeddings_response(call, out, model));
}

}  // namespace

void send_openai_error(http::Response& res, int status, const std::string& message,
                       const std::string& param, const std::string& code) {
  res = http::Response();
  if (status == 429 || status == 503) res.set_header("Retry-After", "1");
  send_json(res, status, service::openai_error_body(status, message, param, code));
}

void register_openai_routes(Router& r) {
  r.post(
      "/v1/embeddings", [&r](Ctx& ctx) { openai_guarded(ctx, [&] { embeddings_route(ctx, r); }); },
      false);
  register_openai_batch_routes(r);
}

}  // namespace ej::api
