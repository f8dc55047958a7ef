// What the service layer shows of its resources (datasets, embed jobs) to the layer above. The
// API layer maps these to the wire (cohere_types) and never sees a store row; the mapping from
// rows lives here, beside the services that own the rows. Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/records.h"
#include "common/status.h"

namespace ej::store {
struct DatasetRow;
struct JobRow;
}  // namespace ej::store

namespace ej::service {

struct DatasetPart {
  int64_t index = 0;
  std::string name;  // part-N.avro
  int64_t size_bytes = 0;
  int64_t num_rows = 0;
  nlohmann::json samples = nlohmann::json::array();  // a few rows, each as its JSON text
};

struct Dataset {
  std::string id;
  std::string name;
  std::string type;  // embed-input, embed-result, ...
  DatasetStatus status = DatasetStatus::kQueued;
  std::string validation_error;  // user terms; empty unless failed
  int64_t created_us = 0;
  int64_t updated_us = 0;
  int64_t size_bytes = 0;
  int64_t total_rows = 0;
  std::string schema;  // Avro schema (JSON text); empty until validated
  std::vector<std::string> required_fields = {"text"};
  std::vector<std::string> preserve_fields;
  nlohmann::json warnings = nlohmann::json::array();
  std::vector<DatasetPart> parts;  // only once validated
  bool has_original_file = false;  // keep_original_file: downloadable as part "original"
  std::optional<std::string> csv_delimiter;
  std::optional<std::string> text_separator;
};

// An embed job as the API may show it (store::JobRow less the store's bookkeeping).
using Job = JobRecord;

// A file a signed download link points at.
struct DownloadFile {
  std::string key;       // in the blob store (Services::blobs)
  std::string filename;  // for Content-Disposition
};

Dataset to_dataset(const store::DatasetRow& row);

}  // namespace ej::service
