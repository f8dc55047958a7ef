// CSV row source: RFC 4180 records (lenient about stray quotes), a header row naming the columns,
// blank lines skipped. Lines are counted at \n, \r\n and a lone \r.
#include <utility>

#include <simdjson.h>

#include "common/error.h"
#include "service/ingest/input_file.h"
#include "service/ingest/row_source.h"
#include "service/ingest/text_util.h"

namespace ej::service::ingest {

namespace {

class CsvSource : public RowSource {
 public:
  CsvSource(const std::string& path, char delim, const WantedFields& wanted, size_t max_record)
      : in_(path),
        delim_(static_cast<unsigned char>(delim)),
        max_record_(max_record),
        names_(wanted.names) {
    in_.skip_bom();
    std::vector<std::string> header;
    int64_t header_line = 1;
    bool quoted = false;
    while (read_record(&header, &header_line, &quoted)) {
      if (!is_blank(header, quoted)) break;
      header.clear();
    }
    column_to_wanted_.assign(header.size(), -1);
    std::vector<bool> found(names_.size(), false);
    for (size_t c = 0; c < header.size(); ++c) {
      std::string name(trim(header[c]));
      for (size_t w = 0; w < names_.size(); ++w) {
        if (names_[w] != name) continue;
        if (found[w]) {
          throw_invalid("csv header has the column " + quote(name) + " twice (line " +
                        std::to_string(header_line) + ")");
        }
        found[w] = true;
        column_to_wanted_[c] = static_cast<int>(w);
      }
    }
    for (size_t w = 0; w < names_.size(); ++w) {
      if (wanted.required[w] && !found[w]) {
        std::string list;
        for (size_t k = 0; k < names_.size(); ++k) {
          if (wanted.required[k]) list += (list.empty() ? "" : ", ") + names_[k];
        }
        throw_invalid("csv files must have a header with the required fields: [" + list +
                      "] (line " + std::to_string(header_line) + ")");
      }
    }
  }

  bool next(RawRow* row) override {
    bool quoted = false;
    do {
      if (!read_record(&fields_, &row->line, &quoted)) return false;
    } while (is_blank(fields_, quoted));
    row->error.clear();
    row->values.assign(names_.size(), std::nullopt);
    if (fields_.size() != column_to_wanted_.size()) {
      row->error = "expected " + std::to_string(column_to_wanted_.size()) +
                   " columns as in the header but found " + std::to_string(fields_.size());
      return true;
    }
    for (size_t c = 0; c < fields_.size(); ++c) {
      int w = column_to_wanted_[c];
      if (w < 0) continue;
      if (!simdjson::validate_utf8(fields_[c])) {
        row->error = "field " + quote(names_[w]) + " is not valid UTF-8";
        return true;
      }
      row->values[w] = nlohmann::json(std::move(fields_[c]));
    }
    return true;
  }

 private:
  // A blank line reads as one empty, unquoted field.
  static bool is_blank(const std::vector<std::string>& fields, bool any_quoted) {
    return fields.size() == 1 && fields[0].empty() && !any_quoted;
  }

  int get() {
    int c = in_.get();
    if (c == '\n') {
      ++line_;
    } else if (c == '\r' && in_.peek() != '\n') {
      ++line_;
    }
    return c;
  }

  // RFC 4180 record; lenient about stray quotes. Returns false at end of file.
  bool read_record(std::vector<std::string>* fields, int64_t* start_line, bool* any_quoted) {
    fields->clear();
    *any_quoted = false;
    if (in_.peek() < 0) return false;
    *start_line = line_;
    std::string field;
    size_t total = 0;
    enum { kStart, kUnquoted, kQuoted } state = kStart;
    for (;;) {
      int c = get();
      if (++total > max_record_) {
        throw_invalid(too_long_message(*start_line, max_record_, " (is a quote left open?)"));
      }
      if (state == kQuoted) {
        if (c < 0) {
          throw_invalid("line " + std::to_string(*start_line) +
                        ": a quoted field is not closed before the end of the file");
        }
        if (c != '"') {
          field.push_back(static_cast<char>(c));
        } else if (in_.peek() == '"') {
          get();
          field.push_back('"');
        } else {
          state = kUnquoted;  // lenient: text after a closing quote joins the field
        }
        continue;
      }
      if (c < 0) {
        fields->push_back(std::move(field));
        return true;
      }
      if (c == '"' && state == kStart) {
        state = kQuoted;
        *any_quoted = true;
      } else if (c == delim_) {
        fields->push_back(std::move(field));
        field.clear();
        state = kStart;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && in_.peek() == '\n') get();
        fields->push_back(std::move(field));
        return true;
      } else {
        field.push_back(static_cast<char>(c));
        state = kUnquoted;
      }
    }
  }

  InputFile in_;
  int delim_;
  size_t max_record_;
  std::vector<std::string> names_;  // the wanted fields
  int64_t line_ = 1;
  std::vector<int> column_to_wanted_;  // per header column: index into names_, or -1
  std::vector<std::string> fields_;
};

}  // namespace

std::unique_ptr<RowSource> make_csv_source(const std::string& path, char delimiter,
                                           const WantedFields& wanted, size_t max_record_bytes) {
  return std::make_unique<CsvSource>(path, delimiter, wanted, max_record_bytes);
}

}  // namespace ej::service::ingest
