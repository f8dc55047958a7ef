// PartSink: writes a dataset's validated records into Avro parts <prefix>-<i>.avro under out_dir,
// starting the next part at max_rows_per_part / max_bytes_per_part, keeping the first
// num_samples records of each part as samples, and filling IngestResult (parts, rows, bytes).
// The parts are removed again unless finish() is reached, so a failed validation leaves
// nothing. Used by every dataset type's ingest. Single-threaded (the validating thread).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "service/dataset_ingest.h"

namespace ej::service {

class PartSink {
 public:
  // The references must outlive the sink; result->schema_json is the parts' schema.
  PartSink(const std::string& out_dir, const std::string& prefix, const IngestOptions& o,
           IngestResult* result)
      : out_dir_(out_dir), prefix_(prefix), o_(o), result_(result) {}
  ~PartSink();
  PartSink(const PartSink&) = delete;
  PartSink& operator=(const PartSink&) = delete;

  // Appends one record. `sample` is called only while the part still wants samples and returns
  // the sample's JSON text.
  template <typename SampleFn>
  void append(const nlohmann::json& record, SampleFn&& sample) {
    open_part_if_needed();
    writer_->append(record);
    if (current_.samples.size() < o_.num_samples) current_.samples.push_back(sample());
    after_append();
  }

  // Publishes the last part; from here the parts stay.
  void finish();

 private:
  void open_part_if_needed();
  void after_append();
  void finish_part();

  const std::string& out_dir_;
  const std::string& prefix_;
  const IngestOptions& o_;
  IngestResult* result_;
  std::unique_ptr<AvroPartWriter> writer_;
  IngestPart current_;
  bool finished_ = false;
};

}  // namespace ej::service
