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

#include <string>

#include "service/job_kind.h"
#include "service/services.h"

namespace ej::service {

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
