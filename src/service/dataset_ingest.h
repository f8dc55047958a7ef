// Dataset ingest: validates an uploaded embed-input file (CSV, JSONL or TXT) on disk and writes
// it as Avro parts (see avro_parts.h), streaming, with bounded memory (two passes over the file:
// validate + infer the schema, then write). Also, through service/ingest/embed_input_reader.h,
// the row reader the job runner uses to read an embed-input dataset back.
//
// The parts live in service/ingest/ (namespace ej::service::ingest, internal to the service
// layer): input_file (buffered reading), text_util, row_source + csv/jsonl/txt_source (parsers),
// field_inference (field plan, row checks, Avro schema), format_detect, embed_input_reader.
//
// Validation failures throw ej::Error(ErrorCode::kInvalidArgument, msg) where msg is the exact
// text to show the user as `validation_error`, e.g. `line 7: field "text" is missing`.
//
// Thread-safety: free functions are reentrant (no shared state); an EmbedInputReader object is
// single-threaded.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/avro_parts.h"
#include "service/ingest/embed_input_reader.h"  // EmbedInputReader, InputRow, PartRef

namespace ej::service {

enum class InputFormat { kAuto, kCsv, kJsonl, kTxt };
std::string_view to_string(InputFormat format);  // "auto", "csv", "jsonl", "txt"

struct IngestOptions {
  // The uploaded file's name (used for the format); empty, "blob", "upload" or an unknown
  // extension means: sniff the content.
  std::string filename;
  InputFormat format = InputFormat::kAuto;   // forces a format when not kAuto
  std::vector<std::string> keep_fields;      // must be present in every row (value may be null)
  std::vector<std::string> optional_fields;  // may be missing or null
  bool skip_malformed_input = false;
  std::string csv_delimiter = ",";    // exactly one character
  std::string text_separator = "\n";  // TXT only; non-empty
  int64_t max_rows_per_part = 100000;
  uint64_t max_bytes_per_part = 64ull << 20;  // encoded (uncompressed) bytes, approximate
  std::string codec = std::string(kDefaultAvroCodec);
  size_t max_warnings = 20;            // warning strings kept; one more line summarizes the rest
  size_t max_record_bytes = 8u << 20;  // a CSV record / JSONL line / TXT piece may not be longer
  size_t num_samples = 5;              // samples kept per part
  const std::atomic<bool>* cancel = nullptr;  // when set to true, ingest throws kClientClosed
};

// Checks the options alone (before any file is read), throwing kInvalidArgument with the
// message to return synchronously from POST /v1/datasets (bad csv_delimiter, empty
// text_separator, a field named twice, ...).
void validate_ingest_options(const IngestOptions& options);

struct IngestPart {
  int index = 0;     // 0-based, in row order
  std::string name;  // file name: <part_prefix>-<index>.avro
  std::string path;  // out_dir + "/" + name
  uint64_t size_bytes = 0;
  int64_t num_rows = 0;
  std::vector<std::string> samples;  // JSON text of the first rows of the part
};

struct IngestResult {
  InputFormat format = InputFormat::kAuto;  // the format used (never kAuto)
  int64_t num_rows = 0;                     // valid rows written
  int64_t skipped_rows = 0;                 // malformed rows dropped (skip_malformed_input)
  std::string schema_json;                  // Avro schema of the parts, JSON text
  std::vector<std::string> warnings;
  std::vector<std::string> required_fields;  // ["text"]
  std::vector<std::string> preserve_fields;  // kept + optional fields, schema order
  std::vector<IngestPart> parts;
  uint64_t total_bytes = 0;  // sum of part sizes
  // What a dataset type's ingest adds to the dataset's info (merged into it; null = nothing).
  nlohmann::json extra_info;
};

// Validates `input_path` and writes its rows as Avro parts `<out_dir>/<part_prefix>-<i>.avro`.
// out_dir must exist. On failure no part is left behind. Throws ej::Error (kInvalidArgument for
// anything the user must fix, kInternal for I/O errors, kClientClosed when cancelled).
IngestResult ingest_embed_input(const std::string& input_path, const std::string& out_dir,
                                const std::string& part_prefix, const IngestOptions& options);

// Picks the format from the file name's extension (.csv, .jsonl, .json, .txt; case-insensitive)
// or, when that says nothing, from `head` (the first bytes of the file, e.g. 64 KiB). Throws
// kInvalidArgument when neither works, and for the cohere-ai SDK's "[object Object]" body.
InputFormat detect_input_format(std::string_view filename, std::string_view head,
                                char csv_delimiter = ',');

}  // namespace ej::service
