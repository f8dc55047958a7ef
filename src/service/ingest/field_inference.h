// What the rows of an embed-input dataset must hold and what Avro schema they get: the field plan
// from the options (text, keep_fields, optional_fields), the per-row check (text present, a
// non-empty string; keep_fields present), and the type inference over the valid rows
// (FieldStats -> "string" / "long" / "double" / "boolean", nullable where needed).
//
// Thread-safety: plain values and pure functions; a FieldStats is fed by one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/ingest/row_source.h"

namespace ej::service::ingest {

// A non-text field of the dataset.
struct FieldPlan {
  std::string name;
  bool required = false;  // keep_fields: must be present (null allowed)
  bool optional = false;  // optional_fields: may be missing; its Avro type is nullable
};

// The non-text fields in schema order: keep_fields, then optional_fields, each once ("text" is
// left out; a field in both lists is optional).
std::vector<FieldPlan> plan_fields(const std::vector<std::string>& keep_fields,
                                   const std::vector<std::string>& optional_fields);

// What a row source extracts for `fields`: "text" (required), then `fields` in order.
WantedFields wanted_fields(const std::vector<FieldPlan>& fields);

// The kinds of value one field took across the valid rows.
struct FieldStats {
  bool str = false, integer = false, number = false, boolean = false, other = false, null = false;

  void add(const std::optional<nlohmann::json>& value);
  // The Avro type: one scalar kind keeps its type (integers and floats together make "double"),
  // anything else is "string"; ["null", type] when `nullable` or a value was missing or null.
  nlohmann::json avro_type(bool nullable) const;
};

// The problem with `row` (its parse error, or what check fails), empty if the row is valid.
// row.values is in wanted_fields(fields) order.
std::string check_row(const RawRow& row, const std::vector<FieldPlan>& fields);

// The Avro record schema (JSON text) of the parts: "text" then `fields`, typed by `stats`
// (stats[i] describes fields[i]).
std::string embed_input_schema_json(const std::vector<FieldPlan>& fields,
                                    const std::vector<FieldStats>& stats);

}  // namespace ej::service::ingest
