#include "service/openai_batch_input.h"

#include <filesystem>
#include <unordered_map>

#include "common/error.h"
#include "service/ingest/batch_input.h"
#include "service/ingest/jsonl_lines.h"
#include "service/ingest/part_sink.h"
#include "service/ingest/text_util.h"

namespace ej::service {

namespace {

using nlohmann::json;

constexpr size_t kMaxCustomIdBytes = 1024;
constexpr const char* kEndpoint = "/v1/embeddings";

// One broken rule of a line.
struct LineProblem {
  std::string code;
  std::string message;
  std::string param;
};

// The problem with a parsed line (empty code: none); `model` is the file's model so far.
LineProblem check_line(const json& rec, const std::string& model) {
  if (!rec.is_object()) {
    return {"invalid_json_line",
            "a line must be a JSON object {\"custom_id\", \"method\", \"url\", \"body\"}", ""};
  }
  auto id = rec.find("custom_id");
  if (id == rec.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    return {"missing_required_parameter", "custom_id must be a non-empty string", "custom_id"};
  }
  if (id->get_ref<const std::string&>().size() > kMaxCustomIdBytes) {
    return {"invalid_value",
            "custom_id is longer than " + std::to_string(kMaxCustomIdBytes) + " bytes",
            "custom_id"};
  }
  auto method = rec.find("method");
  if (method == rec.end() || !method->is_string() || *method != "POST") {
    return {"invalid_method", "method must be \"POST\"", "method"};
  }
  auto url = rec.find("url");
  if (url == rec.end() || !url->is_string() || *url != kEndpoint) {
    return {"invalid_url",
            "url must be \"/v1/embeddings\", the batch's endpoint (the only one served)", "url"};
  }
  auto body = rec.find("body");
  if (body == rec.end() || !body->is_object()) {
    return {"missing_required_parameter", "body must be a JSON object (an /v1/embeddings request)",
            "body"};
  }
  auto m = body->find("model");
  if (m == body->end() || !m->is_string() || m->get_ref<const std::string&>().empty()) {
    return {"missing_required_parameter", "body.model must be a non-empty string", "body.model"};
  }
  if (!model.empty() && *m != model) {
    return {"mismatched_model",
            "body.model is " + ingest::quote(m->get<std::string>()) +
                ", but the file's first "
                "request uses " +
                ingest::quote(model) + ": a batch file holds one model",
            "body.model"};
  }
  return {};
}

}  // namespace

IngestResult ingest_openai_batch_input(const std::string& input_path, const std::string& out_dir,
                                       const std::string& part_prefix, const IngestOptions& o) {
  IngestResult result;
  result.format = InputFormat::kJsonl;
  result.schema_json = batch_embed_input_schema_json();
  result.required_fields = {"custom_id", "body"};
  json errors = json::array();
  int64_t num_errors = 0;
  std::string model;
  auto add_error = [&](int64_t line, const LineProblem& p) {
    ++num_errors;
    if (errors.size() >= kMaxOpenAiLineErrors) return;
    errors.push_back({{"code", p.code},
                      {"message", p.message},
                      {"param", p.param.empty() ? json(nullptr) : json(p.param)},
                      {"line", line > 0 ? json(line) : json(nullptr)}});
  };

  std::unordered_map<std::string, int64_t> first_line;  // custom_id -> its line
  PartSink sink(out_dir, part_prefix, o, &result);
  ingest::JsonlLines lines(input_path, o);
  std::string line;
  bool too_long = false;
  int64_t requests = 0;
  while (lines.next(&line, &too_long)) {
    const int64_t line_no = lines.line_no();
    ++requests;
    if (too_long) {
      add_error(line_no, {"invalid_json_line",
                          "the line is longer than " + std::to_string(o.max_record_bytes >> 20) +
                              " MiB, the limit for one request",
                          ""});
      continue;
    }
    json rec;
    try {
      rec = ingest::JsonlLines::parse(line);
    } catch (const Error& e) {
      add_error(line_no, {"invalid_json_line", e.what(), ""});
      continue;
    }
    LineProblem p = check_line(rec, model);
    if (p.code.empty()) {
      const std::string& id = rec["custom_id"].get_ref<const std::string&>();
      auto [it, fresh] = first_line.emplace(id, line_no);
      if (!fresh) {
        p = {"duplicate_custom_id",
             "custom_id " + ingest::quote(id) + " is used again (first on line " +
                 std::to_string(it->second) + "); custom_id must be unique",
             "custom_id"};
      }
    }
    if (!p.code.empty()) {
      add_error(line_no, p);
      continue;
    }
    if (model.empty()) model = rec["body"]["model"].get<std::string>();
    sink.append({{"custom_id", rec["custom_id"]}, {"body", rec["body"].dump()}},
                [&] { return line; });
  }
  if (requests == 0) {
    add_error(0, {"empty_file", "the file has no requests: one JSON object per line", ""});
  }
  sink.finish();
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(input_path, ec);
  result.extra_info = {{"openai",
                        {{"model", model},
                         {"errors", errors},
                         {"num_errors", num_errors},
                         {"requests", requests},
                         {"bytes", ec ? 0 : static_cast<int64_t>(bytes)}}}};
  return result;
}

}  // namespace ej::service
