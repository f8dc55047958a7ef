// SQLite implementation of Store: one file, WAL journal, synchronous=FULL (a committed job
// state survives power loss), one connection serialized by a mutex (SQLite serializes writers
// anyway; reads are short).
#include <sqlite3.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "common/clock.h"
#include "common/error.h"
#include "store/sqlite_columns.h"
#include "store/sqlite_idempotency.h"
#include "store/store.h"

namespace ej::store {

namespace {

// The tables without a row type; datasets and jobs are made from their column lists
// (sqlite_columns.cpp), their indexes below.
const char* kSchema = R"SQL(
-- Batches: the failed records of a job's chunk (Store::put_chunk_failures).
CREATE TABLE IF NOT EXISTS job_chunk_failures (
  job_id TEXT NOT NULL,
  chunk_index INTEGER NOT NULL,
  failed_rows INTEGER NOT NULL,
  PRIMARY KEY (job_id, chunk_index)
);
CREATE TABLE IF NOT EXISTS api_keys (
  key_hash TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS job_chunks (
  job_id TEXT NOT NULL,
  chunk_index INTEGER NOT NULL,
  first_row INTEGER NOT NULL,
  num_rows INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  file TEXT NOT NULL,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, chunk_index)
);
-- Attempts at a job's chunks that have not committed yet (poison-chunk detection); a chunk's
-- row goes when it commits, the job's rows when it finishes.
CREATE TABLE IF NOT EXISTS job_chunk_attempts (
  job_id TEXT NOT NULL,
  chunk_index INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, chunk_index)
);
-- Chunk leases (Store::claim_chunk): one row per chunk handed out and not committed yet; its
-- generation grows with every claim of the chunk. commit_chunk deletes the row.
CREATE TABLE IF NOT EXISTS job_chunk_leases (
  job_id TEXT NOT NULL,
  chunk_index INTEGER NOT NULL,
  worker TEXT NOT NULL,
  generation INTEGER NOT NULL,
  lease_until_ms INTEGER NOT NULL,
  PRIMARY KEY (job_id, chunk_index)
);
-- Secrets shared by every process on this store (Store::get_or_create_secret).
CREATE TABLE IF NOT EXISTS secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)SQL";

const char* kIndexes = R"SQL(
CREATE INDEX IF NOT EXISTS datasets_by_owner ON datasets(owner, created_us);
CREATE INDEX IF NOT EXISTS datasets_by_status ON datasets(validation_status, created_us);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs(owner, created_us);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, created_us);
CREATE INDEX IF NOT EXISTS jobs_by_kind ON jobs(owner, kind, created_us);
)SQL";

using sqlite::Stmt;

