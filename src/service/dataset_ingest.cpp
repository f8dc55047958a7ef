#include "service/dataset_ingest.h"

#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "common/error.h"

namespace ej::service {

namespace {

using nlohmann::json;

[[noreturn]] void fail_invalid(std::string msg) {
  throw Error(ErrorCode::kInvalidArgument, std::move(msg));
}

[[noreturn]] void fail_io(const std::string& msg) {
  throw Error(ErrorCode::kInternal, msg);
}

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_avro_name(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr std::string_view kBom = "\xEF\xBB\xBF";

const char* kObjectObjectMessage =
    "the uploaded file contains only the text \"[object Object]\": the cohere-ai JavaScript SDK "
    "sends this when it is given a stream or a {path}/{data, filename} object. Pass the file "
    "contents as a Buffer, Blob or File instead, e.g. new File([fs.readFileSync(path)], "
    "\"data.jsonl\")";

// Offset of the first byte that is not valid UTF-8, or npos.
size_t first_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// In a JSON object text, the top-level key whose key or value holds byte offset `pos`.
// *in_key is set when pos lies inside the key itself.
std::string top_level_key_at(std::string_view line, size_t pos, bool* in_key) {
  int depth = 0;
  bool in_string = false, escape = false, expecting_key = false, string_is_key = false;
  std::string current, building;
  *in_key = false;
  for (size_t i = 0; i < line.size() && i <= pos; ++i) {
    char c = line[i];
    if (in_string) {
      if (i == pos) {
        *in_key = string_is_key;
        return string_is_key ? building : current;
      }
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        in_string = false;
        if (string_is_key) current = building;
        continue;
      }
      if (string_is_key) building.push_back(c);
      continue;
    }
    if (c == '"') {
      in_string = true;
      string_is_key = depth == 1 && expecting_key;
      building.clear();
      expecting_key = false;
    } else if (c == '{' || c == '[') {
      ++depth;
      if (depth == 1) expecting_key = true;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expecting_key = true;
    }
  }
  return current;
}

// ---- buffered file input ----------------------------------------------------------------------

class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path), buf_(1 << 20) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail_io("cannot open " + path + ": " + std::strerror(errno));
  }
  ~InputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  void skip_bom() {
    if (!fill(3)) return;
    if (end_ - pos_ >= 3 && std::memcmp(buf_.data() + pos_, kBom.data(), 3) == 0) pos_ += 3;
  }

  int get() {
    if (pos_ == end_ && !fill(1)) return -1;
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  int peek() {
    if (pos_ == end_ && !fill(1)) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }

  // Reads up to and excluding the next '\n' (appending to *line, after clearing it). Returns
  // false at end of file with nothing read. Sets *too_long (and stops appending, but still
  // consumes the line) when the line exceeds max_len.
  bool read_line(std::string* line, size_t max_len, bool* too_long) {
    line->clear();
    *too_long = false;
    bool any = false;
    for (;;) {
      if (pos_ == end_ && !fill(1)) return any;
      any = true;
      const char* start = buf_.data() + pos_;
      const void* nl = std::memchr(start, '\n', end_ - pos_);
      size_t n = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : end_ - pos_;
      if (!*too_long) {
        if (line->size() + n > max_len) {
          *too_long = true;
        } else {
          line->append(start, n);
        }
      }
      pos_ += n;
      if (nl) {
        ++pos_;
        return true;
      }
    }
  }

 private:
  // Ensures at least `want` unread bytes if the file has them; false if none are left.
  bool fill(size_t want) {
    if (end_ - pos_ >= want) return true;
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    while (!eof_ && end_ < want) {
      ssize_t r = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (r < 0) {
        if (errno == EINTR) continue;
        fail_io("cannot read " + path_ + ": " + std::strerror(errno));
      }
      if (r == 0) eof_ = true;
      end_ += static_cast<size_t>(r);
    }
    return end_ > pos_;
  }

  std::string path_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  int fd_ = -1;
  bool eof_ = false;
};

// ---- row sources ------------------------------------------------------------------------------

// One row as parsed: values[i] is the value of wanted field i (0 = "text"), nullopt if missing.
struct RawRow {
  int64_t line = 0;
  std::string error;  // non-empty: the row is malformed (message without the "line N: " prefix)
  std::vector<std::optional<json>> values;
};

class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual bool next(RawRow* row) = 0;
};

std::string too_long_message(int64_t line, size_t max, const char* hint) {
  return "line " + std::to_string(line) + ": row is longer than " + std::to_string(max >> 20) +
         " MiB, the limit for one row" + hint;
}

