// OpenAiBatchJobKind: the "openai-batch" job kind (POST /v1/batches, openai_batches.h). The job
// runner (job_service.h) runs it like every job: claim, lease, fencing, chunk commits, resume
// after a crash, cancel at chunk borders. Each record ({custom_id, body} from an
// openai-batch-input file, openai_batch_input.h) is decoded and embedded exactly as
// /v1/embeddings would (openai_embeddings.h) through the batch chunk runner shared with Cohere's
// batches (batch_job_kind.h); a record that fails (its body, or the engine refusing it) is a
// 4xx line of the error file and does not fail the batch.
//
// Chunk files and output parts hold Avro records {line: string, failed: boolean}, `line` being
// OpenAI's output line {"id", "custom_id", "response": {"status_code", "request_id", "body"},
// "error"}, in input order. At the output assembly the kind also writes the two JSON Lines
// blobs (service/blob_store.h; under the output dataset's key prefix, so that deleting the
// dataset deletes them) a client downloads, byte for byte, as GET /v1/files/{id}/content:
//   datasets/<output id>/output.jsonl   the lines that succeeded   (output_file_id)
//   datasets/<output id>/error.jsonl    the lines that failed      (error_file_id)
// and their line and byte counts in the output dataset's info.openai. Line ids and request ids
// derive from the batch id and custom_id, so a batch that resumed after a crash writes the same
// bytes. Threads: job_kind.h.
#pragma once

#include <string>
#include <string_view>

#include "service/job_kind.h"
#include "service/services.h"

namespace ej::service {

inline constexpr std::string_view kOpenAiBatchKind = "openai-batch";

// The file ids of batch `job_id`'s output and error files. Both name one dataset (of type
// openai-batch-output, id openai_output_file_id): the error file is a view of it.
std::string openai_output_file_id(const std::string& job_id);
std::string openai_error_file_id(const std::string& job_id);
// For an output or error file id: the output dataset's id and whether it is the error view;
// false for any other id.
bool openai_output_dataset_of(const std::string& file_id, std::string* dataset_id,
                              bool* error_view);
// The blob key of the JSON Lines of an output dataset's output (or error) file.
std::string openai_output_jsonl_key(const std::string& dataset_id, bool error_view);

class OpenAiBatchJobKind final : public JobKind {
 public:
  explicit OpenAiBatchJobKind(Services* services) : services_(services) {}
  std::string_view name() const override { return kOpenAiBatchKind; }
  std::unique_ptr<KindRun> begin(const store::JobRow& job,
                                 const store::DatasetRow& input) const override;

 private:
  Services* services_;
};

}  // namespace ej::service
