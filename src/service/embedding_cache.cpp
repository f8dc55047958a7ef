#include "service/embedding_cache.h"

#include <sqlite3.h>

#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/ids.h"
#include "common/log.h"

namespace ej::service {

namespace {

// Bump when the table layout or what a vector depends on changes: an older file is rebuilt.
constexpr int kFormatVersion = 1;
// Per-entry estimate on top of the vector: digest (64), other columns (~30), index entry and
// b-tree overhead (~40).
constexpr int64_t kRowOverheadBytes = 136;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS vectors (
  id INTEGER PRIMARY KEY,
  digest TEXT NOT NULL,
  dims INTEGER NOT NULL,
  num_tokens INTEGER NOT NULL,
  vec BLOB NOT NULL,
  checksum INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  used INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_by_used ON vectors(used, bytes);
)SQL";

// A SQLite failure with its result code (the cache decides by the code whether to rebuild).
struct Failure {
  int code;
  std::string message;
};

[[noreturn]] void fail(sqlite3* db, int code) {
  throw Failure{code, db ? sqlite3_errmsg(db) : sqlite3_errstr(code)};
}

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw Failure{rc, msg};
  }
}

// A prepared statement; bind() indexes from 1, column reads from 0. Throws Failure.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(db, rc);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bind_blob(int i, const void* data, size_t size) {
    sqlite3_bind_blob(stmt_, i, data, static_cast<int>(size), SQLITE_STATIC);
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, rc);
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string_view text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string_view(reinterpret_cast<const char*>(p),
                                static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }
  std::span<const unsigned char> blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    return {static_cast<const unsigned char*>(p),
            p ? static_cast<size_t>(sqlite3_column_bytes(stmt_, col)) : 0};
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// One transaction; rolled back unless committed.
class Tx {
 public:
  explicit Tx(sqlite3* db) : db_(db) { exec(db, "BEGIN IMMEDIATE"); }
  ~Tx() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec(db_, "COMMIT");
    done_ = true;
  }

 private:
  sqlite3* db_;
  bool done_ = false;
};

// The row id: the digest's first 15 hex digits (60 bits); the full digest is compared on read.
int64_t row_id(const std::string& digest) {
  return static_cast<int64_t>(std::stoull(digest.substr(0, 15), nullptr, 16));
}

// FNV-1a 64 over the digest and the vector bytes: a torn or bit-flipped row is not served.
int64_t checksum(std::string_view digest, const void* data, size_t size) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const unsigned char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  mix(reinterpret_cast<const unsigned char*>(digest.data()), digest.size());
  mix(static_cast<const unsigned char*>(data), size);
  return static_cast<int64_t>(h >> 1);
}

bool is_corruption(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB || primary == SQLITE_FORMAT;
}

}  // namespace

std::string EmbeddingCache::digest(const EmbeddingCacheKey& k) {
  Sha256 h;
  auto field = [&](std::string_view v) {
    const uint64_t n = v.size();
    h.update(&n, sizeof(n));
    h.update(v);
  };
  field("embedjobs-cache-v1");
  field(k.owner);
  field(k.model);
  field(k.model_identity);
  field(k.dtype);
  field(std::to_string(static_cast<int>(k.input_type)));
  field(std::to_string(static_cast<int>(k.truncate)));
  field(std::to_string(k.max_tokens));
  field(std::to_string(k.output_dimension));
  field(k.text);
  return h.hex();
}

int64_t EmbeddingCache::entry_bytes(int dims) {
  return static_cast<int64_t>(dims) * static_cast<int64_t>(sizeof(float)) + kRowOverheadBytes;
}

EmbeddingCache::EmbeddingCache(std::string path, int64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    open_locked();
  } catch (const Failure& f) {
    on_error_locked("opening", f.code, f.message);
  }
  if (!db_) {
    throw Error(ErrorCode::kInternal, "cannot create the embedding cache " + path_);
  }
}

EmbeddingCache::~EmbeddingCache() {
  std::lock_guard<std::mutex> lock(mu_);
  close_locked();
}

void EmbeddingCache::open_locked() {
  int rc =
      sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close_locked();
    throw Failure{rc, msg};
  }
  sqlite3_busy_timeout(db_, 2000);
  exec(db_, "PRAGMA journal_mode=WAL");
  // A lost tail after a power cut costs recomputation only; WAL keeps the file consistent.
  exec(db_, "PRAGMA synchronous=NORMAL");
  int64_t version = 0;
  {
    Stmt s(db_, "PRAGMA user_version");
    if (s.step()) version = s.i64(0);
  }
  if (version != 0 && version != kFormatVersion) {
    throw Failure{SQLITE_FORMAT, "cache format " + std::to_string(version) + ", expected " +
                                     std::to_string(kFormatVersion)};
  }
  exec(db_, kSchema);
  exec(db_, ("PRAGMA user_version=" + std::to_string(kFormatVersion)).c_str());
  Stmt s(db_, "SELECT COUNT(*), COALESCE(SUM(bytes), 0), COALESCE(MAX(used), 0) FROM vectors");
  s.step();
  stats_.entries = s.i64(0);
  stats_.bytes = s.i64(1);
  clock_ = s.i64(2) + 1;
  if (stats_.bytes > max_bytes_) {  // --cache-mb was lowered since the last run
    Tx tx(db_);
    evict_locked();
    tx.commit();
  }
}