class CsvSource : public RowSource {
 public:
  CsvSource(const std::string& path, char delim, const std::vector<std::string>& wanted,
            size_t num_required, size_t max_record)
      : in_(path),
        delim_(static_cast<unsigned char>(delim)),
        max_record_(max_record),
        num_wanted_(wanted.size()) {
    in_.skip_bom();
    std::vector<std::string> header;
    int64_t header_line = 1;
    bool quoted = false;
    while (read_record(&header, &header_line, &quoted)) {
      if (!(header.size() == 1 && header[0].empty() && !quoted)) break;
      header.clear();
    }
    column_to_wanted_.assign(header.size(), -1);
    std::vector<bool> found(wanted.size(), false);
    for (size_t c = 0; c < header.size(); ++c) {
      std::string name(trim(header[c]));
      for (size_t w = 0; w < wanted.size(); ++w) {
        if (wanted[w] != name) continue;
        if (found[w]) {
          fail_invalid("csv header has the column " + quote(name) + " twice (line " +
                       std::to_string(header_line) + ")");
        }
        found[w] = true;
        column_to_wanted_[c] = static_cast<int>(w);
      }
    }
    for (size_t w = 0; w < num_required; ++w) {
      if (!found[w]) {
        std::string list;
        for (size_t k = 0; k < num_required; ++k) list += (k ? ", " : "") + wanted[k];
        fail_invalid("csv files must have a header with the required fields: [" + list +
                     "] (line " + std::to_string(header_line) + ")");
      }
    }
  }

  bool next(RawRow* row) override {
    bool quoted = false;
    for (;;) {
      if (!read_record(&fields_, &row->line, &quoted)) return false;
      if (fields_.size() == 1 && fields_[0].empty() && !quoted) continue;  // blank line
      break;
    }
    row->error.clear();
    row->values.assign(num_wanted_, std::nullopt);
    if (fields_.size() != column_to_wanted_.size()) {
      row->error = "expected " + std::to_string(column_to_wanted_.size()) +
                   " columns as in the header but found " + std::to_string(fields_.size());
      return true;
    }
    for (size_t c = 0; c < fields_.size(); ++c) {
      int w = column_to_wanted_[c];
      if (w < 0) continue;
      if (!simdjson::validate_utf8(fields_[c])) {
        row->error = "field " + quote(header_name(w)) + " is not valid UTF-8";
        return true;
      }
      row->values[w] = json(std::move(fields_[c]));
    }
    return true;
  }

  void set_names(const std::vector<std::string>& wanted) { names_ = wanted; }

 private:
  std::string header_name(int w) const {
    return w >= 0 && size_t(w) < names_.size() ? names_[w] : "?";
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
    enum { kStart, kUnquoted, kQuoted, kAfterQuote } state = kStart;
    auto end_of_line = [&](int c) {
      if (c == '\r' && in_.peek() == '\n') get();
    };
    for (;;) {
      int c = get();
      if (++total > max_record_) {
        fail_invalid(too_long_message(*start_line, max_record_, " (is a quote left open?)"));
      }
      switch (state) {
        case kStart:
        case kUnquoted:
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
            end_of_line(c);
            fields->push_back(std::move(field));
            return true;
          } else {
            field.push_back(static_cast<char>(c));
            state = kUnquoted;
          }
          break;
        case kQuoted:
          if (c < 0) {
            fail_invalid("line " + std::to_string(*start_line) +
                         ": a quoted field is not closed before the end of the file");
          }
          if (c == '"') {
            if (in_.peek() == '"') {
              get();
              field.push_back('"');
            } else {
              state = kAfterQuote;
            }
          } else {
            field.push_back(static_cast<char>(c));
          }
          break;
        case kAfterQuote:
          if (c < 0) {
            fields->push_back(std::move(field));
            return true;
          }
          if (c == delim_) {
            fields->push_back(std::move(field));
            field.clear();
            state = kStart;
          } else if (c == '\n' || c == '\r') {
            end_of_line(c);
            fields->push_back(std::move(field));
            return true;
          } else {
            field.push_back(static_cast<char>(c));  // lenient: text after a closing quote
            state = kUnquoted;
          }
          break;
      }
    }
  }

  InputFile in_;
  int delim_;
  size_t max_record_;
  size_t num_wanted_;
  int64_t line_ = 1;
  std::vector<int> column_to_wanted_;
  std::vector<std::string> fields_;
  std::vector<std::string> names_;
};

