#include "api/cohere_types.h"

#include <algorithm>

#include "common/clock.h"

namespace ej::api {

nlohmann::json api_meta(const std::string& version) {
  return {{"api_version", {{"version", version}}}};
}

nlohmann::json dataset_json(const service::Dataset& ds, const PartUrlSigner& signer,
                            const std::string& base_url, int64_t now_s) {
  nlohmann::json d = {{"id", ds.id},
                      {"name", ds.name},
                      {"created_at", format_rfc3339(ds.created_us)},
                      {"updated_at", format_rfc3339(ds.updated_us)},
                      {"dataset_type", ds.type},
                      {"validation_status", status_name(ds.status)}};
  if (!ds.validation_error.empty()) d["validation_error"] = ds.validation_error;
  if (!ds.schema.empty()) d["schema"] = ds.schema;
  d["required_fields"] = ds.required_fields;
  d["preserve_fields"] = ds.preserve_fields;
  d["validation_warnings"] = ds.warnings;
  nlohmann::json parts = nlohmann::json::array();
  for (const service::DatasetPart& p : ds.parts) {
    std::string index = std::to_string(p.index);
    nlohmann::json part = {{"id", ds.id + "-part-" + index},
                           {"name", p.name},
                           {"url", base_url + signer.signed_path(ds.id, index, now_s)},
                           {"index", p.index},
                           {"size_bytes", p.size_bytes},
                           {"num_rows", p.num_rows},
                           {"samples", p.samples}};
    if (ds.has_original_file) {
      part["original_url"] = base_url + signer.signed_path(ds.id, "original", now_s);
    }
    parts.push_back(std::move(part));
  }
  d["dataset_parts"] = parts;
  nlohmann::json parse_info = nlohmann::json::object();
  if (ds.text_separator) parse_info["separator"] = *ds.text_separator;
  if (ds.csv_delimiter) parse_info["delimiter"] = *ds.csv_delimiter;
  if (!parse_info.empty()) d["parse_info"] = parse_info;
  d["total_rows"] = ds.total_rows;
  d["size_bytes"] = ds.size_bytes;
  return d;
}

nlohmann::json job_progress_json(const service::Job& job, int64_t now_us) {
  bool running = job.status == JobStatus::kProcessing || job.status == JobStatus::kCancelling;
  int64_t end_us = running ? now_us : job.updated_us;
  double elapsed_s = static_cast<double>(std::max<int64_t>(end_us - job.created_us, 0)) / 1e6;
  double rows_per_s = elapsed_s > 0 ? static_cast<double>(job.rows_done) / elapsed_s : 0.0;
  nlohmann::json p = {
      {"total_rows", job.total_rows},
      {"completed_rows", job.rows_done},
      {"failed_rows",
       job.status == JobStatus::kFailed ? std::max<int64_t>(job.total_rows - job.rows_done, 0) : 0},
      {"rows_per_second", rows_per_s}};
  if (running && rows_per_s > 0 && job.total_rows >= job.rows_done) {
    p["eta_seconds"] = static_cast<double>(job.total_rows - job.rows_done) / rows_per_s;
  } else if (!running) {
    p["eta_seconds"] = 0.0;
  }
  return p;
}

nlohmann::json job_json(const service::Job& job) {
  double percent = 0.0;
  if (job.status == JobStatus::kComplete) {
    percent = 100.0;
  } else if (job.total_rows > 0) {
    percent = 100.0 * static_cast<double>(job.rows_done) / static_cast<double>(job.total_rows);
  }
  nlohmann::json j = {{"job_id", job.id},
                      {"status", status_name(job.status)},
                      {"created_at", format_rfc3339(job.created_us)},
                      {"updated_at", format_rfc3339(job.updated_us)},
                      {"input_dataset_id", job.input_dataset_id},
                      {"model", job.model},
                      {"truncate", job.truncate},
                      {"input_type", job.input_type},
                      {"embedding_types", job.embedding_types},
                      {"percent_complete", percent},
                      {"total_rows", job.total_rows},
                      {"rows_done", job.rows_done}};
  j["progress"] = job_progress_json(job, now_us());
  // When a worker first claimed it (a queued job that never ran: its creation).
  j["started_at"] = format_rfc3339(job.started_us > 0 ? job.started_us : job.created_us);
  if (job.status != JobStatus::kProcessing && job.status != JobStatus::kCancelling) {
    j["finished_at"] = format_rfc3339(job.updated_us);
  }
  if (!job.name.empty()) j["name"] = job.name;
  if (!job.output_dataset_id.empty()) j["output_dataset_id"] = job.output_dataset_id;
  if (!job.error.empty()) j["failure_reason"] = job.error;
  nlohmann::json meta = api_meta("1");
  meta["billed_units"] = {{"input_tokens", job.input_tokens}};
  meta["tokens"] = {{"input_tokens", job.input_tokens}};
  meta["cached_tokens"] = job.cached_tokens;
  meta["warnings"] = nlohmann::json::array();
  j["meta"] = meta;
  return j;
}

nlohmann::json model_json(const service::ServedModel& m) {
  const engine::ModelInfo& info = m.embedder->info();
  return {{"name", m.name},
          {"is_deprecated", false},
          {"endpoints", {"embed"}},
          {"default_endpoints", nlohmann::json::array()},
          {"finetuned", false},
          {"context_length", info.max_tokens},
          {"features", {"dims:" + std::to_string(info.dims), "kind:" + info.kind}},
          {"embedding_dimensions", info.dims},
          {"kind", info.kind},
          {"quantization", {{"int8_uint8_range", {info.calib_lo, info.calib_hi}}}}};
}

}  // namespace ej::api
