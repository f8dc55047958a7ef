// /v2/batches routes (cohere-api.md section 6): create, list (page_size / page_token /
// order_by), retrieve, and cancel at the literal `:cancel` path; the Batch wire object with its
// BATCH_STATUS_* names (the one place they live) and int64 counters as strings.
#include "api/idempotency.h"
#include "api/router.h"
#include "common/clock.h"
#include "common/error.h"
#include "service/batch_service.h"

namespace ej::api {

namespace {

using service::BatchStatus;

const char* status_name(BatchStatus s) {
  switch (s) {
    case BatchStatus::kQueued:
      return "BATCH_STATUS_QUEUED";
    case BatchStatus::kInProgress:
      return "BATCH_STATUS_IN_PROGRESS";
    case BatchStatus::kCanceling:
      return "BATCH_STATUS_CANCELING";
    case BatchStatus::kCompleted:
      return "BATCH_STATUS_COMPLETED";
    case BatchStatus::kFailed:
      return "BATCH_STATUS_FAILED";
    case BatchStatus::kCanceled:
      return "BATCH_STATUS_CANCELED";  // one L, as Cohere emits it
  }
  return "BATCH_STATUS_UNSPECIFIED";
}

// A status a client filters by; both spellings of the cancel statuses (Cohere's notebook polls
// for BATCH_STATUS_CANCELLED).
BatchStatus parse_status(const std::string& s) {
  for (BatchStatus st : {BatchStatus::kQueued, BatchStatus::kInProgress, BatchStatus::kCanceling,
                         BatchStatus::kCompleted, BatchStatus::kFailed, BatchStatus::kCanceled}) {
    if (s == status_name(st)) return st;
  }
  if (s == "BATCH_STATUS_CANCELLED") return BatchStatus::kCanceled;
  if (s == "BATCH_STATUS_CANCELLING") return BatchStatus::kCanceling;
  throw_invalid(
      "status must be one of BATCH_STATUS_QUEUED, BATCH_STATUS_IN_PROGRESS, "
      "BATCH_STATUS_CANCELING, BATCH_STATUS_COMPLETED, BATCH_STATUS_FAILED, "
      "BATCH_STATUS_CANCELED (got '" +
      s + "')");
}

nlohmann::json batch_json(const service::Batch& b) {
  nlohmann::json j = {{"id", b.id},
                      {"name", b.name},
                      {"creator_id", b.owner},
                      {"org_id", b.owner},
                      {"status", status_name(b.status)},
                      {"created_at", format_rfc3339(b.created_us)},
                      {"updated_at", format_rfc3339(b.updated_us)},
                      {"input_dataset_id", b.input_dataset_id},
                      {"input_tokens", std::to_string(b.input_tokens)},
                      {"output_tokens", std::to_string(b.output_tokens)},
                      {"model", b.model},
                      {"num_records", b.num_records},
                      {"num_successful_records", b.num_successful_records},
                      {"num_failed_records", b.num_failed_records}};
  if (!b.output_dataset_id.empty()) j["output_dataset_id"] = b.output_dataset_id;
  if (!b.status_reason.empty()) j["status_reason"] = b.status_reason;
  return j;
}

service::ListBatchesRequest list_request(const http::Request& req) {
  service::ListBatchesRequest r;
  // int32 on the wire; 0 (unset) = the default, above 1000 = 1000.
  r.page_size = int_param(req, "page_size", 50, 0, INT32_MAX);
  if (r.page_size == 0) r.page_size = 50;
  r.page_size = std::min<int64_t>(r.page_size, 1000);
  r.page_token = req.get_param_value("page_token");
  // order_by: created_at (default) or updated_at, optionally followed by " asc" / " desc".
  std::string order = req.get_param_value("order_by");
  for (const char* dir : {" desc", " asc"}) {
    const std::string d(dir);
    if (order.size() > d.size() && order.compare(order.size() - d.size(), d.size(), d) == 0) {
      r.ascending = d == " asc";
      order.resize(order.size() - d.size());
    }
  }
  if (order == "updated_at") {
    r.by_updated = true;
  } else if (!order.empty() && order != "created_at") {
    throw_invalid(
        "order_by must be created_at or updated_at (optionally followed by asc or "
        "desc), got '" +
        req.get_param_value("order_by") + "'");
  }
  std::string status = req.get_param_value("status");
  if (!status.empty()) r.status = parse_status(status);
  return r;
}

}  // namespace

void register_batch_routes(Router& r) {
  // A retry with the same Idempotency-Key gets the first answer, not a second batch.
  r.post("/v2/batches", idempotent(r, [&r](Ctx& ctx) {
           nlohmann::json body = parse_json_body(ctx.req);
           service::CreateBatchRequest req;
           req.name = string_field(body, "name");
           req.input_dataset_id = string_field(body, "input_dataset_id");
           // Read-only Batch fields in the body are ignored.
           req.model = string_field(body, "model");
           send_json(ctx.res, 200,
                     {{"batch", batch_json(r.services().batches->create(ctx.owner, req))}});
         }));

  r.get("/v2/batches", [&r](Ctx& ctx) {
    service::BatchPage page = r.services().batches->list(ctx.owner, list_request(ctx.req));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& b : page.batches) list.push_back(batch_json(b));
    nlohmann::json res = {{"batches", std::move(list)}};
    if (!page.next_page_token.empty()) res["next_page_token"] = page.next_page_token;
    send_json(ctx.res, 200, res);
  });

  r.get("/v2/batches/([^/:]+)", [&r](Ctx& ctx) {
    send_json(ctx.res, 200,
              {{"batch", batch_json(r.services().batches->get(ctx.owner, ctx.req.matches[1]))}});
  });

  // The SDK sends no body (Content-Length: 0); a `{}` body is accepted too and not read.
  r.post("/v2/batches/([^/:]+):cancel", [&r](Ctx& ctx) {
    r.services().batches->cancel(ctx.owner, ctx.req.matches[1]);
    send_json(ctx.res, 200, nlohmann::json::object());
  });
}

}  // namespace ej::api
