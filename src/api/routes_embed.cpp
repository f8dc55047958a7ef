// POST /v1/embed and POST /v2/embed (cohere-api.md section 4): the body is decoded and checked by
// service/embed_request (shared with batch records), embedded by the EmbeddingService (which
// tokenizes, schedules and embeds), and answered in Cohere's response shapes.
#include "api/router.h"
#include "common/error.h"
#include "common/ids.h"
#include "service/embed_request.h"
#include "service/embedding_service.h"

namespace ej::api {

namespace {

void set_warning_header(Ctx& ctx, const std::vector<std::string>& warnings) {
  if (warnings.empty()) return;
  std::string header;
  for (const auto& w : warnings) header += (header.empty() ? "" : "; ") + w;
  ctx.res.set_header("X-API-Warning", header);
}

void embed_v1(Ctx& ctx, Router& r) {
  nlohmann::json body = parse_json_body(ctx.req);
  const service::ServedModel& model = service::embed_model(body, *r.services().models);
  service::EmbedCall call = service::decode_v1_embed(body, model);
  call.request.owner = ctx.owner;  // embedding cache entries are per owner
  service::EmbedResult out =
      r.services().embeddings->embed(model, call.request, ctx.req.client_gone);
  set_warning_header(ctx, call.warnings);
  send_json(ctx.res, 200, service::v1_embed_response(call, out, model, random_uuid()));
}

void embed_v2(Ctx& ctx, Router& r) {
  nlohmann::json body = parse_json_body(ctx.req);
  const service::ServedModel& model = service::embed_model(body, *r.services().models);
  service::EmbedCall call = service::decode_v2_embed(body, &model);
  call.request.owner = ctx.owner;  // embedding cache entries are per owner
  service::EmbedResult out =
      r.services().embeddings->embed(model, call.request, ctx.req.client_gone);
  set_warning_header(ctx, call.warnings);
  send_json(ctx.res, 200, service::v2_embed_response(call, out, model, random_uuid()));
}

}  // namespace

void register_embed_routes(Router& r) {
  r.post("/v1/embed", [&r](Ctx& ctx) { embed_v1(ctx, r); });
  r.post("/v2/embed", [&r](Ctx& ctx) { embed_v2(ctx, r); });
  // Registered from here so that http_server.cpp needs no change (see router.h).
  register_tokenize_routes(r);
}

}  // namespace ej::api
