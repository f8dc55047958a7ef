#include "service/embedding_types.h"

#include "common/error.h"

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

}  // namespace ej::service
