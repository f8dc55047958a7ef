#include "service/batch_service.h"

#include <charconv>

#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "service/ingest/batch_input.h"
#include "service/job_service.h"
#include "store/store.h"

namespace ej::service {

namespace {

constexpr const char* kKind = "batch";

BatchStatus batch_status(const store::JobRow& row) {
  switch (row.status) {
    case JobStatus::kProcessing:
      // started_us: set by the first claim of one of its chunks (or of its final step).
      return row.started_us == 0 ? BatchStatus::kQueued : BatchStatus::kInProgress;
    case JobStatus::kCancelling:
      return BatchStatus::kCanceling;
    case JobStatus::kCancelled:
      return BatchStatus::kCanceled;
    case JobStatus::kComplete:
      return BatchStatus::kCompleted;
    case JobStatus::kFailed:
      return BatchStatus::kFailed;
  }
  return BatchStatus::kFailed;
}

Batch to_batch(store::Store& store, const store::JobRow& row) {
  Batch b;
  b.id = row.id;
  b.name = row.name;
  b.owner = row.owner;
  b.status = batch_status(row);
  b.input_dataset_id = row.input_dataset_id;
  b.output_dataset_id = row.output_dataset_id;
  b.model = row.model;
  b.created_us = row.created_us;
  b.updated_us = row.updated_us;
  b.num_records = row.total_rows;
  b.num_failed_records = row.rows_done > 0 ? store.failed_rows(row.id) : 0;
  b.num_successful_records = row.rows_done - b.num_failed_records;
  b.input_tokens = row.input_tokens;
  if (b.status == BatchStatus::kFailed) {
    b.status_reason = row.error;
  } else if (b.status == BatchStatus::kCanceled) {
    b.status_reason = "canceled: the output dataset holds the " + std::to_string(row.rows_done) +
                      " of " + std::to_string(row.total_rows) +
                      " records finished before the cancel";
  }
  return b;
}

// Page tokens: "<c|u><a|d>.<sort_us>.<id>" (order, direction, the last row of the page).
std::string page_token(const ListBatchesRequest& r, const store::JobRow& last) {
  return std::string(r.by_updated ? "u" : "c") + (r.ascending ? "a" : "d") + "." +
         std::to_string(r.by_updated ? last.updated_us : last.created_us) + "." + last.id;
}

store::JobPageKey parse_page_token(const ListBatchesRequest& r) {
  const std::string& t = r.page_token;
  const std::string prefix =
      std::string(r.by_updated ? "u" : "c") + (r.ascending ? "a" : "d") + ".";
  size_t dot = t.find('.', prefix.size());
  store::JobPageKey key;
  if (t.compare(0, prefix.size(), prefix) != 0 || dot == std::string::npos || dot + 1 >= t.size()) {
    throw_invalid(
        "page_token is invalid: pass the next_page_token of the previous page, with "
        "the same order_by");
  }
  auto [p, ec] = std::from_chars(t.data() + prefix.size(), t.data() + dot, key.sort_us);
  if (ec != std::errc() || p != t.data() + dot) throw_invalid("page_token is invalid");
  key.id = t.substr(dot + 1);
  return key;
}

}  // namespace

Batch BatchService::create(const std::string& owner, const CreateBatchRequest& r) {
  if (r.name.empty()) throw_invalid("name is required");
  if (r.name.size() > 256) throw_invalid("name must be at most 256 characters");
  if (r.input_dataset_id.empty()) throw_invalid("input_dataset_id is required");
  if (r.model.empty()) throw_invalid("model is required");
  const ServedModel& served = services_->models->get(r.model);  // 404 when not served
  std::optional<store::DatasetRow> ds = services_->store->get_dataset(r.input_dataset_id);
  if (!ds || ds->owner != owner) {
    throw_not_found("dataset with id " + r.input_dataset_id + " not found");
  }
  if (ds->dataset_type != kBatchEmbedInputType) {
    throw_invalid("dataset " + r.input_dataset_id + " has type " + ds->dataset_type +
                  "; batches need a dataset of type " + std::string(kBatchEmbedInputType));
  }
  if (ds->status != DatasetStatus::kValidated) {
    throw_invalid("dataset " + r.input_dataset_id + " is not validated (validation_status: " +
                  std::string(status_name(ds->status)) + ")");
  }
  store::JobRow job;
  job.kind = kKind;
  job.id = random_uuid();
  job.owner = owner;
  job.name = r.name;
  job.status = JobStatus::kProcessing;
  job.input_dataset_id = r.input_dataset_id;
  job.model = r.model;
  job.created_us = now_us();
  job.updated_us = job.created_us;
  job.total_rows = ds->num_rows;
  job.chunk_rows = services_->config.chunk_rows;  // as JobService::create
  job.model_identity = served.identity;
  services_->store->insert_job(job);
  services_->jobs->wake();
  return to_batch(*services_->store, job);
}

Batch BatchService::get(const std::string& owner, const std::string& batch_id) {
  std::optional<store::JobRow> job = services_->store->get_job(batch_id);
  if (!job || job->owner != owner || job->kind != kKind) {
    throw_not_found("batch with id " + batch_id + " not found");
  }
  return to_batch(*services_->store, *job);
}

BatchPage BatchService::list(const std::string& owner, const ListBatchesRequest& r) {
  std::optional<store::JobPageKey> after;
  if (!r.page_token.empty()) after = parse_page_token(r);
  BatchPage page;
  // With a status filter a store page may hold fewer matches: read on until the page is full.
  while (true) {
    std::vector<store::JobRow> rows = services_->store->list_jobs_page(
        owner, kKind, r.by_updated, r.ascending, after, r.page_size + 1);
    bool more = static_cast<int64_t>(rows.size()) > r.page_size;
    if (more) rows.pop_back();
    for (const auto& row : rows) {
      Batch b = to_batch(*services_->store, row);
      after = store::JobPageKey{r.by_updated ? row.updated_us : row.created_us, row.id};
      if (r.status && b.status != *r.status) continue;
      page.batches.push_back(std::move(b));
      if (static_cast<int64_t>(page.batches.size()) == r.page_size) {
        if (more || &row != &rows.back()) page.next_page_token = page_token(r, row);
        return page;
      }
    }
    if (!more) return page;
  }
}

void BatchService::cancel(const std::string& owner, const std::string& batch_id) {
  Batch b = get(owner, batch_id);
  if (b.status != BatchStatus::kQueued && b.status != BatchStatus::kInProgress) {
    throw_invalid("batch " + batch_id +
                  " cannot be canceled: only queued or in-progress batches can be canceled");
  }
  services_->jobs->cancel_run(batch_id);
}

}  // namespace ej::service
