// OpenAiBatches: OpenAI's Batch API (/v1/batches) for /v1/embeddings, on HTTP threads. A batch
// is a job of kind "openai-batch" (openai_batch_job_kind.h) in the jobs table, run by
// JobService's workers like every job. Its input is an OpenAI file (openai_files.h), whose
// lines were checked when it was stored (openai_batch_input.h): a file with a broken line makes
// the batch "failed" at once with OpenAI's `errors` list, as OpenAI's validation does. The
// job's `name` column holds the batch's metadata (JSON text; OpenAI batches have no name), its
// `error` column {"errors": [...]} for a batch failed by validation or the runner's reason.
// Statuses from the job's: processing before its first claim = validating, processing =
// in_progress, cancelling, cancelled, complete = completed, failed. Answers are OpenAI's Batch
// objects. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "service/services.h"

namespace ej::store {
struct JobRow;
}  // namespace ej::store

namespace ej::service {

class OpenAiBatches {
 public:
  explicit OpenAiBatches(Services* services) : services_(services) {}

  // POST /v1/batches: {input_file_id, endpoint, completion_window, metadata}. Waits (up to a
  // minute) for a file that is still being stored; 400 / 404 OpenAiError for a bad request.
  nlohmann::json create(const std::string& owner, const nlohmann::json& body);
  // 404 when the batch does not exist or belongs to someone else.
  nlohmann::json get(const std::string& owner, const std::string& batch_id);
  // Newest first; `after` a batch id (the previous page's last); limit 1..100.
  nlohmann::json list(const std::string& owner, const std::string& after, int64_t limit);
  // validating / in_progress -> cancelling (the runner then writes cancelled, keeping the lines
  // finished so far in the output files); 400 for a batch in any other status.
  nlohmann::json cancel(const std::string& owner, const std::string& batch_id);

 private:
  store::JobRow owned(const std::string& owner, const std::string& batch_id);
  nlohmann::json batch_json(const store::JobRow& row);

  Services* services_;
};

}  // namespace ej::service
