// EmbedInputReader: reads an embed-input dataset (the Avro parts that ingest_embed_input wrote)
// back, row by row, across its parts in order; used by the job runner. Owns the open part reader.
//
// Thread-safety: an EmbedInputReader is used by one thread (the job runner's worker that made it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/avro_parts.h"

namespace ej::service {

// One row of an embed-input dataset.
struct InputRow {
  int64_t index = 0;  // 0-based across all parts
  std::string text;
  nlohmann::json kept;  // object: the non-text fields of the row (may hold nulls)
};

struct PartRef {
  std::string path;
  int64_t num_rows = -1;  // when known, lets seek() skip whole parts without reading them
};

// Iterates an embed-input dataset's parts in order.
class EmbedInputReader {
 public:
  explicit EmbedInputReader(std::vector<PartRef> parts);
  // Positions the reader so that the next row returned has index `row_index` (for resuming).
  void seek(int64_t row_index);
  bool next(InputRow* row);
  // The schema of the first part (empty when there are no parts).
  std::string schema_json();

 private:
  bool open_next_part();
  std::vector<PartRef> parts_;
  size_t next_part_ = 0;
  int64_t next_index_ = 0;
  std::unique_ptr<AvroPartReader> reader_;
  nlohmann::json record_;
};

}  // namespace ej::service
