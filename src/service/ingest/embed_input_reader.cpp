#include "service/ingest/embed_input_reader.h"

namespace ej::service {

EmbedInputReader::EmbedInputReader(std::vector<PartRef> parts) : parts_(std::move(parts)) {}

bool EmbedInputReader::open_next_part() {
  reader_.reset();
  if (next_part_ >= parts_.size()) return false;
  reader_ = std::make_unique<AvroPartReader>(parts_[next_part_++].path);
  return true;
}

void EmbedInputReader::seek(int64_t row_index) {
  reader_.reset();
  next_part_ = 0;
  next_index_ = 0;
  while (next_part_ < parts_.size() && parts_[next_part_].num_rows >= 0 &&
         next_index_ + parts_[next_part_].num_rows <= row_index) {
    next_index_ += parts_[next_part_].num_rows;
    ++next_part_;
  }
  InputRow skip;
  while (next_index_ < row_index && next(&skip)) {
  }
}

bool EmbedInputReader::next(InputRow* row) {
  for (;;) {
    if (!reader_ && !open_next_part()) return false;
    if (reader_->next(&record_)) break;
    reader_.reset();
  }
  row->index = next_index_++;
  auto it = record_.find("text");
  row->text = it != record_.end() && it->is_string() ? it->get<std::string>() : std::string();
  if (it != record_.end()) record_.erase(it);
  row->kept = std::move(record_);
  record_ = nlohmann::json::object();
  return true;
}

std::string EmbedInputReader::schema_json() {
  if (parts_.empty()) return {};
  AvroPartReader r(parts_.front().path);
  return r.schema_json();
}

}  // namespace ej::service
