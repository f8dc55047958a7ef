#include "service/ingest/part_sink.h"

#include <unistd.h>

namespace ej::service {

PartSink::~PartSink() {
  if (finished_) return;
  writer_.reset();
  for (const auto& p : result_->parts) ::unlink(p.path.c_str());
}

void PartSink::open_part_if_needed() {
  if (writer_) return;
  current_.index = static_cast<int>(result_->parts.size());
  current_.name = prefix_ + "-" + std::to_string(current_.index) + ".avro";
  current_.path = out_dir_ + "/" + current_.name;
  writer_ =
      std::make_unique<AvroPartWriter>(current_.path, result_->schema_json, o_.codec, 16u << 20);
}

void PartSink::after_append() {
  ++result_->num_rows;
  if (writer_->num_rows() >= o_.max_rows_per_part ||
      writer_->encoded_bytes() >= o_.max_bytes_per_part) {
    finish_part();
  }
}

void PartSink::finish() {
  if (writer_) finish_part();
  finished_ = true;
}

void PartSink::finish_part() {
  current_.size_bytes = writer_->close();
  current_.num_rows = writer_->num_rows();
  result_->total_bytes += current_.size_bytes;
  result_->parts.push_back(std::move(current_));
  current_ = IngestPart{};
  writer_.reset();
}

}  // namespace ej::service
