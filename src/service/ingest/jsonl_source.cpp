// JSON Lines row source: one JSON object per line (simdjson DOM), blank lines skipped, a trailing
// \r dropped. Names the field that holds invalid UTF-8 when it can.
#include <simdjson.h>

#include "common/error.h"
#include "service/ingest/input_file.h"
#include "service/ingest/row_source.h"
#include "service/ingest/text_util.h"

namespace ej::service::ingest {

namespace {

using nlohmann::json;

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

// The message for a line simdjson rejects as invalid UTF-8.
std::string utf8_error(std::string_view line) {
  size_t pos = first_invalid_utf8(line);
  bool in_key = false;
  std::string key = pos == std::string::npos ? "" : top_level_key_at(line, pos, &in_key);
  if (key.empty() || in_key || first_invalid_utf8(key) != std::string::npos) {
    return "invalid UTF-8";
  }
  return "field " + quote(key) + " is not valid UTF-8";
}

class JsonlSource : public RowSource {
 public:
  JsonlSource(const std::string& path, const WantedFields& wanted, size_t max_record)
      : in_(path), wanted_(wanted.names), max_record_(max_record) {
    in_.skip_bom();
  }

  bool next(RawRow* row) override {
    for (;;) {
      bool too_long = false;
      if (!in_.read_line(&line_, max_record_, &too_long)) return false;
      ++line_no_;
      if (too_long) throw_invalid(too_long_message(line_no_, max_record_, ""));
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (!trim(line_).empty()) break;
    }
    row->line = line_no_;
    row->error.clear();
    row->values.assign(wanted_.size(), std::nullopt);
    size_t len = line_.size();
    line_.reserve(len + simdjson::SIMDJSON_PADDING);
    simdjson::dom::element doc;
    auto err = parser_.parse(line_.data(), len, false).get(doc);
    if (err == simdjson::UTF8_ERROR) {
      row->error = utf8_error(line_);
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

}  // namespace

std::unique_ptr<RowSource> make_jsonl_source(const std::string& path, const WantedFields& wanted,
                                             size_t max_record_bytes) {
  return std::make_unique<JsonlSource>(path, wanted, max_record_bytes);
}

}  // namespace ej::service::ingest
