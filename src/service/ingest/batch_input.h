// Batch input datasets (type batch-embed-v2-input, cohere-api.md section 6): a JSON Lines upload,
// one record per line, {"custom_id": "<unique string>", "body": {a v2 embed request without
// model}}. Ingest checks every line (an object; custom_id a non-empty string used once; body
// checked by decode_v2_embed exactly as /v2/embed checks it, less what needs the batch's model)
// and writes the records as Avro parts of schema embedjobs.batch_embed_input {custom_id: string,
// body: string (the body's JSON text)}, in file order. The batch runner reads them back
// (service/batch_job_kind.cpp).
//
// Failures throw ej::Error(kInvalidArgument) with the text shown as validation_error, naming the
// line: `line 7: body: invalid request: texts must not be empty`. skip_malformed_input drops bad
// lines instead (listed in warnings), as for embed-input.
//
// Thread-safety: reentrant (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "service/dataset_ingest.h"

namespace ej::service {

inline constexpr std::string_view kBatchEmbedInputType = "batch-embed-v2-input";
inline constexpr std::string_view kBatchEmbedOutputType = "batch-embed-v2-output";

// The Avro schema of batch input parts (JSON text).
std::string batch_embed_input_schema_json();

// Validates `input_path` and writes its records as `<out_dir>/<part_prefix>-<i>.avro` (out_dir
// must exist). On failure no part is left behind. Uses of `options`: filename (a .csv / .txt
// name is refused: batch input is JSON Lines), skip_malformed_input, max_rows_per_part,
// max_bytes_per_part, codec, max_warnings, max_record_bytes, num_samples, cancel.
IngestResult ingest_batch_embed_input(const std::string& input_path, const std::string& out_dir,
                                      const std::string& part_prefix, const IngestOptions& options);

}  // namespace ej::service