json element_to_json(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::ARRAY: {
      json a = json::array();
      simdjson::dom::array arr;
      if (e.get_array().get(arr) == simdjson::SUCCESS) {
        for (auto c : arr) a.push_back(element_to_json(c));
      }
      return a;
    }
    case element_type::OBJECT: {
      json o = json::object();
      simdjson::dom::object obj;
      if (e.get_object().get(obj) == simdjson::SUCCESS) {
        for (auto field : obj) o[std::string(field.key)] = element_to_json(field.value);
      }
      return o;
    }
    case element_type::INT64: {
      return e.get_int64().value_unsafe();
    }
    case element_type::UINT64: {
      return e.get_uint64().value_unsafe();
    }
    case element_type::DOUBLE: {
      return e.get_double().value_unsafe();
    }
    case element_type::STRING: {
      return std::string(e.get_string().value_unsafe());
    }
    case element_type::BOOL: {
      return e.get_bool().value_unsafe();
    }
    case element_type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

const char* element_type_name(simdjson::dom::element_type t) {
  using simdjson::dom::element_type;
  switch (t) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "a number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

class JsonlSource : public RowSource {
 public:
  JsonlSource(const std::string& path, const std::vector<std::string>& wanted, size_t max_record)
      : in_(path), wanted_(wanted), max_record_(max_record) {
    in_.skip_bom();
  }

  bool next(RawRow* row) override {
    for (;;) {
      bool too_long = false;
      if (!in_.read_line(&line_, max_record_, &too_long)) return false;
      ++line_no_;
      if (too_long) fail_invalid(too_long_message(line_no_, max_record_, ""));
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (trim(line_).empty()) continue;
      break;
    }
    row->line = line_no_;
    row->error.clear();
    row->values.assign(wanted_.size(), std::nullopt);
    size_t len = line_.size();
    line_.reserve(len + simdjson::SIMDJSON_PADDING);
    simdjson::dom::element doc;
    auto err = parser_.parse(line_.data(), len, false).get(doc);
    if (err == simdjson::UTF8_ERROR) {
      size_t pos = first_invalid_utf8(line_);
      bool in_key = false;
      std::string key = pos == std::string::npos ? "" : top_level_key_at(line_, pos, &in_key);
      if (key.empty() || in_key || first_invalid_utf8(key) != std::string::npos) {
        row->error = "invalid UTF-8";
      } else {
        row->error = "field " + quote(key) + " is not valid UTF-8";
      }
      return true;
    }
    if (err) {
      row->error = std::string("invalid JSON (") + simdjson::error_message(err) + ")";
      return true;
    }
    simdjson::dom::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS) {
      row->error = std::string("expected a JSON object but found ") + element_type_name(doc.type());
      return true;
    }
    for (size_t w = 0; w < wanted_.size(); ++w) {
      simdjson::dom::element v;
      if (obj.at_key(wanted_[w]).get(v) == simdjson::SUCCESS) row->values[w] = element_to_json(v);
    }
    return true;
  }

 private:
  InputFile in_;
  std::vector<std::string> wanted_;
  size_t max_record_;
  std::string line_;
  int64_t line_no_ = 0;
  simdjson::dom::parser parser_;
};

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
      piece_.clear();
      for (;;) {
        int c = in_.get();
        if (c < 0) break;
        if (c == '\n') ++line_;
        piece_.push_back(static_cast<char>(c));
        if (piece_.size() > max_record_ + sep_.size()) {
          fail_invalid(too_long_message(start, max_record_, " (is text_separator right?)"));
        }
        if (piece_.size() >= sep_.size() && static_cast<char>(c) == sep_.back() &&
            std::string_view(piece_).substr(piece_.size() - sep_.size()) == sep_) {
          piece_.resize(piece_.size() - sep_.size());
          break;
        }
      }
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
      row->values[0] = json(std::string(t));
      return true;
    }
  }

 private:
  InputFile in_;
  std::string sep_;
  size_t num_wanted_;
  size_t max_record_;
  std::string piece_;
  int64_t line_ = 1;
};

// ---- validation and schema inference -----------------------------------------------------------

struct FieldPlan {
  std::string name;
  bool required = false;  // keep_fields: must be present (null allowed)
  bool optional = false;
};

struct FieldStats {
  bool str = false, integer = false, number = false, boolean = false, other = false, null = false;