std::string select_datasets(const std::string& rest) {
  return select_sql(dataset_columns(), "datasets", rest);
}
std::string select_jobs(const std::string& rest) {
  return select_sql(job_columns(), "jobs", rest);
}
DatasetRow read_dataset(const Stmt& s) {
  return read_row(dataset_columns(), s);
}
JobRow read_job(const Stmt& s) {
  return read_row(job_columns(), s);
}
JobStatus read_job_status(const std::string& id, const std::string& text) {
  return job_status_from_column(id, text);
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error(ErrorCode::kInternal, "cannot open database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    exec(kSchema);
    exec(sqlite::create_table_sql(dataset_columns(), "datasets").c_str());
    exec(sqlite::create_table_sql(job_columns(), "jobs").c_str());
    for (const std::string& sql :
         sqlite::add_missing_columns_sql(dataset_columns(), "datasets", columns("datasets")))
      exec(sql.c_str());
    for (const std::string& sql :
         sqlite::add_missing_columns_sql(job_columns(), "jobs", columns("jobs")))
      exec(sql.c_str());
    exec(kIndexes);
    exec(sqlite::kIdempotencySchema);
    // job_chunks.cached_tokens: added after the first release (embedding cache).
    auto chunk_cols = columns("job_chunks");
    if (std::find(chunk_cols.begin(), chunk_cols.end(), "cached_tokens") == chunk_cols.end())
      exec("ALTER TABLE job_chunks ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0");
  }
  ~SqliteStore() override { sqlite3_close(db_); }

  void add_api_key(const std::string& key_hash, const std::string& owner,
                   const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "INSERT INTO api_keys(key_hash, owner, name, created_us) VALUES(?,?,?,?) "
           "ON CONFLICT(key_hash) DO UPDATE SET owner = excluded.owner, name = excluded.name");
    s.bind(1, key_hash).bind(2, owner).bind(3, name).bind(4, now_us()).step();
  }

  std::optional<std::string> owner_for_key_hash(const std::string& key_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT owner FROM api_keys WHERE key_hash = ?");
    s.bind(1, key_hash);
    if (s.step()) return s.text(0);
    return std::nullopt;
  }

  std::string get_or_create_secret(const std::string& name, const std::string& candidate) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt(db_, "INSERT INTO secrets(name, value) VALUES(?,?) ON CONFLICT(name) DO NOTHING")
        .bind(1, name)
        .bind(2, candidate)
        .step();
    Stmt s(db_, "SELECT value FROM secrets WHERE name = ?");
    s.bind(1, name);
    if (!s.step()) throw Error(ErrorCode::kInternal, "secret " + name + " vanished");
    return s.text(0);
  }

  int64_t count_api_keys() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT COUNT(*) FROM api_keys");
    s.step();
    return s.i64(0);
  }

  bool rehash_api_key(const std::string& old_hash, const std::string& new_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    // OR REPLACE: a row already under new_hash (the same key added again) wins over the old one.
    Stmt s(db_, "UPDATE OR REPLACE api_keys SET key_hash = ? WHERE key_hash = ?");
    s.bind(1, new_hash).bind(2, old_hash).step();
    return sqlite3_changes(db_) > 0;
  }

  std::vector<ApiKeyRow> list_api_keys() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT key_hash, owner, name, created_us FROM api_keys ORDER BY created_us");
    std::vector<ApiKeyRow> out;
    while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), s.i64(3)});
    return out;
  }

  bool delete_api_key(const std::string& key_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "DELETE FROM api_keys WHERE key_hash = ?");
    s.bind(1, key_hash).step();
    return sqlite3_changes(db_) > 0;
  }

  void insert_dataset(const DatasetRow& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    insert_dataset_locked(r);
  }

  std::optional<DatasetRow> get_dataset(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, select_datasets("WHERE id = ?"));
    s.bind(1, id);
    if (s.step()) return read_dataset(s);
    return std::nullopt;
  }

  std::vector<DatasetRow> list_datasets(const std::string& owner, const DatasetFilter& f) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string sql = select_datasets(
        "WHERE owner = ?1 AND (?2 = '' OR dataset_type = ?2) AND "
        "(?3 = '' OR validation_status = ?3) AND created_us < ?4 AND created_us > "
        "?5 ORDER BY created_us DESC, id LIMIT ?6 OFFSET ?7");
    Stmt s(db_, sql);
    s.bind(1, owner)
        .bind(2, f.dataset_type)
        .bind(3, f.status ? std::string(status_name(*f.status)) : std::string())
        .bind(4, f.before_us.value_or(INT64_MAX))
        .bind(5, f.after_us.value_or(INT64_MIN))
        .bind(6, f.limit)
        .bind(7, f.offset);
    std::vector<DatasetRow> out;
    while (s.step()) out.push_back(read_dataset(s));
    return out;
  }

  bool delete_dataset(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "DELETE FROM datasets WHERE id = ?");
    s.bind(1, id).step();
    return sqlite3_changes(db_) > 0;
  }

  std::vector<std::string> list_expired_datasets(int64_t created_before_us,
                                                 int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT id FROM datasets d WHERE created_us < ?1 AND validation_status != "
           "'processing' AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.input_dataset_id = d.id "
           "AND j.status IN ('processing', 'cancelling')) ORDER BY created_us LIMIT ?2");
    s.bind(1, created_before_us).bind(2, limit);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }

  int64_t usage_bytes(const std::string& owner) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT COALESCE(SUM(size_bytes), 0) FROM datasets WHERE owner = ?");
    s.bind(1, owner).step();
    return s.i64(0);
  }

  std::optional<DatasetRow> claim_dataset_validation(const std::string& worker,
                                                     int64_t lease_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    int64_t now = now_ms();
    Stmt pick(db_,
              "SELECT id FROM datasets WHERE validation_status = 'queued' OR "
              "(validation_status = 'processing' AND lease_until_ms < ?) "
              "ORDER BY created_us LIMIT 1");
    pick.bind(1, now);
    if (!pick.step()) return std::nullopt;
    std::string id = pick.text(0);
    Stmt upd(db_,
             "UPDATE datasets SET validation_status = 'processing', lease_owner = ?, "
             "lease_until_ms = ?, attempts = attempts + 1, updated_us = ? WHERE id = ?");
    upd.bind(1, worker).bind(2, now + lease_ms).bind(3, now_us()).bind(4, id).step();
    Stmt get(db_, select_datasets("WHERE id = ?"));
    get.bind(1, id).step();
    DatasetRow row = read_dataset(get);
    tx.commit();
    return row;
  }

  bool finish_dataset_validation(const DatasetRow& r, const std::string& worker) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "UPDATE datasets SET validation_status = ?, validation_error = ?, size_bytes = ?, "
           "num_rows = ?, info = ?, updated_us = ?, lease_owner = '', lease_until_ms = 0 "
           "WHERE id = ? AND lease_owner = ? AND validation_status = 'processing'");
    s.bind(1, std::string(status_name(r.status)))
        .bind(2, r.validation_error)
        .bind(3, r.size_bytes)
        .bind(4, r.num_rows)
        .bind(5, r.info.dump())
        .bind(6, now_us())
        .bind(7, r.id)
        .bind(8, worker)
        .step();
    return sqlite3_changes(db_) > 0;
  }

  // --- batches ---

  std::vector<JobRow> list_jobs_page(const std::string& owner, const std::string& kind,
                                     bool by_updated, bool ascending,
                                     const std::optional<JobPageKey>& after,
                                     int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string col = by_updated ? "updated_us" : "created_us";
    const std::string cmp = ascending ? ">" : "<";
    std::string where = "WHERE owner = ?1 AND kind = ?2";
    if (after) {
      where += " AND (" + col + " " + cmp + " ?3 OR (" + col + " = ?3 AND id > ?4))";
    }
    Stmt s(db_, select_jobs(where + " ORDER BY " + col + (ascending ? " ASC" : " DESC") +
                            ", id ASC LIMIT ?5"));
    s.bind(1, owner).bind(2, kind).bind(5, limit);
    if (after) s.bind(3, after->sort_us).bind(4, after->id);
    std::vector<JobRow> out;
    while (s.step()) out.push_back(read_job(s));
    return out;
  }

  bool put_chunk_failures(const ChunkLease& lease, int64_t failed_rows) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_chunk_lease_locked(lease)) return false;
    Stmt s(db_,
           "INSERT OR REPLACE INTO job_chunk_failures(job_id, chunk_index, failed_rows) "
           "VALUES(?,?,?)");
    s.bind(1, lease.job_id).bind(2, lease.chunk_index).bind(3, failed_rows).step();
    tx.commit();
    return true;
  }

  int64_t failed_rows(const std::string& job_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT COALESCE(SUM(f.failed_rows), 0) FROM job_chunk_failures f JOIN job_chunks c "
           "ON c.job_id = f.job_id AND c.chunk_index = f.chunk_index WHERE f.job_id = ?");
    s.bind(1, job_id).step();
    return s.i64(0);
  }

  // --- embed jobs ---

  void insert_job(const JobRow& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, insert_sql(job_columns(), "jobs"));
    bind_row(job_columns(), s, r);
    s.step();
  }

  std::optional<JobRow> get_job(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, select_jobs("WHERE id = ?"));
    s.bind(1, id);
    if (s.step()) return read_job(s);
    return std::nullopt;
  }

  std::vector<JobRow> list_jobs(const std::string& owner) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, select_jobs("WHERE owner = ? ORDER BY created_us DESC, id"));
    s.bind(1, owner);
    std::vector<JobRow> out;
    while (s.step()) out.push_back(read_job(s));
    return out;
  }

  std::optional<JobStatus> request_cancel(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt upd(db_,
             "UPDATE jobs SET status = 'cancelling', updated_us = ? WHERE id = ? AND status = "
             "'processing'");
    upd.bind(1, now_us()).bind(2, id).step();
    Stmt s(db_, "SELECT status FROM jobs WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_job_status(id, s.text(0));
  }

  std::optional<JobRow> claim_job(const std::string& worker, int64_t lease_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    int64_t now = now_ms();
    // The final step is due: every chunk committed (processing), or no live chunk lease
    // (cancelling).
    Stmt pick(db_,
              "SELECT id FROM jobs j WHERE lease_until_ms < ?1 AND ((status = 'processing' AND "
              "(SELECT COUNT(*) FROM job_chunks c WHERE c.job_id = j.id) >= " +
                  chunk_count_sql("j") +
                  ") OR (status = 'cancelling' AND NOT EXISTS (SELECT 1 FROM job_chunk_leases l "
                  "WHERE l.job_id = j.id AND l.lease_until_ms >= ?1))) ORDER BY created_us, id "
                  "LIMIT 1");
    pick.bind(1, now);
    if (!pick.step()) return std::nullopt;
    std::string id = pick.text(0);
    Stmt upd(db_,
             "UPDATE jobs SET lease_owner = ?, lease_until_ms = ?, attempts = attempts + 1, "
             "lease_generation = lease_generation + 1, started_us = CASE WHEN started_us = 0 "
             "THEN ? ELSE started_us END WHERE id = ?");
    upd.bind(1, worker).bind(2, now + lease_ms).bind(3, now_us()).bind(4, id).step();
    JobRow row = get_job_locked(id);
    tx.commit();
    return row;
  }

  std::optional<ChunkClaim> claim_chunk(const std::string& worker, int64_t lease_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    const int64_t now = now_ms();
    ChunkClaim claim;
    // A chunk whose lease expired (its holder died or stalled): reclaimed, generation + 1.
    Stmt expired(db_,
                 "SELECT l.job_id, l.chunk_index FROM job_chunk_leases l JOIN jobs j ON j.id = "
                 "l.job_id WHERE j.status = 'processing' AND l.lease_until_ms < ? ORDER BY "
                 "j.created_us, j.id, l.chunk_index LIMIT 1");
    expired.bind(1, now);
    if (expired.step()) {
      const std::string id = expired.text(0);
      claim.chunk_index = expired.i64(1);
      Stmt upd(db_,
               "UPDATE job_chunk_leases SET worker = ?, generation = generation + 1, "
               "lease_until_ms = ? WHERE job_id = ? AND chunk_index = ?");
      upd.bind(1, worker).bind(2, now + lease_ms).bind(3, id).bind(4, claim.chunk_index).step();
      claim.job.id = id;
    } else {
      // Else the next chunk never handed out, of the oldest job that has one.
      Stmt next(db_,
                "SELECT id, chunks_issued FROM jobs WHERE status = 'processing' AND chunk_rows > "
                "0 AND chunks_issued * chunk_rows < total_rows ORDER BY created_us, id LIMIT 1");
      if (!next.step()) return std::nullopt;
      claim.job.id = next.text(0);
      claim.chunk_index = next.i64(1);
      Stmt ins(db_,
               "INSERT INTO job_chunk_leases(job_id, chunk_index, worker, generation, "
               "lease_until_ms) VALUES(?, ?, ?, 1, ?)");
      ins.bind(1, claim.job.id).bind(2, claim.chunk_index).bind(3, worker).bind(4, now + lease_ms);
      ins.step();
      Stmt issued(db_, "UPDATE jobs SET chunks_issued = chunks_issued + 1 WHERE id = ?");
      issued.bind(1, claim.job.id).step();
    }
    Stmt started(db_, "UPDATE jobs SET started_us = ? WHERE id = ? AND started_us = 0");
    started.bind(1, now_us()).bind(2, claim.job.id).step();
    Stmt gen(db_, "SELECT generation FROM job_chunk_leases WHERE job_id = ? AND chunk_index = ?");
    gen.bind(1, claim.job.id).bind(2, claim.chunk_index).step();
    claim.generation = gen.i64(0);
    claim.job = get_job_locked(claim.job.id);
    tx.commit();
    return claim;
  }

  bool renew_chunk_lease(const ChunkLease& lease, int64_t lease_ms, JobStatus* status) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt upd(db_,
             "UPDATE job_chunk_leases SET lease_until_ms = ? WHERE job_id = ? AND chunk_index = ? "
             "AND worker = ? AND generation = ?");
    upd.bind(1, now_ms() + lease_ms)
        .bind(2, lease.job_id)
        .bind(3, lease.chunk_index)
        .bind(4, lease.worker)
        .bind(5, lease.generation)
        .step();
    const bool held = sqlite3_changes(db_) > 0;
    if (status) *status = job_status_locked(lease.job_id);
    return held;
  }

  void release_chunk(const ChunkLease& lease, bool count_attempt) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_chunk_lease_locked(lease)) return;
    if (!count_attempt) uncount_attempt_locked(lease.job_id, lease.chunk_index);
    Stmt upd(db_,
             "UPDATE job_chunk_leases SET lease_until_ms = 0 WHERE job_id = ? AND chunk_index = ?");
    upd.bind(1, lease.job_id).bind(2, lease.chunk_index).step();
    tx.commit();
  }

  ChunkAttempts begin_chunk(const ChunkLease& lease) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_chunk_lease_locked(lease)) return {};
    ChunkAttempts out = begin_attempt_locked(lease.job_id, lease.chunk_index);
    tx.commit();
    return out;
  }

  int64_t record_chunk_failure(const ChunkLease& lease, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_chunk_lease_locked(lease)) return 0;
    int64_t attempts = record_failure_locked(lease.job_id, lease.chunk_index, error);
    tx.commit();
    return attempts;
  }

  bool fail_job(const ChunkLease& lease, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_chunk_lease_locked(lease)) return false;
    Stmt upd(db_,
             "UPDATE jobs SET status = 'failed', error = ?, updated_us = ?, lease_owner = '', "
             "lease_until_ms = 0 WHERE id = ? AND status IN ('processing', 'cancelling')");
    upd.bind(1, error).bind(2, now_us()).bind(3, lease.job_id).step();
    if (sqlite3_changes(db_) == 0) return false;
    forget_job_work_locked(lease.job_id);
    tx.commit();
    return true;
  }

  bool renew_job_lease(const JobLease& lease, int64_t lease_ms, JobStatus* status) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt upd(db_,
             "UPDATE jobs SET lease_until_ms = ? WHERE id = ? AND lease_owner = ? AND "
             "lease_owner != '' AND lease_generation = ?");
    upd.bind(1, now_ms() + lease_ms)
        .bind(2, lease.job_id)
        .bind(3, lease.worker)
        .bind(4, lease.generation)
        .step();
    bool held = sqlite3_changes(db_) > 0;
    if (status) *status = job_status_locked(lease.job_id);
    return held;
  }

  ChunkAttempts begin_chunk(const JobLease& lease, int64_t step) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_lease_locked(lease)) return {};
    ChunkAttempts out = begin_attempt_locked(lease.job_id, step);
    tx.commit();
    return out;
  }

  int64_t record_chunk_failure(const JobLease& lease, int64_t step,
                               const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_lease_locked(lease)) return 0;
    int64_t attempts = record_failure_locked(lease.job_id, step, error);
    tx.commit();
    return attempts;
  }

  bool commit_chunk(const ChunkLease& lease, const ChunkRow& c) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (c.chunk_index != lease.chunk_index || !holds_chunk_lease_locked(lease)) return false;
    const std::string& job_id = lease.job_id;
    Stmt ins(db_,
             "INSERT OR IGNORE INTO job_chunks(job_id, chunk_index, first_row, num_rows, tokens, "
             "size_bytes, file, cached_tokens) VALUES(?,?,?,?,?,?,?,?)");
    ins.bind(1, job_id)
        .bind(2, c.chunk_index)
        .bind(3, c.first_row)
        .bind(4, c.num_rows)
        .bind(5, c.tokens)
        .bind(6, c.size_bytes)
        .bind(7, c.file)
        .bind(8, c.cached_tokens)
        .step();
    Stmt forget(db_, "DELETE FROM job_chunk_attempts WHERE job_id = ? AND chunk_index = ?");
    forget.bind(1, job_id).bind(2, c.chunk_index).step();
    Stmt end(db_, "DELETE FROM job_chunk_leases WHERE job_id = ? AND chunk_index = ?");
    end.bind(1, job_id).bind(2, c.chunk_index).step();
    Stmt upd(db_,
             "UPDATE jobs SET rows_done = (SELECT COALESCE(SUM(num_rows), 0) FROM job_chunks "
             "WHERE job_id = ?1), input_tokens = (SELECT COALESCE(SUM(tokens), 0) FROM "
             "job_chunks WHERE job_id = ?1), cached_tokens = (SELECT COALESCE(SUM(cached_tokens), "
             "0) FROM job_chunks WHERE job_id = ?1), updated_us = ?2 WHERE id = ?1");
    upd.bind(1, job_id).bind(2, now_us()).step();
    tx.commit();
    return true;
  }

  std::vector<ChunkRow> list_chunks(const std::string& job_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT chunk_index, first_row, num_rows, tokens, size_bytes, file, cached_tokens FROM "
           "job_chunks "
           "WHERE job_id = ? ORDER BY chunk_index");
    s.bind(1, job_id);
    std::vector<ChunkRow> out;
    while (s.step()) {
      ChunkRow c;
      c.chunk_index = s.i64(0);
      c.first_row = s.i64(1);
      c.num_rows = s.i64(2);
      c.tokens = s.i64(3);
      c.size_bytes = s.i64(4);
      c.file = s.text(5);
      c.cached_tokens = s.i64(6);
      out.push_back(c);
    }
    return out;
  }

  bool finish_job(const JobLease& lease, JobStatus status, const std::optional<DatasetRow>& output,
                  const std::string& error) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_lease_locked(lease)) return false;
    if (output) insert_dataset_locked(*output);
    Stmt upd(db_,
             "UPDATE jobs SET status = ?, output_dataset_id = ?, error = ?, updated_us = ?, "
             "lease_owner = '', lease_until_ms = 0, rows_done = CASE WHEN ?6 >= 0 THEN ?6 ELSE "
             "rows_done END WHERE id = ?5");
    upd.bind(1, std::string(status_name(status)))
        .bind(2, output ? output->id : std::string())
        .bind(3, error)
        .bind(4, now_us())
        .bind(5, lease.job_id)
        .bind(6, output ? output->num_rows : int64_t{-1})
        .step();
    forget_job_work_locked(lease.job_id);
    tx.commit();
    return true;
  }

  void release_job(const JobLease& lease, int64_t uncounted_step) override {
    std::lock_guard<std::mutex> lock(mu_);
    Tx tx(this);
    if (!holds_lease_locked(lease)) return;
    if (uncounted_step >= 0) uncount_attempt_locked(lease.job_id, uncounted_step);
    Stmt upd(db_, "UPDATE jobs SET lease_owner = '', lease_until_ms = 0 WHERE id = ?");
    upd.bind(1, lease.job_id).step();
    tx.commit();
  }

  IdempotencyClaim begin_idempotent(const std::string& owner, const std::string& key,
                                    const std::string& request_hash, const std::string& holder,
                                    int64_t in_flight_ms, int64_t ttl_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    return sqlite::begin_idempotent(db_, owner, key, request_hash, holder, in_flight_ms, ttl_ms);
  }

  void finish_idempotent(const std::string& owner, const std::string& key,
                         const std::string& holder, int status, const std::string& body) override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite::finish_idempotent(db_, owner, key, holder, status, body);
  }

  void abandon_idempotent(const std::string& owner, const std::string& key,
                          const std::string& holder) override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite::abandon_idempotent(db_, owner, key, holder);
  }

 private:
  // BEGIN IMMEDIATE ... COMMIT; rolls back if not committed.
  class Tx {
   public:
    explicit Tx(SqliteStore* s) : s_(s) { s_->exec("BEGIN IMMEDIATE"); }
    ~Tx() {
      if (!done_) sqlite3_exec(s_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void commit() {
      s_->exec("COMMIT");
      done_ = true;
    }

   private:
    SqliteStore* s_;
    bool done_ = false;
  };

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown";
      sqlite3_free(err);
      throw Error(ErrorCode::kInternal, "sqlite: " + msg);
    }
  }

  std::vector<std::string> columns(const std::string& table) {
    Stmt s(db_, "SELECT name FROM pragma_table_info(?)");
    s.bind(1, table);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }

  // The fencing check: `lease` is the job's current claim (owner and generation).
  bool holds_lease_locked(const JobLease& lease) {
    Stmt s(db_,
           "SELECT 1 FROM jobs WHERE id = ? AND lease_owner = ? AND lease_owner != '' AND "
           "lease_generation = ?");
    s.bind(1, lease.job_id).bind(2, lease.worker).bind(3, lease.generation);
    return s.step();
  }

  // The chunk fence: `lease` is the chunk's current claim (worker and generation).
  bool holds_chunk_lease_locked(const ChunkLease& lease) {
    Stmt s(db_,
           "SELECT 1 FROM job_chunk_leases WHERE job_id = ? AND chunk_index = ? AND worker = ? "
           "AND worker != '' AND generation = ?");
    s.bind(1, lease.job_id)
        .bind(2, lease.chunk_index)
        .bind(3, lease.worker)
        .bind(4, lease.generation);
    return s.step();
  }

  JobRow get_job_locked(const std::string& id) {
    Stmt get(db_, select_jobs("WHERE id = ?"));
    get.bind(1, id);
    if (!get.step()) throw Error(ErrorCode::kInternal, "job " + id + " vanished");
    return read_job(get);
  }

  // A job that is gone (its dataset deleted) reads as cancelled: stop working on it.
  JobStatus job_status_locked(const std::string& id) {
    Stmt s(db_, "SELECT status FROM jobs WHERE id = ?");
    s.bind(1, id);
    return s.step() ? read_job_status(id, s.text(0)) : JobStatus::kCancelled;
  }

  ChunkAttempts begin_attempt_locked(const std::string& job_id, int64_t step) {
    ChunkAttempts out;
    out.held = true;
    Stmt get(db_,
             "SELECT attempts, last_error FROM job_chunk_attempts WHERE job_id = ? AND "
             "chunk_index = ?");
    get.bind(1, job_id).bind(2, step);
    if (get.step()) {
      out.previous = get.i64(0);
      out.last_error = get.text(1);
    }
    Stmt upd(db_,
             "INSERT INTO job_chunk_attempts(job_id, chunk_index, attempts) VALUES(?, ?, 1) "
             "ON CONFLICT(job_id, chunk_index) DO UPDATE SET attempts = attempts + 1");
    upd.bind(1, job_id).bind(2, step).step();
    return out;
  }

  int64_t record_failure_locked(const std::string& job_id, int64_t step, const std::string& error) {
    Stmt upd(db_,
             "UPDATE job_chunk_attempts SET last_error = ? WHERE job_id = ? AND chunk_index = ?");
    upd.bind(1, error).bind(2, job_id).bind(3, step).step();
    Stmt get(db_, "SELECT attempts FROM job_chunk_attempts WHERE job_id = ? AND chunk_index = ?");
    get.bind(1, job_id).bind(2, step);
    return get.step() ? get.i64(0) : 0;
  }

  void uncount_attempt_locked(const std::string& job_id, int64_t step) {
    Stmt un(db_,
            "UPDATE job_chunk_attempts SET attempts = attempts - 1 WHERE job_id = ? AND "
            "chunk_index = ? AND attempts > 0");
    un.bind(1, job_id).bind(2, step).step();
  }

  // A finished job: its attempts and chunk leases go (a late chunk holder's writes are refused).
  void forget_job_work_locked(const std::string& job_id) {
    Stmt attempts(db_, "DELETE FROM job_chunk_attempts WHERE job_id = ?");
    attempts.bind(1, job_id).step();
    Stmt leases(db_, "DELETE FROM job_chunk_leases WHERE job_id = ?");
    leases.bind(1, job_id).step();
  }

  void insert_dataset_locked(const DatasetRow& r) {
    Stmt s(db_, insert_sql(dataset_columns(), "datasets"));
    bind_row(dataset_columns(), s, r);
    s.step();
  }

  std::mutex mu_;
  sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace ej::store
