// EmbeddingCache: content-addressed vectors on disk, so that re-embedding a text that was
// embedded before (a job re-run over the same dataset, a repeated sync call) costs a lookup
// instead of compute. A vector is keyed by everything it depends on (EmbeddingCacheKey: owner,
// model name and identity, compute dtype, input_type, truncate, max_tokens, output_dimension,
// text) and stored with the number of tokens it took. Bounded by bytes (--cache-mb): the least
// recently used vectors are evicted first.
//
// Storage: one SQLite file (<data-dir>/cache.sqlite), separate from the store: losing it loses
// nothing but time. Every row carries a checksum of its vector; a row that fails it is dropped
// (a miss), and a file SQLite reports as corrupt or not a database is deleted and rebuilt
// empty. No error of the cache fails a request: it logs and answers "miss" / stores nothing.
//
// Threads: lookup(), store() and stats() may be called from any thread (HTTP handlers, job
// workers); one SQLite connection serialized by a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/embedder.h"

struct sqlite3;

namespace ej::service {

// What a vector depends on. output_dimension 0 = the model's own dimensions.
struct EmbeddingCacheKey {
  std::string_view owner;
  std::string_view model;           // the served name
  std::string_view model_identity;  // ServedModel::identity (digest of the files / revision)
  std::string_view dtype;           // ServedModel::dtype ("fp32", "bf16", "int8")
  engine::InputType input_type = engine::InputType::kSearchDocument;
  engine::Truncate truncate = engine::Truncate::kEnd;
  int max_tokens = 0;
  int output_dimension = 0;
  std::string_view text;
};

struct EmbeddingCacheStats {
  int64_t entries = 0;
  int64_t bytes = 0;  // accounted bytes (EmbeddingCache::entry_bytes) of the entries
  int64_t hits = 0, misses = 0, stored = 0, evicted = 0;
  int64_t rebuilds = 0;  // times the file was found corrupt and started anew
  int64_t errors = 0;    // other SQLite errors (disk full, I/O), each one logged
};

class EmbeddingCache {
 public:
  // Opens (creating, or rebuilding when corrupt) the cache file at `path`, holding at most
  // `max_bytes` accounted bytes. Throws ej::Error(kInternal) only when even a new, empty file
  // cannot be created there.
  EmbeddingCache(std::string path, int64_t max_bytes);
  ~EmbeddingCache();
  EmbeddingCache(const EmbeddingCache&) = delete;
  EmbeddingCache& operator=(const EmbeddingCache&) = delete;

  // The content address of a key: SHA-256 hex of its fields, each length-prefixed.
  static std::string digest(const EmbeddingCacheKey& key);
  // What one entry of `dims` floats counts against max_bytes: the vector plus a fixed
  // per-row estimate (key, columns, index entry).
  static int64_t entry_bytes(int dims);

  struct Found {
    bool hit = false;
    int num_tokens = 0;
  };
  // Looks up every digest (one transaction) and marks the hits as just used. For hit i, its
  // `dims` floats are written to vectors[i * dims ...]; misses leave theirs untouched.
  std::vector<Found> lookup(std::span<const std::string> digests, int dims, float* vectors);

  struct Entry {
    const std::string* digest;
    std::span<const float> vector;
    int num_tokens = 0;
  };
  // Stores the entries (one transaction), then evicts least recently used entries until the
  // total fits max_bytes.
  void store(std::span<const Entry> entries);

  EmbeddingCacheStats stats() const;
  int64_t max_bytes() const { return max_bytes_; }

 private:
  void open_locked();
  void close_locked();
  // Logs the failure of `what`; a corrupt file is deleted and reopened empty.
  void on_error_locked(const char* what, int sqlite_code, const std::string& message);
  void evict_locked();

  const std::string path_;
  const int64_t max_bytes_;
  mutable std::mutex mu_;
  sqlite3* db_ = nullptr;
  int64_t clock_ = 0;  // recency: the next "used" stamp
  EmbeddingCacheStats stats_;
};

}  // namespace ej::service
