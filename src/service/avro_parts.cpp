#include "service/avro_parts.h"

#include <avro.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>

#include "common/durable_file.h"
#include "common/error.h"

namespace ej::service {

static_assert(std::endian::native == std::endian::little, "Avro float encoding assumes LE");

// ---- schema tree -----------------------------------------------------------------------------

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

namespace {

using Kind = AvroNode::Kind;
using nlohmann::json;

[[noreturn]] void fail_internal(const std::string& msg) {
  throw Error(ErrorCode::kInternal, msg);
}

std::string avro_error() {
  const char* e = avro_strerror();
  return e && *e ? std::string(e) : std::string("unknown avro error");
}

class TreeBuilder {
 public:
  explicit TreeBuilder(AvroSchemaTree* tree) : tree_(tree) {}

  const AvroNode* build(const json& s, const std::string& ns) {
    if (s.is_string()) return named_or_primitive(s.get<std::string>(), ns);
    if (s.is_array()) {
      AvroNode* n = add(Kind::kUnion);
      for (const auto& b : s) {
        const AvroNode* c = build(b, ns);
        if (c->kind == Kind::kNull && n->null_branch < 0) n->null_branch = int(n->children.size());
        n->children.push_back(c);
      }
      if (n->children.empty()) bad("empty union");
      return n;
    }
    if (!s.is_object() || !s.contains("type")) bad("a type must be a string, array or object");
    const json& t = s["type"];
    if (!t.is_string()) return build(t, ns);
    const std::string type = t.get<std::string>();
    if (type == "array") {
      AvroNode* n = add(Kind::kArray);
      n->children.push_back(build(s.at("items"), ns));
      return n;
    }
    if (type == "map") {
      AvroNode* n = add(Kind::kMap);
      n->children.push_back(build(s.at("values"), ns));
      return n;
    }
    if (type == "record" || type == "error" || type == "enum" || type == "fixed") {
      std::string name = s.value("name", "");
      std::string child_ns = s.contains("namespace") && s["namespace"].is_string()
                                 ? s["namespace"].get<std::string>()
                                 : ns;
      std::string full = name;
      if (name.find('.') == std::string::npos && !child_ns.empty()) full = child_ns + "." + name;
      if (name.find('.') != std::string::npos) child_ns = name.substr(0, name.rfind('.'));
      if (type == "enum") {
        AvroNode* n = add(Kind::kEnum);
        for (const auto& sym : s.at("symbols")) n->names.push_back(sym.get<std::string>());
        named_[full] = n;
        return n;
      }
      if (type == "fixed") {
        AvroNode* n = add(Kind::kFixed);
        n->fixed_size = s.at("size").get<size_t>();
        named_[full] = n;
        return n;
      }
      AvroNode* n = add(Kind::kRecord);
      named_[full] = n;
      for (const auto& f : s.at("fields")) {
        n->names.push_back(f.at("name").get<std::string>());
        n->children.push_back(build(f.at("type"), child_ns));
      }
      return n;
    }
    return named_or_primitive(type, ns);
  }

 private:
  AvroNode* add(Kind k) {
    tree_->nodes.push_back(std::make_unique<AvroNode>());
    tree_->nodes.back()->kind = k;
    return tree_->nodes.back().get();
  }
  const AvroNode* named_or_primitive(const std::string& name, const std::string& ns) {
    static const std::map<std::string, Kind> kPrims = {
        {"null", Kind::kNull},     {"boolean", Kind::kBoolean}, {"int", Kind::kInt},
        {"long", Kind::kLong},     {"float", Kind::kFloat},     {"double", Kind::kDouble},
        {"string", Kind::kString}, {"bytes", Kind::kBytes}};
    auto p = kPrims.find(name);
    if (p != kPrims.end()) return add(p->second);
    auto it = named_.find(name);
    if (it == named_.end() && !ns.empty()) it = named_.find(ns + "." + name);
    if (it == named_.end()) bad("unknown type \"" + name + "\"");
    return it->second;
  }
  [[noreturn]] static void bad(const std::string& msg) {
    throw Error(ErrorCode::kInvalidArgument, "invalid avro schema: " + msg);
  }

