#include "service/ingest/row_source.h"

#include "common/error.h"

namespace ej::service::ingest {

std::unique_ptr<RowSource> open_row_source(InputFormat format, const std::string& path,
                                           const IngestOptions& o, const WantedFields& wanted) {
  switch (format) {
    case InputFormat::kCsv:
      return make_csv_source(path, o.csv_delimiter[0], wanted, o.max_record_bytes);
    case InputFormat::kJsonl:
      return make_jsonl_source(path, wanted, o.max_record_bytes);
    case InputFormat::kTxt:
      return make_txt_source(path, o.text_separator, wanted, o.max_record_bytes);
    case InputFormat::kAuto:
      break;
  }
  throw Error(ErrorCode::kInternal, "no input format");
}

std::string too_long_message(int64_t line, size_t max_record_bytes, const char* hint) {
  return "line " + std::to_string(line) + ": row is longer than " +
         std::to_string(max_record_bytes >> 20) + " MiB, the limit for one row" + hint;
}

}  // namespace ej::service::ingest
