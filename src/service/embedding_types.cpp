#include "service/embedding_types.h"

#include <cmath>

#include "common/error.h"
#include "engine/quantize.h"

namespace ej::service {

std::vector<std::string> EmbeddingTypes::names() const {
  std::vector<std::string> out;
  if (float_) out.push_back("float");
  if (int8) out.push_back("int8");
  if (uint8) out.push_back("uint8");
  if (binary) out.push_back("binary");
  if (ubinary) out.push_back("ubinary");
  if (base64) out.push_back("base64");
  return out;
}

EmbeddingTypes parse_embedding_types(const nlohmann::json& value, bool allow_base64) {
  EmbeddingTypes t;
  if (value.is_null()) {
    t.float_ = true;
    return t;
  }
  if (!value.is_array()) throw_invalid("embedding_types must be an array of strings");
  if (value.empty()) throw_invalid("embedding_types must not be empty");
  for (const auto& v : value) {
    if (!v.is_string()) throw_invalid("embedding_types must be an array of strings");
    std::string s = v.get<std::string>();
    if (s == "float") {
      t.float_ = true;
    } else if (s == "int8") {
      t.int8 = true;
    } else if (s == "uint8") {
      t.uint8 = true;
    } else if (s == "binary") {
      t.binary = true;
    } else if (s == "ubinary") {
      t.ubinary = true;
    } else if (s == "base64" && allow_base64) {
      t.base64 = true;
    } else {
      throw_invalid("invalid embedding type '" + s + "': valid types are float, int8, uint8, " +
                    "binary, ubinary" + (allow_base64 ? ", base64" : ""));
    }
  }
  return t;
}

engine::InputType parse_input_type(const std::string& s) {
  using engine::InputType;
  if (s == "search_document") return InputType::kSearchDocument;
  if (s == "search_query") return InputType::kSearchQuery;
  if (s == "classification") return InputType::kClassification;
  if (s == "clustering") return InputType::kClustering;
  if (s == "image") return InputType::kImage;
  throw_invalid("invalid input_type '" + s +
                "': valid values are search_document, search_query, classification, clustering, "
                "image");
}

std::string input_type_name(engine::InputType t) {
  using engine::InputType;
  switch (t) {
    case InputType::kSearchDocument:
      return "search_document";
    case InputType::kSearchQuery:
      return "search_query";
    case InputType::kClassification:
      return "classification";
    case InputType::kClustering:
      return "clustering";
    case InputType::kImage:
      return "image";
  }
  return "search_document";
}

engine::Truncate parse_truncate(const std::string& s, bool allow_none) {
  if (s == "END") return engine::Truncate::kEnd;
  if (s == "START") return engine::Truncate::kStart;
  if (s == "NONE" && allow_none) return engine::Truncate::kNone;
  throw_invalid("invalid truncate '" + s + "': valid values are " +
                (allow_none ? "NONE, START, END" : "START, END"));
}

std::string truncate_name(engine::Truncate t) {
  switch (t) {
    case engine::Truncate::kEnd:
      return "END";
    case engine::Truncate::kStart:
      return "START";
    case engine::Truncate::kNone:
      return "NONE";
  }
  return "END";
}

void convert_embedding(std::span<const float> v, const engine::ModelInfo& info,
                       const EmbeddingTypes& types, ConvertedEmbedding* out) {
  if (types.int8) out->int8 = engine::quantize_int8(v, info.calib_lo, info.calib_hi);
  if (types.uint8) out->uint8 = engine::quantize_uint8(v, info.calib_lo, info.calib_hi);
  if (types.binary) out->binary = engine::pack_binary(v);
  if (types.ubinary) out->ubinary = engine::pack_ubinary(v);
}

std::string float_base64(std::span<const float> v) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  const size_t n = v.size() * sizeof(float);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t x = static_cast<uint32_t>(p[i]) << 16;
    if (i + 1 < n) x |= static_cast<uint32_t>(p[i + 1]) << 8;
    if (i + 2 < n) x |= p[i + 2];
    out.push_back(kChars[(x >> 18) & 63]);
    out.push_back(kChars[(x >> 12) & 63]);
    out.push_back(i + 1 < n ? kChars[(x >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kChars[x & 63] : '=');
  }
  return out;
}

std::vector<float> truncate_dimensions(std::span<const float> v, int dims) {
  std::vector<float> out(v.begin(), v.begin() + std::min<ptrdiff_t>(dims, std::ssize(v)));
  double norm = 0.0;
  for (float x : out) norm += static_cast<double>(x) * x;
  if (norm > 0.0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : out) x *= inv;
  }
  return out;
}

nlohmann::json embeddings_by_type_json(std::span<const float> vectors, size_t n, int dims,
                                       const engine::ModelInfo& info, const EmbeddingTypes& types) {
  nlohmann::json f = nlohmann::json::array(), i8 = f, u8 = f, bin = f, ubin = f, b64 = f;
  const size_t d = static_cast<size_t>(dims);
  for (size_t i = 0; i < n; ++i) {
    std::span<const float> v = vectors.subspan(i * d, d);
    ConvertedEmbedding c;
    convert_embedding(v, info, types, &c);
    if (types.float_) f.push_back(nlohmann::json(std::vector<float>(v.begin(), v.end())));
    if (types.int8) i8.push_back(std::move(c.int8));
    if (types.uint8) u8.push_back(std::move(c.uint8));
    if (types.binary) bin.push_back(std::move(c.binary));
    if (types.ubinary) ubin.push_back(std::move(c.ubinary));
    if (types.base64) b64.push_back(float_base64(v));
  }
  nlohmann::json out = nlohmann::json::object();
  if (types.float_) out["float"] = std::move(f);
  if (types.int8) out["int8"] = std::move(i8);
  if (types.uint8) out["uint8"] = std::move(u8);
  if (types.binary) out["binary"] = std::move(bin);
  if (types.ubinary) out["ubinary"] = std::move(ubin);
  if (types.base64) out["base64"] = std::move(b64);
  return out;
}

}  // namespace ej::service