  AvroSchemaTree* tree_;
  std::map<std::string, const AvroNode*> named_;
};

std::shared_ptr<const AvroSchemaTree> compile_schema(const json& schema) {
  auto tree = std::make_shared<AvroSchemaTree>();
  TreeBuilder b(tree.get());
  tree->root = b.build(schema, "");
  return tree;
}

// ---- binary encoding --------------------------------------------------------------------------

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

class JsonEncoder {
 public:
  explicit JsonEncoder(std::string* out) : out_(out) {}

  // v == nullptr: the record field is missing.
  void encode(const AvroNode& n, const json* v, const std::string& where) {
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

  void encode_record_fields(const AvroNode& n, const json& obj, size_t first,
                            const std::string& where) {
    for (size_t i = first; i < n.children.size(); ++i) {
      auto it = obj.find(n.names[i]);
      const json* fv = it == obj.end() ? nullptr : &*it;
      encode(*n.children[i], fv, where.empty() ? n.names[i] : where + "." + n.names[i]);
    }
  }

 private:
  [[noreturn]] static void mismatch(const AvroNode& n, const json* v, const std::string& where) {
    throw Error(ErrorCode::kInvalidArgument, "field \"" + where + "\": cannot write a " +
                                                 json_type_name(v) + " as Avro " +
                                                 kind_name(n.kind));
  }
  std::string* out_;
};

// ---- avro_value_t -> JSON ----------------------------------------------------------------------

void value_to_json(avro_value_t* v, json* out) {
  switch (avro_value_get_type(v)) {
    case AVRO_STRING: {
      const char* p = nullptr;
      size_t size = 0;
      avro_value_get_string(v, &p, &size);
      *out = std::string(p ? p : "", size > 0 ? size - 1 : 0);  // size counts the NUL
      return;
    }
    case AVRO_BYTES: {
      const void* p = nullptr;
      size_t size = 0;
      avro_value_get_bytes(v, &p, &size);
      *out = std::string(static_cast<const char*>(p), size);
      return;
    }
    case AVRO_INT32: {
      int32_t x = 0;
      avro_value_get_int(v, &x);
      *out = x;
      return;
    }
    case AVRO_INT64: {
      int64_t x = 0;
      avro_value_get_long(v, &x);
      *out = x;
      return;
    }
    case AVRO_FLOAT: {
      float x = 0;
      avro_value_get_float(v, &x);
      *out = static_cast<double>(x);
      return;
    }
    case AVRO_DOUBLE: {
      double x = 0;
      avro_value_get_double(v, &x);
      *out = x;
      return;
    }
    case AVRO_BOOLEAN: {
      int x = 0;
      avro_value_get_boolean(v, &x);
      *out = x != 0;
      return;
    }
    case AVRO_NULL:
      *out = nullptr;
      return;
    case AVRO_ENUM: {
      int x = 0;
      avro_value_get_enum(v, &x);
      avro_schema_t s = avro_value_get_schema(v);
      const char* sym = avro_schema_enum_get(s, x);
      *out = std::string(sym ? sym : "");
      return;
    }
    case AVRO_FIXED: {
      const void* p = nullptr;
      size_t size = 0;
      avro_value_get_fixed(v, &p, &size);
      *out = std::string(static_cast<const char*>(p), size);
      return;
    }
    case AVRO_ARRAY: {
      size_t n = 0;
      avro_value_get_size(v, &n);
      *out = json::array();
      auto& arr = out->get_ref<json::array_t&>();
      arr.resize(n);
      for (size_t i = 0; i < n; ++i) {
        avro_value_t e;
        avro_value_get_by_index(v, i, &e, nullptr);
        value_to_json(&e, &arr[i]);
      }
      return;
    }
    case AVRO_MAP:
    case AVRO_RECORD: {
      size_t n = 0;
      avro_value_get_size(v, &n);
      *out = json::object();
      for (size_t i = 0; i < n; ++i) {
        avro_value_t e;
        const char* name = nullptr;
        avro_value_get_by_index(v, i, &e, &name);
        value_to_json(&e, &(*out)[name ? name : ""]);
      }
      return;
    }
    case AVRO_UNION: {
      avro_value_t branch;
      if (avro_value_get_current_branch(v, &branch) != 0) {
        *out = nullptr;
        return;
      }
      value_to_json(&branch, out);
      return;
    }
    default:
      fail_internal("unsupported avro type in file");
  }
}

constexpr uint64_t kTargetBlockBytes = 256u << 10;

}  // namespace

// ---- AvroPartWriter ---------------------------------------------------------------------------

struct AvroPartWriter::Impl {
  std::unique_ptr<DurableFile> file;  // the temporary file until close() publishes it
  avro_schema_t schema = nullptr;
  avro_file_writer_t writer = nullptr;