void EmbeddingCache::close_locked() {
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void EmbeddingCache::on_error_locked(const char* what, int code, const std::string& message) {
  if (!is_corruption(code)) {
    ++stats_.errors;
    if (stats_.errors <= 10 || stats_.errors % 1000 == 0) {
      log_warn(std::string("embedding cache: ") + what + " failed (" + message + "); " +
               "serving without it for this call (" + std::to_string(stats_.errors) +
               " errors so far)");
    }
    return;
  }
  log_warn(std::string("embedding cache: ") + path_ + " is unusable while " + what + " (" +
           message + "); starting a new, empty cache");
  ++stats_.rebuilds;
  close_locked();
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(path_ + suffix, ec);
  }
  stats_.entries = 0;
  stats_.bytes = 0;
  clock_ = 1;
  try {
    open_locked();
  } catch (const Failure& f) {
    log_error("embedding cache: cannot create " + path_ + " (" + f.message +
              "); the cache is off until restart");
    close_locked();
  }
}

std::vector<EmbeddingCache::Found> EmbeddingCache::lookup(std::span<const std::string> digests,
                                                          int dims, float* vectors) {
  std::vector<Found> out(digests.size());
  if (digests.empty()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  if (!db_) return out;
  const size_t vec_bytes = static_cast<size_t>(dims) * sizeof(float);
  int64_t hits = 0, dropped = 0, dropped_bytes = 0;
  try {
    Tx tx(db_);
    Stmt get(db_,
             "SELECT digest, dims, num_tokens, vec, checksum, bytes FROM vectors WHERE id = ?");
    Stmt touch(db_, "UPDATE vectors SET used = ? WHERE id = ?");
    Stmt drop(db_, "DELETE FROM vectors WHERE id = ?");
    for (size_t i = 0; i < digests.size(); ++i) {
      const int64_t id = row_id(digests[i]);
      get.reset();
      get.bind(1, id);
      if (!get.step()) continue;
      if (get.text(0) != digests[i]) continue;  // another key with the same id: a miss
      std::span<const unsigned char> vec = get.blob(3);
      if (get.i64(1) != dims || vec.size() != vec_bytes ||
          get.i64(4) != checksum(digests[i], vec.data(), vec.size())) {
        dropped_bytes += get.i64(5);
        ++dropped;
        get.reset();
        drop.reset();
        drop.bind(1, id).step();
        continue;
      }
      std::memcpy(vectors + i * static_cast<size_t>(dims), vec.data(), vec_bytes);
      out[i] = Found{true, static_cast<int>(get.i64(2))};
      ++hits;
      get.reset();
      touch.reset();
      touch.bind(1, clock_++).bind(2, id).step();
    }
    tx.commit();
    stats_.entries -= dropped;  // rows that failed their checksum
    stats_.bytes -= dropped_bytes;
  } catch (const Failure& f) {
    on_error_locked("looking up", f.code, f.message);
    out.assign(digests.size(), Found{});
    hits = 0;
  }
  stats_.hits += hits;
  stats_.misses += static_cast<int64_t>(digests.size()) - hits;
  return out;
}

void EmbeddingCache::store(std::span<const Entry> entries) {
  if (entries.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!db_) return;
  try {
    Tx tx(db_);
    Stmt old(db_, "SELECT bytes FROM vectors WHERE id = ?");
    Stmt put(db_,
             "INSERT OR REPLACE INTO vectors(id, digest, dims, num_tokens, vec, checksum, bytes, "
             "used) VALUES(?,?,?,?,?,?,?,?)");
    int64_t entries_delta = 0, bytes_delta = 0;
    for (const Entry& e : entries) {
      const int64_t id = row_id(*e.digest);
      old.reset();
      old.bind(1, id);
      if (old.step()) {
        bytes_delta -= old.i64(0);
        --entries_delta;
      }
      old.reset();
      const int dims = static_cast<int>(e.vector.size());
      const int64_t bytes = entry_bytes(dims);
      const size_t vec_bytes = e.vector.size() * sizeof(float);
      put.reset();
      put.bind(1, id)
          .bind(2, *e.digest)
          .bind(3, dims)
          .bind(4, e.num_tokens)
          .bind_blob(5, e.vector.data(), vec_bytes)
          .bind(6, checksum(*e.digest, e.vector.data(), vec_bytes))
          .bind(7, bytes)
          .bind(8, clock_++);
      put.step();
      bytes_delta += bytes;
      ++entries_delta;
    }
    const int64_t entries_before = stats_.entries, bytes_before = stats_.bytes,
                  evicted_before = stats_.evicted;
    stats_.entries += entries_delta;
    stats_.bytes += bytes_delta;
    try {
      evict_locked();
      tx.commit();
    } catch (...) {
      stats_.entries = entries_before;
      stats_.bytes = bytes_before;
      stats_.evicted = evicted_before;
      throw;
    }
    stats_.stored += static_cast<int64_t>(entries.size());
  } catch (const Failure& f) {
    on_error_locked("storing", f.code, f.message);
  }
}

void EmbeddingCache::evict_locked() {
  Stmt oldest(db_, "SELECT id, bytes FROM vectors ORDER BY used LIMIT 256");
  Stmt drop(db_, "DELETE FROM vectors WHERE id = ?");
  while (stats_.bytes > max_bytes_) {
    std::vector<std::pair<int64_t, int64_t>> victims;
    oldest.reset();
    while (oldest.step()) victims.emplace_back(oldest.i64(0), oldest.i64(1));
    oldest.reset();
    if (victims.empty()) break;
    for (const auto& [id, bytes] : victims) {
      if (stats_.bytes <= max_bytes_) break;
      drop.reset();
      drop.bind(1, id).step();
      stats_.bytes -= bytes;
      --stats_.entries;
      ++stats_.evicted;
    }
  }
}

EmbeddingCacheStats EmbeddingCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace ej::service
