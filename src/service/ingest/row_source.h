// RowSource: the rows of an uploaded embed-input file, parsed by its format (csv_source.cpp,
// jsonl_source.cpp, txt_source.cpp), one RawRow at a time, in file order. A source extracts only
// the wanted fields and reports a malformed row in RawRow::error (the caller decides to skip or
// fail); what makes the whole file unreadable (a CSV header without a required column, a record
// over max_record_bytes, an unclosed quote) throws ej::Error(kInvalidArgument).
//
// Thread-safety: a source is used by one thread; distinct sources over one file are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/dataset_ingest.h"

namespace ej::service::ingest {

// The fields a source extracts: names[0] is "text". required[i]: a CSV header must have the
// column names[i] (JSONL and TXT sources ignore it; field_inference.h checks rows).
struct WantedFields {
  std::vector<std::string> names;
  std::vector<bool> required;
};

// One row as parsed: values[i] is the value of wanted field i (0 = "text"), nullopt if missing.
struct RawRow {
  int64_t line = 0;   // 1-based line of the file where the row starts
  std::string error;  // non-empty: the row is malformed (message without the "line N: " prefix)
  std::vector<std::optional<nlohmann::json>> values;
};

class RowSource {
 public:
  virtual ~RowSource() = default;
  // Fills *row with the next non-blank row; false at end of file.
  virtual bool next(RawRow* row) = 0;
};

// A source for `format` (not kAuto) over the file at `path`, configured by `options`
// (csv_delimiter, text_separator, max_record_bytes).
std::unique_ptr<RowSource> open_row_source(InputFormat format, const std::string& path,
                                           const IngestOptions& options,
                                           const WantedFields& wanted);

std::unique_ptr<RowSource> make_csv_source(const std::string& path, char delimiter,
                                           const WantedFields& wanted, size_t max_record_bytes);
std::unique_ptr<RowSource> make_jsonl_source(const std::string& path, const WantedFields& wanted,
                                             size_t max_record_bytes);
std::unique_ptr<RowSource> make_txt_source(const std::string& path, std::string separator,
                                           const WantedFields& wanted, size_t max_record_bytes);

// "line <line>: row is longer than <max> MiB, the limit for one row<hint>".
std::string too_long_message(int64_t line, size_t max_record_bytes, const char* hint);

}  // namespace ej::service::ingest
