#include "service/resources.h"

#include "store/store.h"

namespace ej::service {

namespace {

std::vector<std::string> strings(const nlohmann::json& info, const char* key,
                                 std::vector<std::string> fallback) {
  auto it = info.find(key);
  if (it == info.end() || !it->is_array()) return fallback;
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::optional<std::string> option(const nlohmann::json& options, const char* key) {
  auto it = options.find(key);
  if (it == options.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

Dataset to_dataset(const store::DatasetRow& r) {
  Dataset d;
  d.id = r.id;
  d.name = r.name;
  d.type = r.dataset_type;
  d.status = r.status;
  d.validation_error = r.validation_error;
  d.created_us = r.created_us;
  d.updated_us = r.updated_us;
  d.size_bytes = r.size_bytes;
  d.total_rows = r.num_rows;
  const nlohmann::json& info = r.info;
  d.schema = info.value("schema", std::string());
  d.required_fields = strings(info, "required_fields", {"text"});
  d.preserve_fields = strings(info, "preserve_fields", {});
  d.warnings = info.value("warnings", nlohmann::json::array());
  d.has_original_file = info.contains("original_file");
  if (r.status == DatasetStatus::kValidated) {
    for (const auto& p : info.value("parts", nlohmann::json::array())) {
      DatasetPart part;
      part.index = p.value("index", int64_t{0});
      part.name = p.value("name", std::string());
      part.size_bytes = p.value("size_bytes", int64_t{0});
      part.num_rows = p.value("num_rows", int64_t{0});
      part.samples = p.value("samples", nlohmann::json::array());
      d.parts.push_back(std::move(part));
    }
  }
  d.csv_delimiter = option(r.options, "csv_delimiter");
  d.text_separator = option(r.options, "text_separator");
  return d;
}

}  // namespace ej::service
