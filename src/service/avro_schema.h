// Internal to ej_service: the compiled form of an Avro schema that our encoders walk (a tree of
// AvroNode, one per type occurrence; named types are shared), and compile_schema() that builds it
// from schema JSON. A compiled tree is immutable, so one may be read from any number of threads;
// compile_schema() itself keeps no state.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ej::service {

struct AvroNode {
  enum class Kind {
    kNull,
    kBoolean,
    kInt,
    kLong,
    kFloat,
    kDouble,
    kString,
    kBytes,
    kArray,
    kMap,
    kRecord,
    kUnion,
    kEnum,
    kFixed,
  };
  Kind kind = Kind::kNull;
  std::vector<const AvroNode*> children;  // array items, map values, union branches, fields
  std::vector<std::string> names;         // record field names, enum symbols
  int null_branch = -1;                   // union: index of the "null" branch
  size_t fixed_size = 0;
};

struct AvroSchemaTree {
  std::vector<std::unique_ptr<AvroNode>> nodes;
  const AvroNode* root = nullptr;
};

namespace detail {

// Throws ej::Error(kInvalidArgument) naming what is wrong when the schema is not valid Avro.
std::shared_ptr<const AvroSchemaTree> compile_schema(const nlohmann::json& schema);

}  // namespace detail
}  // namespace ej::service
