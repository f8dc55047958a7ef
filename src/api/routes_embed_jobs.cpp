// /v1/embed-jobs routes.
#include "api/cohere_types.h"
#include "api/idempotency.h"
#include "api/router.h"
#include "service/job_service.h"

namespace ej::api {

void register_job_routes(Router& r) {
  r.post("/v1/embed-jobs", idempotent(r, [&r](Ctx& ctx) {
           nlohmann::json body = parse_json_body(ctx.req);
           service::CreateJobRequest req;
           req.model = string_field(body, "model");
           req.dataset_id = string_field(body, "dataset_id");
           if (req.dataset_id.empty()) req.dataset_id = string_field(body, "input_dataset_id");
           req.input_type = string_field(body, "input_type");
           req.name = string_field(body, "name");
           req.truncate = string_field(body, "truncate");
           if (body.contains("embedding_types")) req.embedding_types = body["embedding_types"];
           service::Job job = r.services().jobs->create(ctx.owner, req);
           send_json(ctx.res, 200, {{"job_id", job.id}, {"meta", api_meta("1")}});
         }));

  r.get("/v1/embed-jobs", [&r](Ctx& ctx) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& job : r.services().jobs->list(ctx.owner)) list.push_back(job_json(job));
    send_json(ctx.res, 200, {{"embed_jobs", list}});
  });

  r.get("/v1/embed-jobs/([^/]+)", [&r](Ctx& ctx) {
    send_json(ctx.res, 200, job_json(r.services().jobs->get(ctx.owner, ctx.req.matches[1])));
  });

  r.post("/v1/embed-jobs/([^/]+)/cancel", [&r](Ctx& ctx) {
    r.services().jobs->cancel(ctx.owner, ctx.req.matches[1]);
    send_json(ctx.res, 200, nlohmann::json::object());
  });
}

}  // namespace ej::api
