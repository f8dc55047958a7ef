// Records every layer speaks of: an embed job as the system knows it, and the filter of a
// dataset listing. The store keeps a JobRecord plus its own bookkeeping (store::JobRow), the
// service layer hands JobRecords to the API (service::Job), which maps them to the wire. Plain
// values; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ej {

struct JobRecord {
  std::string id;
  std::string owner;
  // What the job runs: "embed" (an embed job) or "batch" (a /v2/batches batch; its records are
  // v2 embed requests, service/batch_job_kind.h). The runner dispatches on it (job_kind.h).
  std::string kind = "embed";
  std::string name;
  JobStatus status = JobStatus::kProcessing;
  std::string input_dataset_id;
  std::string output_dataset_id;  // empty until finished
  std::string model;
  std::string input_type;
  std::string truncate;
  std::vector<std::string> embedding_types;
  int64_t created_us = 0;
  int64_t updated_us = 0;
  int64_t total_rows = 0;
  int64_t rows_done = 0;     // sum of committed chunks' rows
  int64_t input_tokens = 0;  // sum of committed chunks' tokens
  std::string error;         // failure_reason, in user terms (see public_message)
  // Of input_tokens, those served from the embedding cache.
  int64_t cached_tokens = 0;
  int64_t started_us = 0;  // when a worker first claimed the job (0: not started yet)
};

struct DatasetFilter {
  std::string dataset_type;             // empty = any
  std::optional<DatasetStatus> status;  // nullopt = any
  std::optional<int64_t> before_us;
  std::optional<int64_t> after_us;
  int64_t limit = 100;
  int64_t offset = 0;
};

}  // namespace ej
