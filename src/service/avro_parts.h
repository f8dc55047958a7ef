// Avro object container files ("parts") for datasets: a generic JSON-driven writer and reader,
// and a fast writer for embed-result rows that encodes vectors without going through JSON.
// The container framing, codecs and reading use libavro (avro-c); record bodies are encoded by
// our own schema-compiled encoder and handed to avro_file_writer_append_encoded.
//
// Writers write a temporary file beside `path` and publish it on close() by the one durable-write
// rule (common/durable_file.h), so a crash never leaves a half-written part under its final
// name; a writer destroyed without close() removes its temporary file.
//
// Thread-safety: each writer/reader object is single-threaded (no internal locking); distinct
// objects may be used from different threads concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ej::service {

inline constexpr std::string_view kAvroNamespace = "embedjobs";
// Datasets (text) use deflate: python fastavro reads it natively and text compresses well.
inline constexpr std::string_view kDefaultAvroCodec = "deflate";
// Embed results use null: libavro's deflate runs at zlib level 9, which cut the write speed of
// 384-float rows from ~128k to ~9k rows/s for an 11% smaller file (float32 barely compresses).
inline constexpr std::string_view kEmbedResultAvroCodec = "null";

// Internal compiled form of a schema (defined in avro_schema.h).
struct AvroNode;
struct AvroSchemaTree;

// Writes records given as JSON objects. Supported schema types: null, boolean, int, long, float,
// double, string, bytes (JSON string, raw bytes), array, map, record and unions (typically
// ["null", T]). JSON values are converted to the schema's type:
//   - string: JSON strings as-is; any other non-null JSON value is written as its JSON text.
//   - long/int: integers; doubles with an integral value; booleans are rejected.
//   - float/double: any number.
//   - union: JSON null or a missing record field picks the "null" branch; otherwise the first
//     branch whose type matches the JSON value, else the first non-null branch that accepts it.
//   - record: a JSON object, fields looked up by name (missing -> null if nullable, else error).
// Throws ej::Error(kInternal) on I/O errors and ej::Error(kInvalidArgument) when a value
// cannot be converted.
class AvroPartWriter {
 public:
  // codec: "deflate" or "null". block_size: the hard upper bound on one encoded record (the
  // writer flushes a block every ~256 KiB of encoded records, so memory stays small).
  AvroPartWriter(std::string path, std::string_view schema_json,
                 std::string_view codec = kDefaultAvroCodec, size_t block_size = 16u << 20);
  ~AvroPartWriter();
  AvroPartWriter(const AvroPartWriter&) = delete;
  AvroPartWriter& operator=(const AvroPartWriter&) = delete;

  void append(const nlohmann::json& record);

  // Publishes the file durably (flush, fsync, rename onto path, fsync the directory). Returns
  // the file size in bytes. Calling it twice returns the same size.
  uint64_t close();

  // Removes the temporary file without publishing anything. Idempotent; also done by the destructor
  // when close() was never called.
  void abort();

  const std::string& path() const { return path_; }
  const std::string& tmp_path() const { return tmp_path_; }  // where rows go until close()
  const std::string& schema_json() const { return schema_json_; }
  int64_t num_rows() const { return num_rows_; }
  // Encoded (uncompressed) record bytes appended so far: a bound for the final file size.
  uint64_t encoded_bytes() const { return encoded_bytes_; }

 protected:
  // Appends an already-encoded record body (Avro binary encoding of one record).
  void append_encoded(const std::string& buf);
  const AvroNode& root() const;

 private:
  struct Impl;
  std::string path_;
  std::string tmp_path_;
  std::string schema_json_;
  std::shared_ptr<const AvroSchemaTree> tree_;
  std::unique_ptr<Impl> impl_;
  std::string scratch_;
  int64_t num_rows_ = 0;
  uint64_t encoded_bytes_ = 0;
  uint64_t block_bytes_ = 0;
  uint64_t closed_size_ = 0;
  bool closed_ = false;
};

class BlobReader;  // service/blob_store.h

// Reads any Avro object container file (codec null or deflate) into JSON: records -> objects
// (fields in schema order), unions -> the branch value (no {"type": v} wrapper), float/double ->
// numbers, bytes -> string. A file with zero records is valid (next() returns false).
// Throws ej::Error(kInternal) when the file cannot be opened or is corrupt.
class AvroPartReader {
 public:
  // A local file.
  explicit AvroPartReader(const std::string& path);
  // A blob (a dataset part in the blob store); `name` (its key) names it in errors.
  AvroPartReader(std::unique_ptr<BlobReader> blob, const std::string& name);
  ~AvroPartReader();
  AvroPartReader(const AvroPartReader&) = delete;
  AvroPartReader& operator=(const AvroPartReader&) = delete;

  // The writer schema, as JSON text.
  const std::string& schema_json() const { return schema_json_; }
  // Reads the next record; false at the end of the file.
  bool next(nlohmann::json* record);
  // Reads past the next record without converting it (cheaper than next()); false at the end.
  bool skip();
  int64_t rows_read() const { return rows_read_; }

 private:
  struct Impl;
  std::string path_;
  std::string schema_json_;
  std::unique_ptr<Impl> impl_;
  int64_t rows_read_ = 0;
};

// ---- embed-result ----------------------------------------------------------------------------

// One embed-result row. Pointers may be null: that embedding type is then written as null.
// `dims` is the number of values behind float/int8/uint8; `packed_len` the number of bytes behind
// binary/ubinary ((dims + 7) / 8 normally). kept_fields is a JSON object holding the kept fields
// by name (may be null or omit nullable fields).
struct EmbedResultRow {
  std::string_view text;
  int dims = 0;
  const float* float_values = nullptr;
  const int8_t* int8_values = nullptr;
  const uint8_t* uint8_values = nullptr;
  int packed_len = 0;
  const int8_t* binary_values = nullptr;
  const uint8_t* ubinary_values = nullptr;
  const nlohmann::json* kept_fields = nullptr;
};

// The embed-result schema: record `embed_result` in namespace `embedjobs` with `text` (string),
// `embeddings` (record `embeddings`: five nullable fields `float` (array of float), `int8`,
// `uint8`, `binary`, `ubinary` (arrays of int)), then `kept_field_entries` (a JSON array of Avro
// field entries {"name":..., "type":...}, as found in the input dataset's schema). Returns the
// schema as JSON text.
std::string embed_result_schema_json(const nlohmann::json& kept_field_entries);

// The kept field entries of an embed-input schema: every field except `text`, in order.
nlohmann::json kept_field_entries(std::string_view input_schema_json);

// Writes embed-result rows; the vectors are encoded straight from the caller's buffers.
class EmbedResultWriter : public AvroPartWriter {
 public:
  EmbedResultWriter(std::string path, const nlohmann::json& kept_field_entries,
                    std::string_view codec = kEmbedResultAvroCodec);
  void append_result(const EmbedResultRow& row);

 private:
  std::string buf_;
};

}  // namespace ej::service