  void add(const std::optional<json>& v) {
    if (!v || v->is_null()) {
      null = true;
    } else if (v->is_string()) {
      str = true;
    } else if (v->is_boolean()) {
      boolean = true;
    } else if (v->is_number_unsigned() &&
               v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
      number = true;
    } else if (v->is_number_integer()) {
      integer = true;
    } else if (v->is_number_float()) {
      number = true;
    } else {
      other = true;
    }
  }

  json avro_type(bool nullable) const {
    int kinds = int(str) + int(integer || number) + int(boolean) + int(other);
    std::string t = "string";
    if (kinds == 1 && !str && !other) {
      if (boolean) {
        t = "boolean";
      } else {
        t = number ? "double" : "long";
      }
    }
    if (nullable || null) return json::array({"null", t});
    return t;
  }
};

const char* json_kind(const json& v) {
  if (v.is_number()) return "a number";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "a value";
}

// Returns the error (empty if the row is valid).
std::string check_row(const RawRow& row, const std::vector<FieldPlan>& fields) {
  if (!row.error.empty()) return row.error;
  const auto& text = row.values[0];
  if (!text) return "field \"text\" is missing";
  if (text->is_null()) return "field \"text\" is null";
  if (!text->is_string())
    return std::string("field \"text\" must be a string but is ") + json_kind(*text);
  if (trim(text->get_ref<const std::string&>()).empty()) return "field \"text\" is empty";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].required && !row.values[i + 1])
      return "field " + quote(fields[i].name) + " is missing";
  }
  return {};
}

std::unique_ptr<RowSource> open_source(InputFormat format, const std::string& path,
                                       const IngestOptions& o,
                                       const std::vector<std::string>& wanted,
                                       size_t num_required) {
  switch (format) {
    case InputFormat::kCsv: {
      auto s = std::make_unique<CsvSource>(path, o.csv_delimiter[0], wanted, num_required,
                                           o.max_record_bytes);
      s->set_names(wanted);
      return s;
    }
    case InputFormat::kJsonl:
      return std::make_unique<JsonlSource>(path, wanted, o.max_record_bytes);
    case InputFormat::kTxt:
      return std::make_unique<TxtSource>(path, o.text_separator, wanted.size(), o.max_record_bytes);
    case InputFormat::kAuto:
      break;
  }
  fail_io("no input format");
}

std::string read_head(const std::string& path, size_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_io("cannot open " + path + ": " + std::strerror(errno));
  std::string out(max, '\0');
  size_t got = 0;
  while (got < max) {
    ssize_t r = ::read(fd, out.data() + got, max - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

void check_cancel(const IngestOptions& o) {
  if (o.cancel && o.cancel->load(std::memory_order_relaxed)) {
    throw Error(ErrorCode::kClientClosed, "dataset validation was cancelled");
  }
}

}  // namespace

std::string_view to_string(InputFormat format) {
  switch (format) {
    case InputFormat::kAuto:
      return "auto";
    case InputFormat::kCsv:
      return "csv";
    case InputFormat::kJsonl:
      return "jsonl";
    case InputFormat::kTxt:
      return "txt";
  }
  return "auto";
}

void validate_ingest_options(const IngestOptions& o) {
  if (o.csv_delimiter.size() != 1) fail_invalid("csv_delimiter must be exactly one character");
  char d = o.csv_delimiter[0];
  if (d == '"' || d == '\n' || d == '\r') {
    fail_invalid("csv_delimiter cannot be a quote or a line break");
  }
  if (o.text_separator.empty()) fail_invalid("text_separator must not be empty");
  if (o.max_rows_per_part <= 0) fail_invalid("max_rows_per_part must be positive");
  if (o.codec != "deflate" && o.codec != "null") fail_invalid("avro codec must be deflate or null");
  for (const auto* list : {&o.keep_fields, &o.optional_fields}) {
    const char* what = list == &o.keep_fields ? "keep_fields" : "optional_fields";
    for (const auto& f : *list) {
      if (f == "text") continue;
      if (!is_avro_name(f)) {
        fail_invalid(std::string(what) + ": " + quote(f) +
                     " is not a valid field name (use letters, digits and _, not starting with "
                     "a digit)");
      }
      if (f == "embeddings") {
        fail_invalid(std::string(what) + ": \"embeddings\" is reserved for the embed job output");
      }
    }
  }
}

InputFormat detect_input_format(std::string_view filename, std::string_view head,
                                char csv_delimiter) {
  if (trim(head) == "[object Object]") fail_invalid(kObjectObjectMessage);
  std::string base(filename);
  if (auto slash = base.find_last_of("/\\"); slash != std::string::npos)
    base = base.substr(slash + 1);
  if (auto dot = base.rfind('.'); dot != std::string::npos && dot > 0) {
    std::string ext = lower(base.substr(dot + 1));
    if (ext == "csv") return InputFormat::kCsv;
    if (ext == "jsonl" || ext == "json" || ext == "ndjson") return InputFormat::kJsonl;
    if (ext == "txt") return InputFormat::kTxt;
  }
  // Sniff.
  if (head.substr(0, 3) == kBom) head.remove_prefix(3);
  std::string_view rest = head;
  std::string_view first;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!trim(line).empty()) {
      first = trim(line);
      break;
    }
  }
  if (first.empty()) fail_invalid("the uploaded file is empty");
  if (first.front() == '{') return InputFormat::kJsonl;
  if (first.front() == '[') {
    fail_invalid("a JSON array is not supported: upload JSON Lines (one JSON object per line)");
  }
  // CSV: the first line must be a header with a "text" column.
  std::string cell;
  bool in_quotes = false;
  auto is_text = [](std::string_view c) { return trim(c) == "text"; };
  for (size_t i = 0; i <= first.size(); ++i) {
    char c = i < first.size() ? first[i] : csv_delimiter;
    if (in_quotes) {
      if (c == '"' && i + 1 < first.size() && first[i + 1] == '"') {
        cell.push_back('"');
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        cell.push_back(c);
      }
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == csv_delimiter) {
      if (is_text(cell)) return InputFormat::kCsv;
      cell.clear();
    } else {
      cell.push_back(c);
    }
  }
  fail_invalid(
      "could not tell the format of the uploaded file: give it a .csv, .jsonl or .txt name, "
      "or upload JSON Lines (one JSON object per line) or a CSV file whose header has a "
      "\"text\" column");
}

