// ingest_embed_input: the two passes over an upload (validate + infer the schema, then write the
// Avro parts) and the options check. Parsing, row checks and schema inference are in ingest/.
#include "service/dataset_ingest.h"

#include <unistd.h>

#include <memory>

#include "common/error.h"
#include "service/ingest/field_inference.h"
#include "service/ingest/format_detect.h"
#include "service/ingest/input_file.h"
#include "service/ingest/part_sink.h"
#include "service/ingest/row_source.h"
#include "service/ingest/text_util.h"

namespace ej::service {

namespace {

using ingest::FieldPlan;
using ingest::RawRow;
using nlohmann::json;

constexpr size_t kHeadBytes = 64 << 10;  // what format detection looks at

void check_cancel(const IngestOptions& o) {
  if (o.cancel && o.cancel->load(std::memory_order_relaxed)) {
    throw Error(ErrorCode::kClientClosed, "dataset validation was cancelled");
  }
}

// Reads every row of the file, calling on_row(row, error) with the row's problem (empty when it
// is valid; on_row may move the values out); checks for cancellation every 1024 rows.
template <class OnRow>
void scan_rows(InputFormat format, const std::string& path, const IngestOptions& o,
               const std::vector<FieldPlan>& fields, OnRow on_row) {
  auto src = ingest::open_row_source(format, path, o, ingest::wanted_fields(fields));
  RawRow row;
  int64_t n = 0;
  while (src->next(&row)) {
    if ((++n & 1023) == 0) check_cancel(o);
    on_row(row, ingest::check_row(row, fields));
  }
}

// Writes records into parts <out_dir>/<part_prefix>-<i>.avro, starting the next part when one
// reaches max_rows_per_part or max_bytes_per_part; keeps each part's first rows as samples. The
// parts are removed again unless finish() is reached.
// A valid row's values (wanted_fields order) as the record written, and its sample.
void append_row(PartSink& sink, const std::vector<FieldPlan>& fields, RawRow* row, json* record) {
  (*record)["text"] = std::move(*row->values[0]);
  for (size_t i = 0; i < fields.size(); ++i) {
    auto& v = row->values[i + 1];
    (*record)[fields[i].name] = v ? std::move(*v) : json(nullptr);
  }
  sink.append(*record, [&] {
    nlohmann::ordered_json sample = nlohmann::ordered_json::object();
    sample["text"] = (*record)["text"];
    for (const auto& f : fields) sample[f.name] = (*record)[f.name];
    return sample.dump();
  });
}

}  // namespace

void validate_ingest_options(const IngestOptions& o) {
  if (o.csv_delimiter.size() != 1) throw_invalid("csv_delimiter must be exactly one character");
  char d = o.csv_delimiter[0];
  if (d == '"' || d == '\n' || d == '\r') {
    throw_invalid("csv_delimiter cannot be a quote or a line break");
  }
  if (o.text_separator.empty()) throw_invalid("text_separator must not be empty");
  if (o.max_rows_per_part <= 0) throw_invalid("max_rows_per_part must be positive");
  if (o.codec != "deflate" && o.codec != "null")
    throw_invalid("avro codec must be deflate or null");
  for (const auto* list : {&o.keep_fields, &o.optional_fields}) {
    const char* what = list == &o.keep_fields ? "keep_fields" : "optional_fields";
    for (const auto& f : *list) {
      if (f == "text") continue;
      if (!ingest::is_avro_name(f)) {
        throw_invalid(std::string(what) + ": " + ingest::quote(f) +
                      " is not a valid field name (use letters, digits and _, not starting with "
                      "a digit)");
      }
      if (f == "embeddings") {
        throw_invalid(std::string(what) + ": \"embeddings\" is reserved for the embed job output");
      }
    }
  }
}

IngestResult ingest_embed_input(const std::string& input_path, const std::string& out_dir,
                                const std::string& part_prefix, const IngestOptions& o) {
  validate_ingest_options(o);
  IngestResult result;
  const std::vector<FieldPlan> fields = ingest::plan_fields(o.keep_fields, o.optional_fields);
  const InputFormat format =
      ingest::resolve_input_format(o, ingest::read_head(input_path, kHeadBytes));
  result.format = format;

  // Pass 1: validate and infer types.
  std::vector<ingest::FieldStats> stats(fields.size());
  int64_t valid = 0, skipped = 0;
  scan_rows(format, input_path, o, fields, [&](RawRow& row, const std::string& err) {
    if (!err.empty()) {
      std::string msg = "line " + std::to_string(row.line) + ": " + err;
      if (!o.skip_malformed_input) throw_invalid(msg);
      ++skipped;
      if (result.warnings.size() < o.max_warnings) result.warnings.push_back(msg);
      return;
    }
    ++valid;
    for (size_t i = 0; i < fields.size(); ++i) stats[i].add(row.values[i + 1]);
  });
  if (skipped > static_cast<int64_t>(result.warnings.size())) {
    result.warnings.push_back(
        std::to_string(skipped - static_cast<int64_t>(result.warnings.size())) +
        " more malformed rows were skipped (" + std::to_string(skipped) + " in total)");
  }
  if (valid == 0) {
    if (skipped > 0) {
      throw_invalid("the dataset has no valid rows: all " + std::to_string(skipped) +
                    " rows are malformed (first: " + result.warnings.front() + ")");
    }
    throw_invalid("the dataset has no rows");
  }

  result.schema_json = ingest::embed_input_schema_json(fields, stats);
  for (const auto& f : fields) result.preserve_fields.push_back(f.name);
  result.required_fields = {"text"};
  result.skipped_rows = skipped;

  // Pass 2: write the parts.
  PartSink sink(out_dir, part_prefix, o, &result);
  json record = json::object();
  scan_rows(format, input_path, o, fields, [&](RawRow& row, const std::string& err) {
    if (err.empty()) append_row(sink, fields, &row, &record);
  });
  sink.finish();
  return result;
}

}  // namespace ej::service
