// BlobStore: where dataset parts, kept originals, queued uploads and job chunk files live, by key.
// Keys are relative paths ("datasets/<id>/part-0.avro", "jobs/<id>/chunk-3-g2.avro",
// "uploads/<id>.upload"): what the store rows record as a part's or a chunk's `file`. A blob is
// written once, whole: a writer produces a finished local file (at staging_path(key), where
// publishing it is cheapest) and put_file publishes it under its key; readers open it for
// random-access reads. Implementations: the filesystem (the data dir, or a mount every process of
// a cluster shares; open_filesystem_blob_store), and, so that a cluster needs nothing but its
// database, one that keeps blobs in PostgreSQL as chunked rows (open_postgres_blob_store).
//
// Every method is thread-safe; a BlobReader is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace ej::service {

// One open blob. Its bytes do not change while it is open (blobs are written once).
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual uint64_t size() const = 0;
  // Reads up to `n` bytes at `offset` into `buf` and returns how many it read: fewer only at the
  // end of the blob (0 at or past it). Throws ej::Error(kInternal) on an I/O error.
  virtual size_t read_at(uint64_t offset, void* buf, size_t n) = 0;
};

// A blob's bytes as a local file, for readers that need a path (dataset ingest). The copy (if it
// is one) is removed when this object goes.
class LocalBlobFile {
 public:
  LocalBlobFile(std::string path, bool is_copy) : path_(std::move(path)), is_copy_(is_copy) {}
  ~LocalBlobFile();
  LocalBlobFile(const LocalBlobFile&) = delete;
  LocalBlobFile& operator=(const LocalBlobFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool is_copy_;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // A local path where a writer should produce the file that put_file(key, ...) will publish
  // (the filesystem store: the key's own path, so that publishing is free; others: a scratch
  // file). Missing parent directories are the writer's to create (DurableFile does).
  virtual std::string staging_path(const std::string& key) = 0;
  // Publishes the finished local file `local_path` durably under `key`, replacing a blob there.
  // Afterwards `local_path` is gone (moved, or copied and removed) unless it was the key's own
  // path. Throws ej::Error(kInternal) on failure (disk full: service/storage_error.h words it).
  virtual void put_file(const std::string& key, const std::string& local_path) = 0;
  // The blob under `key`; nullptr when there is none. Throws ej::Error(kInternal) when it cannot
  // be read.
  virtual std::unique_ptr<BlobReader> open(const std::string& key) = 0;
  // open(), but a missing blob throws ej::Error(kInternal) naming `key` (it should be there).
  std::unique_ptr<BlobReader> must_open(const std::string& key);
  // Its size in bytes; nullopt when there is none.
  virtual std::optional<uint64_t> size(const std::string& key) = 0;
  bool exists(const std::string& key) { return size(key).has_value(); }
  // A local file with the blob's bytes; throws ej::Error(kNotFound) when there is none.
  virtual std::unique_ptr<LocalBlobFile> fetch(const std::string& key) = 0;
  // Deletes the blob under `key` (nothing when there is none).
  virtual void remove(const std::string& key) = 0;
  // Deletes every blob whose key starts with `prefix` + "/" (a dataset's parts, a job's chunks).
  virtual void remove_prefix(const std::string& prefix) = 0;
};

// Blobs as files under `root` (the data dir): key K is the file root/K, published by the durable
// write rule (common/durable_file.h). Several processes may share `root` (one machine, or a
// shared mount).
std::unique_ptr<BlobStore> open_filesystem_blob_store(const std::string& root);

// Blobs in PostgreSQL (`conninfo`: a libpq URL or conninfo string), so that a cluster needs
// nothing but its database: tables ej_blobs (key, size) and ej_blob_chunks (key, seq, 1 MiB of
// bytea each), created when missing. Files are staged under `scratch_dir` (local disk) before
// they are uploaded, and fetched there for readers that need a path. (pg_blob_store.cpp)
std::unique_ptr<BlobStore> open_postgres_blob_store(const std::string& conninfo,
                                                    const std::string& scratch_dir);

// Throws ej::Error(kInternal) for a key that is empty, absolute, or has an empty, "." or ".."
// component (keys are made from ids; such a key is a bug, and could leave the store's root).
void check_blob_key(const std::string& key);

// Reads a local file through the BlobReader interface (throws ej::Error(kInternal), naming the
// path, when it cannot be opened).
std::unique_ptr<BlobReader> open_local_file(const std::string& path);

// Reads all of a blob into memory.
std::string read_all(BlobReader& blob);

}  // namespace ej::service
