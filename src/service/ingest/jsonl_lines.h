// JsonlLines: the lines of a JSON Lines upload as the batch-input ingests read them (Cohere's
// batch-embed-v2-input, batch_input.h; OpenAI's batch files, openai_batch_input.h): blank lines
// skipped, a trailing '\r' dropped, lines numbered from 1, the cancel flag checked every 1024
// lines; and each line parsed with nesting bounded. Single-threaded (the validating thread).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "service/dataset_ingest.h"
#include "service/ingest/input_file.h"

namespace ej::service::ingest {

class JsonlLines {
 public:
  // `o` (max_record_bytes, cancel) must outlive the reader.
  JsonlLines(const std::string& path, const IngestOptions& o);

  // The next line that is not blank; false at the end. *too_long: the line was longer than
  // max_record_bytes (its text is not kept). Throws kClientClosed once o.cancel is set.
  bool next(std::string* line, bool* too_long);
  int64_t line_no() const { return line_no_; }

  // A line's JSON; throws kInvalidArgument "invalid JSON: ..." (or for nesting over 64 levels).
  static nlohmann::json parse(const std::string& line);

 private:
  const IngestOptions& o_;
  InputFile file_;
  int64_t line_no_ = 0;
};

}  // namespace ej::service::ingest
