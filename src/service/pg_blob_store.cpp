// The PostgreSQL BlobStore (blob_store.h, open_postgres_blob_store): a blob is one row of
// ej_blobs (its size and chunk size) and its bytes in rows of ej_blob_chunks, kChunkBytes each
// (bytea, sent and read in binary). A put replaces the blob in one transaction; readers fetch
// the chunk an offset falls in (and keep it: parts are read front to back). Uses libpq directly,
// through a small pool of connections that threads borrow one at a time. Thread-safe.
#include <libpq-fe.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include "common/durable_file.h"
#include "common/error.h"
#include "common/ids.h"
#include "service/blob_store.h"

namespace ej::service {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunkBytes = 1u << 20;

[[noreturn]] void fail(const std::string& what) {
  throw Error(ErrorCode::kInternal, "postgres blob store: " + what);
}

// One statement's parameters: text, or binary (bytea).
struct Param {
  std::string value;
  bool binary = false;
};

class Result {
 public:
  explicit Result(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  std::string value(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }
  int64_t i64(int row, int col) const { return std::stoll(value(row, col)); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// Runs `sql` with `params`; results come as text, or as binary when `binary_result`.
PGresult* run(PGconn* c, const char* sql, const std::vector<Param>& params, bool binary_result) {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const Param& p : params) {
    values.push_back(p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  return PQexecParams(c, sql, static_cast<int>(params.size()), nullptr, values.data(),
                      lengths.data(), formats.data(), binary_result ? 1 : 0);
}

// run(), throwing what the server said when the statement failed.
Result checked(PGconn* c, const char* sql, const std::vector<Param>& params = {},
               bool binary_result = false) {
  PGresult* raw = run(c, sql, params, binary_result);
  const ExecStatusType st = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string err = raw ? PQresultErrorMessage(raw) : PQerrorMessage(c);
    if (raw) PQclear(raw);
    fail(err);
  }
  return Result(raw);
}

// Connections that threads borrow one at a time; a broken one is dropped, not returned.
class Pool {
 public:
  explicit Pool(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~Pool() {
    for (PGconn* c : idle_) PQfinish(c);
  }

  class Lease {
   public:
    Lease(Pool* pool, PGconn* c) : pool_(pool), c_(c) {}
    ~Lease() { pool_->give_back(c_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    PGconn* get() const { return c_; }

   private:
    Pool* pool_;
    PGconn* c_;
  };

  Lease borrow() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        PGconn* c = idle_.back();
        idle_.pop_back();
        return Lease(this, c);
      }
    }
    PGconn* c = PQconnectdb(conninfo_.c_str());
    if (!c || PQstatus(c) != CONNECTION_OK) {
      std::string err = c ? PQerrorMessage(c) : "out of memory";
      if (c) PQfinish(c);
      fail("cannot connect: " + err);
    }
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);  // "already exists, skipping"
    return Lease(this, c);
  }

 private:
  void give_back(PGconn* c) {
    if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE) {
      PQfinish(c);  // broken, or left inside a transaction by an exception
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(c);
  }

  std::string conninfo_;
  std::mutex mu_;
  std::vector<PGconn*> idle_;
};

// BEGIN ... COMMIT on a borrowed connection; rolled back unless commit() was reached.
class Transaction {
 public:
  explicit Transaction(PGconn* c) : c_(c) { checked(c_, "BEGIN"); }
  ~Transaction() {
    if (!done_) PQclear(run(c_, "ROLLBACK", {}, false));
  }
  void commit() {
    checked(c_, "COMMIT");
    done_ = true;
  }

 private:
  PGconn* c_;
  bool done_ = false;
};

class PgBlobReader final : public BlobReader {
 public:
  PgBlobReader(Pool* pool, std::string key, uint64_t size, uint64_t chunk_bytes)
      : pool_(pool), key_(std::move(key)), size_(size), chunk_bytes_(chunk_bytes) {}
  uint64_t size() const override { return size_; }
  size_t read_at(uint64_t offset, void* buf, size_t n) override {
    size_t done = 0;
    while (done < n && offset + done < size_) {
      const uint64_t at = offset + done;
      const int64_t seq = static_cast<int64_t>(at / chunk_bytes_);
      if (seq != cached_seq_) load(seq);
      const uint64_t in_chunk = at - static_cast<uint64_t>(seq) * chunk_bytes_;
      if (in_chunk >= cached_.size()) fail("blob " + key_ + " is shorter than its size");
      const size_t take = std::min<size_t>(n - done, cached_.size() - in_chunk);
      std::memcpy(static_cast<char*>(buf) + done, cached_.data() + in_chunk, take);
      done += take;
    }
    return done;
  }

 private:
  void load(int64_t seq) {
    Pool::Lease c = pool_->borrow();
    Result r = checked(c.get(), "SELECT data FROM ej_blob_chunks WHERE key = $1 AND seq = $2",
                       {{key_}, {std::to_string(seq)}}, true);
    if (r.rows() != 1) fail("blob " + key_ + " has no chunk " + std::to_string(seq));
    cached_ = r.value(0, 0);
    cached_seq_ = seq;
  }

  Pool* pool_;
  std::string key_;
  uint64_t size_;
  uint64_t chunk_bytes_;
  int64_t cached_seq_ = -1;
  std::string cached_;
};

class PostgresBlobStore final : public BlobStore {
 public:
  PostgresBlobStore(const std::string& conninfo, std::string scratch_dir)
      : pool_(conninfo), scratch_(std::move(scratch_dir)) {
    fs::create_directories(scratch_);
    Pool::Lease c = pool_.borrow();
    // Several processes may start at once: a lost race to create a table is a retry.
    for (int attempt = 0;; ++attempt) {
      try {
        checked(c.get(),
                "CREATE TABLE IF NOT EXISTS ej_blobs (key text PRIMARY KEY, "
                "size_bytes bigint NOT NULL, chunk_bytes integer NOT NULL)");
        checked(c.get(),
                "CREATE TABLE IF NOT EXISTS ej_blob_chunks (key text NOT NULL, seq integer NOT "
                "NULL, data bytea NOT NULL, PRIMARY KEY (key, seq))");
        break;
      } catch (const Error&) {
        if (attempt >= 2) throw;
      }
    }
  }

  std::string staging_path(const std::string& key) override {
    check_blob_key(key);
    return scratch_ + "/" + key;
  }

  void put_file(const std::string& key, const std::string& local_path) override {
    check_blob_key(key);
    FILE* f = std::fopen(local_path.c_str(), "rbe");
    if (!f) fail("cannot open " + local_path + ": " + std::strerror(errno));
    std::unique_ptr<FILE, int (*)(FILE*)> closer(f, &std::fclose);
    Pool::Lease c = pool_.borrow();
    Transaction tx(c.get());
    // The blob's row first: it locks the key, so two puts of one key do not interleave.
    checked(c.get(),
            "INSERT INTO ej_blobs(key, size_bytes, chunk_bytes) VALUES($1, 0, $2) "
            "ON CONFLICT (key) DO UPDATE SET size_bytes = 0, chunk_bytes = EXCLUDED.chunk_bytes",
            {{key}, {std::to_string(kChunkBytes)}});
    checked(c.get(), "DELETE FROM ej_blob_chunks WHERE key = $1", {{key}});
    Param data{std::string(kChunkBytes, '\0'), true};
    uint64_t total = 0;
    for (int64_t seq = 0;; ++seq) {
      data.value.resize(kChunkBytes);
      const size_t got = std::fread(data.value.data(), 1, kChunkBytes, f);
      if (got < kChunkBytes && std::ferror(f)) fail("cannot read " + local_path);
      if (got == 0 && seq > 0) break;
      data.value.resize(got);
      checked(c.get(), "INSERT INTO ej_blob_chunks(key, seq, data) VALUES($1, $2, $3)",
              {{key}, {std::to_string(seq)}, data});
      total += got;
      if (got < kChunkBytes) break;
    }
    checked(c.get(), "UPDATE ej_blobs SET size_bytes = $2 WHERE key = $1",
            {{key}, {std::to_string(total)}});
    tx.commit();
    closer.reset();
    std::error_code ec;
    fs::remove(local_path, ec);
  }

  std::unique_ptr<BlobReader> open(const std::string& key) override {
    check_blob_key(key);
    Pool::Lease c = pool_.borrow();
    Result r =
        checked(c.get(), "SELECT size_bytes, chunk_bytes FROM ej_blobs WHERE key = $1", {{key}});
    if (r.rows() == 0) return nullptr;
    return std::make_unique<PgBlobReader>(&pool_, key, static_cast<uint64_t>(r.i64(0, 0)),
                                          static_cast<uint64_t>(r.i64(0, 1)));
  }

  std::optional<uint64_t> size(const std::string& key) override {
    check_blob_key(key);
    Pool::Lease c = pool_.borrow();
    Result r = checked(c.get(), "SELECT size_bytes FROM ej_blobs WHERE key = $1", {{key}});
    if (r.rows() == 0) return std::nullopt;
    return static_cast<uint64_t>(r.i64(0, 0));
  }

  std::unique_ptr<LocalBlobFile> fetch(const std::string& key) override {
    std::unique_ptr<BlobReader> blob = open(key);
    if (!blob) throw_not_found("no blob " + key);
    // Named after this process: remove_abandoned_temp_files removes it if the process dies.
    auto local = std::make_unique<LocalBlobFile>(unique_tmp_path(scratch_ + "/fetched"), true);
    FILE* f = std::fopen(local->path().c_str(), "wbe");
    if (!f) fail("cannot create " + local->path() + ": " + std::strerror(errno));
    std::unique_ptr<FILE, int (*)(FILE*)> closer(f, &std::fclose);
    std::string buf(kChunkBytes, '\0');
    for (uint64_t at = 0; at < blob->size();) {
      const size_t got = blob->read_at(at, buf.data(), buf.size());
      if (got == 0) fail("blob " + key + " ended early");
      if (std::fwrite(buf.data(), 1, got, f) != got) fail("cannot write " + local->path());
      at += got;
    }
    if (std::fclose(closer.release()) != 0) fail("cannot write " + local->path());
    return local;
  }

  void remove(const std::string& key) override {
    check_blob_key(key);
    Pool::Lease c = pool_.borrow();
    Transaction tx(c.get());
    checked(c.get(), "DELETE FROM ej_blobs WHERE key = $1", {{key}});
    checked(c.get(), "DELETE FROM ej_blob_chunks WHERE key = $1", {{key}});
    tx.commit();
  }

  void remove_prefix(const std::string& prefix) override {
    check_blob_key(prefix);
    const std::string p = prefix + "/";
    Pool::Lease c = pool_.borrow();
    Transaction tx(c.get());
    checked(c.get(), "DELETE FROM ej_blobs WHERE left(key, length($1)) = $1", {{p}});
    checked(c.get(), "DELETE FROM ej_blob_chunks WHERE left(key, length($1)) = $1", {{p}});
    tx.commit();
    std::error_code ec;
    fs::remove_all(scratch_ + "/" + prefix, ec);  // what was staged here and never put
  }

 private:
  Pool pool_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<BlobStore> open_postgres_blob_store(const std::string& conninfo,
                                                    const std::string& scratch_dir) {
  return std::make_unique<PostgresBlobStore>(conninfo, scratch_dir);
}

}  // namespace ej::service
