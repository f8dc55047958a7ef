// OpenAI batch input files (POST /v1/files, purpose "batch"): stored as datasets of type
// openai-batch-input, the upload kept byte for byte (GET /v1/files/{id}/content). Ingest reads
// the JSON Lines, one request per line:
//   {"custom_id": "<unique>", "method": "POST", "url": "/v1/embeddings", "body": {... "model"}}
// and checks what OpenAI checks while a batch is "validating" (docs/openai.md): valid JSON
// objects, custom_id a non-empty string used once, method POST, url /v1/embeddings (the only
// endpoint served), a body object naming a model, one model in the whole file. A line that
// breaks a rule is not a dataset failure (the file itself is fine): it is listed in the info
// (info.openai.errors, OpenAI's batch error objects {code, message, param, line}), and a batch
// over such a file fails as OpenAI's does. Good lines are written as Avro parts of
// batch_embed_input_schema_json() ({custom_id, body: the body's JSON text}), in file order;
// each body is checked when the batch runs it, like /v1/embeddings (a bad body is that line's
// 400 in the batch's error file). Reentrant.
#pragma once

#include <string>
#include <string_view>

#include "service/dataset_ingest.h"

namespace ej::service {

inline constexpr std::string_view kOpenAiBatchInputType = "openai-batch-input";
inline constexpr std::string_view kOpenAiBatchOutputType = "openai-batch-output";
inline constexpr size_t kMaxOpenAiLineErrors = 100;  // error objects kept per file

// Writes the good lines of `input_path` as `<out_dir>/<part_prefix>-<i>.avro` and returns, in
// extra_info["openai"]: model (the first line's), errors ([{code, message, param, line}], at
// most kMaxOpenAiLineErrors), num_errors, requests (lines read) and bytes (the file's size).
// Throws only for I/O failures and cancel.
IngestResult ingest_openai_batch_input(const std::string& input_path, const std::string& out_dir,
                                       const std::string& part_prefix,
                                       const IngestOptions& options);

}  // namespace ej::service