  void release() {
    if (writer) {
      avro_file_writer_close(writer);
      writer = nullptr;
    }
    file.reset();  // removes the temporary file unless it was committed
    if (schema) {
      avro_schema_decref(schema);
      schema = nullptr;
    }
  }
  ~Impl() { release(); }
};

AvroPartWriter::AvroPartWriter(std::string path, std::string_view schema_json,
                               std::string_view codec, size_t block_size)
    : path_(std::move(path)), impl_(std::make_unique<Impl>()) {
  if (codec != "deflate" && codec != "null") {
    throw Error(ErrorCode::kInvalidArgument,
                "unsupported avro codec \"" + std::string(codec) + "\" (use deflate or null)");
  }
  json parsed = json::parse(schema_json, nullptr, false);
  if (parsed.is_discarded()) {
    throw Error(ErrorCode::kInvalidArgument, "invalid avro schema: not JSON");
  }
  tree_ = compile_schema(parsed);
  schema_json_ = parsed.dump();
  if (avro_schema_from_json_length(schema_json_.data(), schema_json_.size(), &impl_->schema)) {
    throw Error(ErrorCode::kInvalidArgument, "invalid avro schema: " + avro_error());
  }
  impl_->file = std::make_unique<DurableFile>(path_);
  tmp_path_ = impl_->file->tmp_path();
  std::string codec_str(codec);
  if (avro_file_writer_create_with_codec_fp(impl_->file->stream(), tmp_path_.c_str(), 0,
                                            impl_->schema, &impl_->writer, codec_str.c_str(),
                                            block_size)) {
    std::string err = avro_error();
    impl_->writer = nullptr;
    impl_->release();
    fail_internal("cannot create avro file " + tmp_path_ + ": " + err);
  }
}

AvroPartWriter::~AvroPartWriter() {
  if (!closed_) abort();
}

const AvroNode& AvroPartWriter::root() const {
  return *tree_->root;
}

void AvroPartWriter::append(const nlohmann::json& record) {
  scratch_.clear();
  JsonEncoder enc(&scratch_);
  enc.encode(*tree_->root, &record, "");
  append_encoded(scratch_);
}

void AvroPartWriter::append_encoded(const std::string& buf) {
  if (closed_ || !impl_->writer) fail_internal("append to a closed avro writer: " + path_);
  if (avro_file_writer_append_encoded(impl_->writer, buf.data(),
                                      static_cast<int64_t>(buf.size()))) {
    fail_internal("cannot append to " + tmp_path_ + ": " + avro_error());
  }
  ++num_rows_;
  encoded_bytes_ += buf.size();
  block_bytes_ += buf.size();
  if (block_bytes_ >= kTargetBlockBytes) {
    if (avro_file_writer_sync(impl_->writer)) {
      fail_internal("cannot write a block to " + tmp_path_ + ": " + avro_error());
    }
    block_bytes_ = 0;
  }
}

uint64_t AvroPartWriter::close() {
  if (closed_) return closed_size_;
  if (!impl_->writer) fail_internal("avro writer for " + path_ + " was aborted");
  int rc = avro_file_writer_close(impl_->writer);
  impl_->writer = nullptr;
  if (rc) {
    std::string err = avro_error();
    abort();
    fail_internal("cannot finish " + tmp_path_ + ": " + err);
  }
  closed_size_ = impl_->file->commit();  // fsync, rename, fsync the directory (or throws)
  closed_ = true;
  impl_->release();
  return closed_size_;
}

void AvroPartWriter::abort() {
  if (closed_) return;
  if (impl_) impl_->release();
}

// ---- AvroPartReader ---------------------------------------------------------------------------

struct AvroPartReader::Impl {
  FILE* fp = nullptr;
  avro_file_reader_t reader = nullptr;
  avro_schema_t schema = nullptr;
  avro_value_iface_t* iface = nullptr;
  avro_value_t value{};
  bool has_value = false;
  bool eof = false;

