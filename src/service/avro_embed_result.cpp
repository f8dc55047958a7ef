// The embed-result part: its schema, and EmbedResultWriter, which encodes vectors straight from
// the caller's buffers (see service/avro_parts.h).
#include <string>
#include <utility>

#include "common/error.h"
#include "service/avro_encode.h"
#include "service/avro_parts.h"
#include "service/avro_schema.h"

namespace ej::service {

using detail::JsonEncoder;
using detail::put_long;
using detail::put_string;
using nlohmann::json;

std::string embed_result_schema_json(const nlohmann::json& kept_field_entries) {
  auto nullable_array = [](const char* items) {
    return json::array({"null", json{{"type", "array"}, {"items", items}}});
  };
  json emb_fields = json::array();
  emb_fields.push_back(json{{"name", "float"}, {"type", nullable_array("float")}});
  for (const char* name : {"int8", "uint8", "binary", "ubinary"}) {
    emb_fields.push_back(json{{"name", name}, {"type", nullable_array("int")}});
  }
  json fields = json::array();
  fields.push_back(json{{"name", "text"}, {"type", "string"}});
  fields.push_back(
      json{{"name", "embeddings"},
           {"type", json{{"type", "record"}, {"name", "embeddings"}, {"fields", emb_fields}}}});
  if (kept_field_entries.is_array()) {
    for (const auto& f : kept_field_entries) {
      if (!f.is_object() || !f.contains("name") || !f.contains("type")) {
        throw Error(ErrorCode::kInvalidArgument, "invalid kept field entry: " + f.dump());
      }
      const std::string name = f["name"].get<std::string>();
      if (name == "text" || name == "embeddings") continue;
      fields.push_back(json{{"name", name}, {"type", f["type"]}});
    }
  }
  json schema = {{"type", "record"},
                 {"name", "embed_result"},
                 {"namespace", std::string(kAvroNamespace)},
                 {"fields", fields}};
  return schema.dump();
}

nlohmann::json kept_field_entries(std::string_view input_schema_json) {
  json out = json::array();
  if (input_schema_json.empty()) return out;
  json s = json::parse(input_schema_json, nullptr, false);
  if (s.is_discarded() || !s.is_object() || !s.contains("fields") || !s["fields"].is_array()) {
    throw Error(ErrorCode::kInvalidArgument, "invalid embed-input schema");
  }
  for (const auto& f : s["fields"]) {
    if (f.is_object() && f.value("name", "") != "text") out.push_back(f);
  }
  return out;
}

namespace {

template <typename T>
void put_int_array(std::string* out, const T* v, int n) {
  if (n > 0) {
    put_long(out, n);
    for (int i = 0; i < n; ++i) {
      // zigzag of values in -128..255 fits in at most 2 bytes
      uint32_t z = (static_cast<uint32_t>(static_cast<int32_t>(v[i])) << 1) ^
                   static_cast<uint32_t>(static_cast<int32_t>(v[i]) >> 31);
      if (z < 0x80) {
        out->push_back(static_cast<char>(z));
      } else {
        char b[2] = {static_cast<char>((z & 0x7f) | 0x80), static_cast<char>(z >> 7)};
        out->append(b, 2);
      }
    }
  }
  out->push_back(0);
}

}  // namespace

EmbedResultWriter::EmbedResultWriter(std::string path, const nlohmann::json& kept_field_entries,
                                     std::string_view codec)
    : AvroPartWriter(std::move(path), embed_result_schema_json(kept_field_entries), codec) {}

void EmbedResultWriter::append_result(const EmbedResultRow& row) {
  if (row.dims < 0 || row.packed_len < 0) {
    throw Error(ErrorCode::kInvalidArgument, "negative embedding size");
  }
  buf_.clear();
  put_string(&buf_, row.text);
  // embeddings record: 5 x ["null", array]
  if (row.float_values) {
    buf_.push_back(2);  // branch 1 (zigzag)
    if (row.dims > 0) {
      put_long(&buf_, row.dims);
      buf_.append(reinterpret_cast<const char*>(row.float_values), size_t(row.dims) * 4);
    }
    buf_.push_back(0);
  } else {
    buf_.push_back(0);
  }
  auto ints = [this](const auto* v, int n) {
    if (v) {
      buf_.push_back(2);
      put_int_array(&buf_, v, n);
    } else {
      buf_.push_back(0);
    }
  };
  ints(row.int8_values, row.dims);
  ints(row.uint8_values, row.dims);
  ints(row.binary_values, row.packed_len);
  ints(row.ubinary_values, row.packed_len);
  const AvroNode& r = root();
  if (r.children.size() > 2) {
    static const json kEmpty = json::object();
    const json& kept = row.kept_fields && row.kept_fields->is_object() ? *row.kept_fields : kEmpty;
    JsonEncoder enc(&buf_);
    enc.encode_record_fields(r, kept, 2, "");
  }
  append_encoded(buf_);
}

}  // namespace ej::service
