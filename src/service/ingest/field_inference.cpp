#include "service/ingest/field_inference.h"

#include <cstdint>
#include <limits>

#include "service/avro_parts.h"
#include "service/ingest/text_util.h"

namespace ej::service::ingest {

using nlohmann::json;

namespace {

const char* json_kind(const json& v) {
  if (v.is_number()) return "a number";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "a value";
}

}  // namespace

std::vector<FieldPlan> plan_fields(const std::vector<std::string>& keep_fields,
                                   const std::vector<std::string>& optional_fields) {
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
  for (const auto& f : keep_fields) add_field(f, false);
  for (const auto& f : optional_fields) add_field(f, true);
  return fields;
}

WantedFields wanted_fields(const std::vector<FieldPlan>& fields) {
  WantedFields wanted{{"text"}, {true}};
  for (const auto& f : fields) {
    wanted.names.push_back(f.name);
    wanted.required.push_back(f.required);
  }
  return wanted;
}

void FieldStats::add(const std::optional<json>& v) {
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

json FieldStats::avro_type(bool nullable) const {
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

std::string embed_input_schema_json(const std::vector<FieldPlan>& fields,
                                    const std::vector<FieldStats>& stats) {
  json schema_fields = json::array();
  schema_fields.push_back(json{{"name", "text"}, {"type", "string"}});
  for (size_t i = 0; i < fields.size(); ++i) {
    schema_fields.push_back(
        json{{"name", fields[i].name}, {"type", stats[i].avro_type(fields[i].optional)}});
  }
  json schema = {{"type", "record"},
                 {"name", "embed_input"},
                 {"namespace", std::string(kAvroNamespace)},
                 {"fields", schema_fields}};
  return schema.dump();
}

}  // namespace ej::service::ingest