  ~Impl() {
    if (has_value) avro_value_decref(&value);
    if (iface) avro_value_iface_decref(iface);
    if (schema) avro_schema_decref(schema);
    if (reader) avro_file_reader_close(reader);
    if (fp) std::fclose(fp);
  }
};

AvroPartReader::AvroPartReader(const std::string& path)
    : path_(path), impl_(std::make_unique<Impl>()) {
  impl_->fp = std::fopen(path.c_str(), "rbe");
  if (!impl_->fp) fail_internal("cannot open " + path + ": " + std::strerror(errno));
  // libavro leaks its header buffer when it rejects a file, so refuse non-Avro files first.
  char magic[4] = {0, 0, 0, 0};
  if (std::fread(magic, 1, 4, impl_->fp) != 4 || std::memcmp(magic, "Obj\x01", 4) != 0) {
    fail_internal("cannot read avro file " + path + ": not an Avro object container file");
  }
  std::rewind(impl_->fp);
  if (avro_file_reader_fp(impl_->fp, path.c_str(), 0, &impl_->reader)) {
    impl_->reader = nullptr;
    fail_internal("cannot read avro file " + path + ": " + avro_error());
  }
  // libavro 1.11 returns a new reference (released in ~Impl).
  impl_->schema = avro_file_reader_get_writer_schema(impl_->reader);
  char buf[64 * 1024];
  avro_writer_t w = avro_writer_memory(buf, sizeof(buf));
  if (avro_schema_to_json(impl_->schema, w) == 0) {
    schema_json_.assign(buf, static_cast<size_t>(avro_writer_tell(w)));
  }
  avro_writer_free(w);
  impl_->iface = avro_generic_class_from_schema(impl_->schema);
  if (!impl_->iface || avro_generic_value_new(impl_->iface, &impl_->value)) {
    fail_internal("cannot read avro file " + path + ": " + avro_error());
  }
  impl_->has_value = true;
}

AvroPartReader::~AvroPartReader() = default;

bool AvroPartReader::next(nlohmann::json* record) {
  if (impl_->eof) return false;
  avro_value_reset(&impl_->value);
  int rc = avro_file_reader_read_value(impl_->reader, &impl_->value);
  if (rc == EOF) {
    impl_->eof = true;
    return false;
  }
  if (rc != 0) {
    impl_->eof = true;
    fail_internal("corrupt avro file " + path_ + " after row " + std::to_string(rows_read_) + ": " +
                  avro_error());
  }
  value_to_json(&impl_->value, record);
  ++rows_read_;
  return true;
}

// ---- embed-result -----------------------------------------------------------------------------

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
