#include "service/avro_encode.h"

#include <cmath>
#include <limits>

#include "common/error.h"

namespace ej::service::detail {
namespace {

using Kind = AvroNode::Kind;
using nlohmann::json;

const char* json_type_name(const json* v) {
  if (!v) return "missing";
  switch (v->type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kInt:
      return "int";
    case Kind::kLong:
      return "long";
    case Kind::kFloat:
      return "float";
    case Kind::kDouble:
      return "double";
    case Kind::kString:
      return "string";
    case Kind::kBytes:
      return "bytes";
    case Kind::kArray:
      return "array";
    case Kind::kMap:
      return "map";
    case Kind::kRecord:
      return "record";
    case Kind::kUnion:
      return "union";
    case Kind::kEnum:
      return "enum";
    case Kind::kFixed:
      return "fixed";
  }
  return "?";
}

bool is_integral_double(const json& v) {
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && std::trunc(d) == d && d >= -9.2233720368547758e18 &&
         d < 9.2233720368547758e18;
}

// Exact match: the JSON type is the natural JSON form of this Avro type.
bool matches(const AvroNode& n, const json& v) {
  switch (n.kind) {
    case Kind::kNull:
      return v.is_null();
    case Kind::kBoolean:
      return v.is_boolean();
    case Kind::kInt:
    case Kind::kLong:
      return v.is_number_integer() &&
             !(v.is_number_unsigned() &&
               v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()));
    case Kind::kFloat:
    case Kind::kDouble:
      return v.is_number_float();
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kEnum:
    case Kind::kFixed:
      return v.is_string();
    case Kind::kArray:
      return v.is_array();
    case Kind::kMap:
    case Kind::kRecord:
      return v.is_object();
    case Kind::kUnion:
      return false;
  }
  return false;
}

// Convertible: encode_json() would accept it.
bool accepts(const AvroNode& n, const json& v) {
  switch (n.kind) {
    case Kind::kString:
      return !v.is_null();
    case Kind::kInt:
    case Kind::kLong:
      return matches(n, v) || is_integral_double(v);
    case Kind::kFloat:
    case Kind::kDouble:
      return v.is_number();
    default:
      return matches(n, v);
  }
}

}  // namespace

void JsonEncoder::encode(const AvroNode& n, const json* v, const std::string& where) {
  switch (n.kind) {
    case Kind::kNull:
      if (v && !v->is_null()) mismatch(n, v, where);
      return;
    case Kind::kBoolean:
      if (!v || !v->is_boolean()) mismatch(n, v, where);
      out_->push_back(v->get<bool>() ? 1 : 0);
      return;
    case Kind::kInt:
    case Kind::kLong: {
      if (!v) mismatch(n, v, where);
      int64_t x;
      if (matches(n, *v)) {
        x = v->get<int64_t>();
      } else if (is_integral_double(*v)) {
        x = static_cast<int64_t>(v->get<double>());
      } else {
        mismatch(n, v, where);
      }
      if (n.kind == Kind::kInt &&
          (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())) {
        mismatch(n, v, where);
      }
      put_long(out_, x);
      return;
    }
    case Kind::kFloat:
      if (!v || !v->is_number()) mismatch(n, v, where);
      put_float(out_, v->get<float>());
      return;
    case Kind::kDouble:
      if (!v || !v->is_number()) mismatch(n, v, where);
      put_double(out_, v->get<double>());
      return;
    case Kind::kString:
      if (!v || v->is_null()) mismatch(n, v, where);
      if (v->is_string()) {
        put_string(out_, v->get_ref<const std::string&>());
      } else {
        put_string(out_, v->dump());
      }
      return;
    case Kind::kBytes:
      if (!v || !v->is_string()) mismatch(n, v, where);
      put_string(out_, v->get_ref<const std::string&>());
      return;
    case Kind::kFixed: {
      if (!v || !v->is_string() || v->get_ref<const std::string&>().size() != n.fixed_size) {
        mismatch(n, v, where);
      }
      out_->append(v->get_ref<const std::string&>());
      return;
    }
    case Kind::kEnum: {
      if (!v || !v->is_string()) mismatch(n, v, where);
      const auto& s = v->get_ref<const std::string&>();
      for (size_t i = 0; i < n.names.size(); ++i) {
        if (n.names[i] == s) {
          put_long(out_, static_cast<int64_t>(i));
          return;
        }
      }
      mismatch(n, v, where);
    }
    case Kind::kArray:
      if (!v || !v->is_array()) mismatch(n, v, where);
      if (!v->empty()) {
        put_long(out_, static_cast<int64_t>(v->size()));
        for (const auto& item : *v) encode(*n.children[0], &item, where);
      }
      put_long(out_, 0);
      return;
    case Kind::kMap:
      if (!v || !v->is_object()) mismatch(n, v, where);
      if (!v->empty()) {
        put_long(out_, static_cast<int64_t>(v->size()));
        for (auto it = v->begin(); it != v->end(); ++it) {
          put_string(out_, it.key());
          encode(*n.children[0], &it.value(), where);
        }
      }
      put_long(out_, 0);
      return;
    case Kind::kRecord:
      if (!v || !v->is_object()) mismatch(n, v, where);
      encode_record_fields(n, *v, 0, where);
      return;
    case Kind::kUnion: {
      if (!v || v->is_null()) {
        if (n.null_branch < 0) mismatch(n, v, where);
        put_long(out_, n.null_branch);
        return;
      }
      for (size_t i = 0; i < n.children.size(); ++i) {
        if (matches(*n.children[i], *v)) {
          put_long(out_, static_cast<int64_t>(i));
          encode(*n.children[i], v, where);
          return;
        }
      }
      for (size_t i = 0; i < n.children.size(); ++i) {
        if (n.children[i]->kind != Kind::kNull && accepts(*n.children[i], *v)) {
          put_long(out_, static_cast<int64_t>(i));
          encode(*n.children[i], v, where);
          return;
        }
      }
      mismatch(n, v, where);
    }
  }
}

void JsonEncoder::encode_record_fields(const AvroNode& n, const json& obj, size_t first,
                                       const std::string& where) {
  for (size_t i = first; i < n.children.size(); ++i) {
    auto it = obj.find(n.names[i]);
    const json* fv = it == obj.end() ? nullptr : &*it;
    encode(*n.children[i], fv, where.empty() ? n.names[i] : where + "." + n.names[i]);
  }
}

void JsonEncoder::mismatch(const AvroNode& n, const json* v, const std::string& where) {
  throw Error(ErrorCode::kInvalidArgument, "field \"" + where + "\": cannot write a " +
                                               json_type_name(v) + " as Avro " + kind_name(n.kind));
}

}  // namespace ej::service::detail
