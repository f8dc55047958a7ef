// ingest_batch_embed_input: one pass over a batch-embed-v2-input upload (check each line, write
// the parts).
#include "service/ingest/batch_input.h"

#include <unistd.h>

#include <memory>
#include <unordered_map>

#include "common/error.h"
#include "service/embed_request.h"
#include "service/ingest/input_file.h"
#include "service/ingest/jsonl_lines.h"
#include "service/ingest/part_sink.h"
#include "service/ingest/text_util.h"

namespace ej::service {

namespace {

using nlohmann::json;

constexpr size_t kMaxCustomIdBytes = 1024;

// The record of one line, or throws kInvalidArgument with the problem (no "line N: " prefix).
json parse_record(const std::string& line) {
  json rec = ingest::JsonlLines::parse(line);
  if (!rec.is_object()) {
    throw_invalid("a line must be a JSON object {\"custom_id\": string, \"body\": {...}}");
  }
  auto id = rec.find("custom_id");
  if (id == rec.end() || id->is_null()) throw_invalid("custom_id is missing");
  if (!id->is_string()) throw_invalid("custom_id must be a string");
  if (id->get_ref<const std::string&>().empty()) throw_invalid("custom_id must not be empty");
  if (id->get_ref<const std::string&>().size() > kMaxCustomIdBytes) {
    throw_invalid("custom_id is longer than " + std::to_string(kMaxCustomIdBytes) + " bytes");
  }
  auto body = rec.find("body");
  if (body == rec.end() || body->is_null()) throw_invalid("body is missing");
  if (!body->is_object()) throw_invalid("body must be a JSON object (a v2 embed request)");
  if (body->contains("model") && !(*body)["model"].is_null()) {
    throw_invalid("body: model is not allowed: every record uses the batch's model");
  }
  try {
    decode_v2_embed(*body, nullptr);
  } catch (const Error& e) {
    throw_invalid("body: " + std::string(e.what()));
  }
  return rec;
}

}  // namespace

std::string batch_embed_input_schema_json() {
  return json{
      {"type", "record"},
      {"name", "batch_embed_input"},
      {"namespace", std::string(kAvroNamespace)},
      {"fields",
       {{{"name", "custom_id"}, {"type", "string"}}, {{"name", "body"}, {"type", "string"}}}}}
      .dump();
}

IngestResult ingest_batch_embed_input(const std::string& input_path, const std::string& out_dir,
                                      const std::string& part_prefix, const IngestOptions& o) {
  IngestResult result;
  result.format = InputFormat::kJsonl;
  InputFormat format = detect_input_format(o.filename, ingest::read_head(input_path, 64 << 10));
  if (format != InputFormat::kJsonl) {
    throw_invalid(
        "batch-embed-v2-input datasets are JSON Lines: one {\"custom_id\": ..., \"body\": {...}} "
        "object per line (got " +
        std::string(to_string(format)) + ")");
  }
  result.schema_json = batch_embed_input_schema_json();
  result.required_fields = {"custom_id", "body"};

  std::unordered_map<std::string, int64_t> first_line;  // custom_id -> line it is on
  PartSink sink(out_dir, part_prefix, o, &result);
  ingest::JsonlLines lines(input_path, o);
  std::string line;
  bool too_long = false;
  int64_t skipped = 0;
  while (lines.next(&line, &too_long)) {
    const int64_t line_no = lines.line_no();
    std::string problem;
    json rec;
    if (too_long) {
      problem = "the line is longer than " + std::to_string(o.max_record_bytes >> 20) +
                " MiB, the limit for one record";
    } else {
      try {
        rec = parse_record(line);
        const std::string& id = rec["custom_id"].get_ref<const std::string&>();
        auto [it, fresh] = first_line.emplace(id, line_no);
        if (!fresh) {
          problem = "custom_id " + ingest::quote(id) + " is used again (first on line " +
                    std::to_string(it->second) + "); custom_id must be unique";
        }
      } catch (const Error& e) {
        problem = e.what();
      }
    }
    if (!problem.empty()) {
      std::string msg = "line " + std::to_string(line_no) + ": " + problem;
      if (!o.skip_malformed_input) throw_invalid(msg);
      ++skipped;
      if (result.warnings.size() < o.max_warnings) result.warnings.push_back(msg);
      continue;
    }
    sink.append({{"custom_id", rec["custom_id"]}, {"body", rec["body"].dump()}}, [&] {
      return nlohmann::ordered_json{{"custom_id", rec["custom_id"]}, {"body", rec["body"]}}.dump();
    });
  }
  if (skipped > static_cast<int64_t>(result.warnings.size())) {
    result.warnings.push_back(
        std::to_string(skipped - static_cast<int64_t>(result.warnings.size())) +
        " more malformed lines were skipped (" + std::to_string(skipped) + " in total)");
  }
  if (result.num_rows == 0) {
    if (skipped > 0) {
      throw_invalid("the dataset has no valid records: all " + std::to_string(skipped) +
                    " lines are malformed (first: " + result.warnings.front() + ")");
    }
    throw_invalid("the dataset has no records");
  }
  result.skipped_rows = skipped;
  sink.finish();
  return result;
}

}  // namespace ej::service
