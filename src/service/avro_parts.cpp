#include "service/avro_parts.h"

#include <avro.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/durable_file.h"
#include "common/error.h"
#include "service/avro_encode.h"
#include "service/avro_schema.h"
#include "service/blob_store.h"

namespace ej::service {
namespace {

using detail::compile_schema;
using detail::JsonEncoder;
using nlohmann::json;

[[noreturn]] void fail_internal(const std::string& msg) {
  throw Error(ErrorCode::kInternal, msg);
}

std::string avro_error() {
  const char* e = avro_strerror();
  return e && *e ? std::string(e) : std::string("unknown avro error");
}

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

namespace {

// libavro reads a FILE*: a stdio stream over the blob (fopencookie), read forward only.
struct BlobCursor {
  std::unique_ptr<BlobReader> blob;
  uint64_t pos = 0;
};

ssize_t blob_cookie_read(void* cookie, char* buf, size_t n) {
  auto* cursor = static_cast<BlobCursor*>(cookie);
  try {
    size_t got = cursor->blob->read_at(cursor->pos, buf, n);
    cursor->pos += got;
    return static_cast<ssize_t>(got);
  } catch (const std::exception&) {
    errno = EIO;
    return -1;
  }
}

}  // namespace

struct AvroPartReader::Impl {
  BlobCursor cursor;  // what `fp` reads; outlives it
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
    : AvroPartReader(open_local_file(path), path) {}

AvroPartReader::AvroPartReader(std::unique_ptr<BlobReader> blob, const std::string& name)
    : path_(name), impl_(std::make_unique<Impl>()) {
  const std::string& path = path_;
  impl_->cursor.blob = std::move(blob);
  // libavro leaks its header buffer when it rejects a file, so refuse non-Avro files first.
  char magic[4] = {0, 0, 0, 0};
  if (impl_->cursor.blob->read_at(0, magic, 4) != 4 || std::memcmp(magic, "Obj\x01", 4) != 0) {
    fail_internal("cannot read avro file " + path + ": not an Avro object container file");
  }
  cookie_io_functions_t io{blob_cookie_read, nullptr, nullptr, nullptr};
  impl_->fp = fopencookie(&impl_->cursor, "r", io);
  if (!impl_->fp) fail_internal("cannot open " + path + ": " + std::strerror(errno));
  std::setvbuf(impl_->fp, nullptr, _IOFBF, 256 * 1024);
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

bool AvroPartReader::skip() {
  return next(nullptr);
}

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
  if (record) value_to_json(&impl_->value, record);
  ++rows_read_;
  return true;
}

}  // namespace ej::service