IngestResult ingest_embed_input(const std::string& input_path, const std::string& out_dir,
                                const std::string& part_prefix, const IngestOptions& o) {
  validate_ingest_options(o);
  IngestResult result;

  // Fields: text, then keep_fields, then optional_fields (each once; optional wins).
  std::vector<FieldPlan> fields;
  auto add_field = [&](const std::string& name, bool optional) {
    if (name == "text") return;
    for (auto& f : fields) {
      if (f.name == name) {
        if (optional) {
          f.optional = true;
          f.required = false;
        }
        return;
      }
    }
    fields.push_back(FieldPlan{name, !optional, optional});
  };
  for (const auto& f : o.keep_fields) add_field(f, false);
  for (const auto& f : o.optional_fields) add_field(f, true);
  std::vector<std::string> wanted{"text"};
  size_t num_required = 1;
  for (const auto& f : fields) wanted.push_back(f.name);
  // Required ones first in `wanted` would reorder the schema, so count them for CSV by name.
  std::vector<std::string> csv_wanted = wanted;
  {
    std::vector<std::string> req{"text"}, opt;
    for (const auto& f : fields) (f.required ? req : opt).push_back(f.name);
    num_required = req.size();
    csv_wanted = req;
    csv_wanted.insert(csv_wanted.end(), opt.begin(), opt.end());
  }

  std::string head = read_head(input_path, 64 << 10);
  if (trim(head).empty() || trim(head) == kBom) fail_invalid("the uploaded file is empty");
  InputFormat format = o.format;
  if (format == InputFormat::kAuto) {
    format = detect_input_format(o.filename, head, o.csv_delimiter[0]);
  } else if (trim(head) == "[object Object]") {
    fail_invalid(kObjectObjectMessage);
  }
  if (format == InputFormat::kJsonl) {
    std::string_view h = head;
    if (h.substr(0, 3) == kBom) h.remove_prefix(3);
    h = trim(h);
    if (!h.empty() && h.front() == '[') {
      fail_invalid("a JSON array is not supported: upload JSON Lines (one JSON object per line)");
    }
  }
  result.format = format;

  // CSV sources use csv_wanted order (required first); map back to `wanted` order.
  std::vector<size_t> to_wanted(wanted.size());
  const std::vector<std::string>& source_wanted = format == InputFormat::kCsv ? csv_wanted : wanted;
  for (size_t i = 0; i < source_wanted.size(); ++i) {
    to_wanted[i] = static_cast<size_t>(std::find(wanted.begin(), wanted.end(), source_wanted[i]) -
                                       wanted.begin());
  }
  auto normalize = [&](RawRow* row) {
    if (format != InputFormat::kCsv || !row->error.empty()) return;
    std::vector<std::optional<json>> v(wanted.size());
    for (size_t i = 0; i < row->values.size(); ++i) v[to_wanted[i]] = std::move(row->values[i]);
    row->values = std::move(v);
  };

  // Pass 1: validate and infer types.
  std::vector<FieldStats> stats(fields.size());
  int64_t valid = 0, skipped = 0;
  {
    auto src = open_source(format, input_path, o, source_wanted, num_required);
    RawRow row;
    int64_t n = 0;
    while (src->next(&row)) {
      if ((++n & 1023) == 0) check_cancel(o);
      normalize(&row);
      std::string err = check_row(row, fields);
      if (!err.empty()) {
        std::string msg = "line " + std::to_string(row.line) + ": " + err;
        if (!o.skip_malformed_input) fail_invalid(msg);
        ++skipped;
        if (result.warnings.size() < o.max_warnings) result.warnings.push_back(msg);
        continue;
      }
      ++valid;
      for (size_t i = 0; i < fields.size(); ++i) stats[i].add(row.values[i + 1]);
    }
  }
  if (skipped > static_cast<int64_t>(result.warnings.size())) {
    result.warnings.push_back(
        std::to_string(skipped - static_cast<int64_t>(result.warnings.size())) +
        " more malformed rows were skipped (" + std::to_string(skipped) + " in total)");
  }
  if (valid == 0) {
    if (skipped > 0) {
      fail_invalid("the dataset has no valid rows: all " + std::to_string(skipped) +
                   " rows are malformed (first: " + result.warnings.front() + ")");
    }
    fail_invalid("the dataset has no rows");
  }

  json schema_fields = json::array();
  schema_fields.push_back(json{{"name", "text"}, {"type", "string"}});
  for (size_t i = 0; i < fields.size(); ++i) {
    schema_fields.push_back(
        json{{"name", fields[i].name}, {"type", stats[i].avro_type(fields[i].optional)}});
    result.preserve_fields.push_back(fields[i].name);
  }
  json schema = {{"type", "record"},
                 {"name", "embed_input"},
                 {"namespace", std::string(kAvroNamespace)},
                 {"fields", schema_fields}};
  result.schema_json = schema.dump();
  result.required_fields = {"text"};
  result.skipped_rows = skipped;

  // Pass 2: write the parts.
  std::unique_ptr<AvroPartWriter> writer;
  IngestPart current;
  auto finish_part = [&]() {
    current.size_bytes = writer->close();
    current.num_rows = writer->num_rows();
    result.total_bytes += current.size_bytes;
    result.parts.push_back(std::move(current));
    current = IngestPart{};
    writer.reset();
  };
  try {
    auto src = open_source(format, input_path, o, source_wanted, num_required);
    RawRow row;
    int64_t n = 0;
    json record = json::object();
    while (src->next(&row)) {
      if ((++n & 1023) == 0) check_cancel(o);
      normalize(&row);
      if (!check_row(row, fields).empty()) continue;
      if (!writer) {
        current.index = static_cast<int>(result.parts.size());
        current.name = part_prefix + "-" + std::to_string(current.index) + ".avro";
        current.path = out_dir + "/" + current.name;
        writer =
            std::make_unique<AvroPartWriter>(current.path, result.schema_json, o.codec, 16u << 20);
      }
      record["text"] = std::move(*row.values[0]);
      for (size_t i = 0; i < fields.size(); ++i) {
        auto& v = row.values[i + 1];
        record[fields[i].name] = v ? std::move(*v) : json(nullptr);
      }
      writer->append(record);
      if (current.samples.size() < o.num_samples) {
        nlohmann::ordered_json sample = nlohmann::ordered_json::object();
        sample["text"] = record["text"];
        for (const auto& f : fields) sample[f.name] = record[f.name];
        current.samples.push_back(sample.dump());
      }
      ++result.num_rows;
      if (writer->num_rows() >= o.max_rows_per_part ||
          writer->encoded_bytes() >= o.max_bytes_per_part) {
        finish_part();
      }
    }
    if (writer) finish_part();
  } catch (...) {
    writer.reset();
    for (const auto& p : result.parts) ::unlink(p.path.c_str());
    throw;
  }
  return result;
}

// ---- EmbedInputReader -------------------------------------------------------------------------

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
  record_ = json::object();
  return true;
}

std::string EmbedInputReader::schema_json() {
  if (parts_.empty()) return {};
  AvroPartReader r(parts_.front().path);
  return r.schema_json();
}

}  // namespace ej::service
