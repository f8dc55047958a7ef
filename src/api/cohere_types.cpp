#include "api/cohere_types.h"

#include "common/clock.h"

namespace ej::api {

nlohmann::json api_meta(const std::string& version) {
  return {{"api_version", {{"version", version}}}};
}

nlohmann::json dataset_json(const store::DatasetRow& r, const PartUrlSigner& signer,
                            const std::string& base_url, int64_t now_s) {
  nlohmann::json d = {{"id", r.id},
                      {"name", r.name},
                      {"created_at", format_rfc3339(r.created_us)},
                      {"updated_at", format_rfc3339(r.updated_us)},
                      {"dataset_type", r.dataset_type},
                      {"validation_status", r.validation_status}};
  if (!r.validation_error.empty()) d["validation_error"] = r.validation_error;
  const nlohmann::json& info = r.info;
  if (info.contains("schema")) d["schema"] = info["schema"];
  d["required_fields"] = info.value("required_fields", nlohmann::json::array({"text"}));
  d["preserve_fields"] = info.value("preserve_fields", nlohmann::json::array());
  d["validation_warnings"] = info.value("warnings", nlohmann::json::array());
  nlohmann::json parts = nlohmann::json::array();
  bool validated = r.validation_status == "validated";
  if (validated) {
    for (const auto& p : info.value("parts", nlohmann::json::array())) {
      std::string index = std::to_string(p.value("index", 0));
      nlohmann::json part = {{"id", r.id + "-part-" + index},
                             {"name", p.value("name", std::string())},
                             {"url", base_url + signer.signed_path(r.id, index, now_s)},
                             {"index", p.value("index", 0)},
                             {"size_bytes", p.value("size_bytes", 0)},
                             {"num_rows", p.value("num_rows", 0)},
                             {"samples", p.value("samples", nlohmann::json::array())}};
      if (info.contains("original_file")) {
        part["original_url"] = base_url + signer.signed_path(r.id, "original", now_s);
      }
      parts.push_back(std::move(part));
    }
  }
  d["dataset_parts"] = parts;
  const nlohmann::json& o = r.options;
  nlohmann::json parse_info = nlohmann::json::object();
  if (o.contains("text_separator")) parse_info["separator"] = o["text_separator"];
  if (o.contains("csv_delimiter")) parse_info["delimiter"] = o["csv_delimiter"];
  if (!parse_info.empty()) d["parse_info"] = parse_info;
  d["total_rows"] = r.num_rows;
  d["size_bytes"] = r.size_bytes;
  return d;
}

nlohmann::json job_json(const store::JobRow& r) {
  double percent = 0.0;
  if (r.status == "complete") {
    percent = 100.0;
  } else if (r.total_rows > 0) {
    percent = 100.0 * static_cast<double>(r.rows_done) / static_cast<double>(r.total_rows);
  }
  nlohmann::json j = {{"job_id", r.id},
                      {"status", r.status},
                      {"created_at", format_rfc3339(r.created_us)},
                      {"updated_at", format_rfc3339(r.updated_us)},
                      {"input_dataset_id", r.input_dataset_id},
                      {"model", r.model},
                      {"truncate", r.truncate},
                      {"input_type", r.input_type},
                      {"embedding_types", r.embedding_types},
                      {"percent_complete", percent},
                      {"total_rows", r.total_rows},
                      {"rows_done", r.rows_done}};
  if (!r.name.empty()) j["name"] = r.name;
  if (!r.output_dataset_id.empty()) j["output_dataset_id"] = r.output_dataset_id;
  if (!r.error.empty()) j["failure_reason"] = r.error;
  nlohmann::json meta = api_meta("1");
  meta["billed_units"] = {{"input_tokens", r.input_tokens}};
  meta["tokens"] = {{"input_tokens", r.input_tokens}};
  meta["cached_tokens"] = 0;
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
