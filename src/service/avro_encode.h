// Internal to ej_service: Avro binary encoding of record bodies: the primitives (zigzag varint
// long, length-prefixed string, little-endian float / double) and JsonEncoder, which encodes a
// JSON value by a compiled schema (the conversion rules are listed on AvroPartWriter in
// service/avro_parts.h). An encoder appends to the caller's buffer and is used by one thread.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "service/avro_schema.h"

namespace ej::service::detail {

static_assert(std::endian::native == std::endian::little, "Avro float encoding assumes LE");

inline void put_long(std::string* out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  char buf[10];
  int n = 0;
  while (z >= 0x80) {
    buf[n++] = static_cast<char>((z & 0x7f) | 0x80);
    z >>= 7;
  }
  buf[n++] = static_cast<char>(z);
  out->append(buf, n);
}

inline void put_string(std::string* out, std::string_view s) {
  put_long(out, static_cast<int64_t>(s.size()));
  out->append(s.data(), s.size());
}

inline void put_float(std::string* out, float f) {
  char b[4];
  std::memcpy(b, &f, 4);
  out->append(b, 4);
}

inline void put_double(std::string* out, double d) {
  char b[8];
  std::memcpy(b, &d, 8);
  out->append(b, 8);
}

class JsonEncoder {
 public:
  explicit JsonEncoder(std::string* out) : out_(out) {}

  // v == nullptr: the record field is missing. Throws ej::Error(kInvalidArgument) naming the
  // field (`where`) when the value cannot be converted.
  void encode(const AvroNode& n, const nlohmann::json* v, const std::string& where);

  // The record's fields from index `first` on, looked up by name in `obj`.
  void encode_record_fields(const AvroNode& n, const nlohmann::json& obj, size_t first,
                            const std::string& where);

 private:
  [[noreturn]] static void mismatch(const AvroNode& n, const nlohmann::json* v,
                                    const std::string& where);
  std::string* out_;
};

}  // namespace ej::service::detail
