// Plain-text row source: the file split at text_separator; each trimmed, non-empty piece is one
// row whose "text" is the piece.
#include <simdjson.h>

#include "common/error.h"
#include "service/ingest/input_file.h"
#include "service/ingest/row_source.h"
#include "service/ingest/text_util.h"

namespace ej::service::ingest {

namespace {

class TxtSource : public RowSource {
 public:
  TxtSource(const std::string& path, std::string sep, size_t num_wanted, size_t max_record)
      : in_(path), sep_(std::move(sep)), num_wanted_(num_wanted), max_record_(max_record) {
    in_.skip_bom();
  }

  bool next(RawRow* row) override {
    for (;;) {
      if (in_.peek() < 0) return false;
      int64_t start = line_;
      read_piece(start);
      std::string_view t = trim(piece_);
      if (t.empty()) continue;
      // The row starts at the first non-blank character.
      for (const char* p = piece_.data(); p < t.data(); ++p) {
        if (*p == '\n') ++start;
      }
      row->line = start;
      row->error.clear();
      row->values.assign(num_wanted_, std::nullopt);
      if (!simdjson::validate_utf8(t)) {
        row->error = "field \"text\" is not valid UTF-8";
        return true;
      }
      row->values[0] = nlohmann::json(std::string(t));
      return true;
    }
  }

 private:
  // Reads into piece_ up to and excluding the next separator (or to the end of the file).
  void read_piece(int64_t start_line) {
    piece_.clear();
    for (;;) {
      int c = in_.get();
      if (c < 0) return;
      if (c == '\n') ++line_;
      piece_.push_back(static_cast<char>(c));
      if (piece_.size() > max_record_ + sep_.size()) {
        throw_invalid(too_long_message(start_line, max_record_, " (is text_separator right?)"));
      }
      if (piece_.size() >= sep_.size() && static_cast<char>(c) == sep_.back() &&
          std::string_view(piece_).substr(piece_.size() - sep_.size()) == sep_) {
        piece_.resize(piece_.size() - sep_.size());
        return;
      }
    }
  }

  InputFile in_;
  std::string sep_;
  size_t num_wanted_;
  size_t max_record_;
  std::string piece_;
  int64_t line_ = 1;
};

}  // namespace

std::unique_ptr<RowSource> make_txt_source(const std::string& path, std::string separator,
                                           const WantedFields& wanted, size_t max_record_bytes) {
  return std::make_unique<TxtSource>(path, std::move(separator), wanted.names.size(),
                                     max_record_bytes);
}

}  // namespace ej::service::ingest
