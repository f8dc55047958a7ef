// BatchJobKind: the "batch" job kind (POST /v2/batches). A chunk's records (custom_id + a v2
// embed body) are each decoded and checked for the batch's model by decode_v2_embed, exactly as
// /v2/embed would, and each goes to the model's scheduler as one bulk task (its own input_type,
// truncate, max_tokens); a record that fails (a check, or the engine refusing it, e.g. too long
// with truncate NONE) is answered with an error and does not fail the batch. The chunk file and
// the output dataset (batch-embed-v2-output, `<name>-output-<6 alnum>`) hold, in input order,
// records of the Avro schema batch_output_schema_json() (docs/decisions.md "Batch output"):
//   {"custom_id", "body": <the v2 embed response> | null, "error": {status_code, message} | null}
// Failed records per chunk are stored with Store::put_chunk_failures. Threads: job_kind.h.
#pragma once

#include <memory>
#include <string>

#include "common/error.h"
#include "service/embedding_service.h"
#include "service/job_kind.h"
#include "service/services.h"

namespace ej::service {

// One decoded batch record: what goes to the scheduler, plus what the format keeps to answer.
struct BatchCall {
  virtual ~BatchCall() = default;
  EmbedRequest request;  // the chunk runner sets owner
};

// What a batch API makes of its records ({custom_id, body} rows): Cohere's /v2/batches (below)
// and OpenAI's /v1/batches (openai_batch_job_kind.h). The chunk runner (start_batch_chunk) is
// shared: it decodes each record, queues it as one bulk task, and writes one output record per
// input record, in order, to an Avro chunk of output_schema_json(). Const, thread-safe.
class BatchFormat {
 public:
  virtual ~BatchFormat() = default;
  virtual std::string output_schema_json() const = 0;
  // Decodes `row` for `model`; throws ej::Error for a record that fails alone (kInternal and
  // kUnavailable fail the chunk).
  virtual std::unique_ptr<BatchCall> decode(const nlohmann::json& row,
                                            const ServedModel& model) const = 0;
  // The output record of a record embedded as `result`.
  virtual nlohmann::json answer(const std::string& custom_id, const BatchCall& call,
                                const EmbedResult& result, const ServedModel& model) const = 0;
  // The output record of a record refused with `e` (by decode, or by the engine).
  virtual nlohmann::json refuse(const std::string& custom_id, const std::exception& e) const = 0;
};

// The HTTP status the sync route would have answered a record's error with.
int batch_record_status(const Error& e);

// Starts chunk `lease.chunk_index` of a batch of `owner` (job_kind.h's KindRun::start_chunk),
// its records answered through `format` (which must outlive the chunk).
std::unique_ptr<ChunkRun> start_batch_chunk(Services* services, const BatchFormat& format,
                                            const store::ChunkLease& lease,
                                            const std::string& owner, const ServedModel& model,
                                            std::vector<nlohmann::json> rows,
                                            const std::string& path);

// The Avro schema of batch output parts (JSON text).
std::string batch_output_schema_json();

// The output dataset id of batch `job_id` named `name`: `<slug of name>-output-<6 alnum>`,
// derived from the id (a re-assembly after a crash keeps it). The dataset's name is
// `<name>-output-<the same 6>`.
std::string batch_output_suffix(const std::string& job_id);

class BatchJobKind final : public JobKind {
 public:
  explicit BatchJobKind(Services* services) : services_(services) {}
  std::string_view name() const override { return "batch"; }
  std::unique_ptr<KindRun> begin(const store::JobRow& job,
                                 const store::DatasetRow& input) const override;

 private:
  Services* services_;
};

}  // namespace ej::service
