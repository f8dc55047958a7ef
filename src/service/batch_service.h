// BatchService: the request side of /v2/batches (create / get / list / cancel), on HTTP threads.
// A batch is a job of kind "batch" (JobRecord::kind) in the jobs table: JobService's workers run
// it (claim, lease, chunk commits, resume after a crash, cancel at chunk borders) through
// BatchJobKind (batch_job_kind.h), at bulk priority in the model's scheduler. Statuses map from
// the job's: processing before its first claim = queued, processing = in progress, cancelling,
// complete, failed, cancelled. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "service/services.h"

namespace ej::service {

enum class BatchStatus { kQueued, kInProgress, kCanceling, kCompleted, kFailed, kCanceled };

// A batch as the API may show it.
struct Batch {
  std::string id;
  std::string name;
  std::string owner;  // creator_id and org_id on the wire
  BatchStatus status = BatchStatus::kQueued;
  std::string status_reason;  // why it failed / what a cancel kept; empty otherwise
  std::string input_dataset_id;
  std::string output_dataset_id;  // set once finished (completed or canceled)
  std::string model;
  int64_t created_us = 0;
  int64_t updated_us = 0;
  int64_t num_records = 0;
  int64_t num_successful_records = 0;
  int64_t num_failed_records = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;  // embeddings produce no output tokens
};

struct CreateBatchRequest {
  std::string name;
  std::string input_dataset_id;
  std::string model;
};

struct ListBatchesRequest {
  int64_t page_size = 50;             // 1..1000
  std::string page_token;             // from a previous page's next_page_token; empty = first page
  bool by_updated = false;            // order_by updated_at (else created_at)
  bool ascending = false;             // "... asc" (else newest first)
  std::optional<BatchStatus> status;  // only batches in this status
};

struct BatchPage {
  std::vector<Batch> batches;
  std::string next_page_token;  // empty on the last page
};

class BatchService {
 public:
  explicit BatchService(Services* services) : services_(services) {}

  // Checks the request (model served, dataset batch-embed-v2-input + validated + the caller's)
  // and inserts the batch as queued; a job worker picks it up.
  Batch create(const std::string& owner, const CreateBatchRequest& request);
  // 404 when the batch does not exist or belongs to someone else.
  Batch get(const std::string& owner, const std::string& batch_id);
  // 400 for a page token that is not one of ours or was made for another order.
  BatchPage list(const std::string& owner, const ListBatchesRequest& request);
  // Queued / in progress -> canceling (the runner then writes canceled, keeping the records
  // finished so far); 400 for a batch in any other status.
  void cancel(const std::string& owner, const std::string& batch_id);

 private:
  Services* services_;
};

}  // namespace ej::service
