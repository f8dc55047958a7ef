// PostgreSQL implementation of Store (libpq): the store a cluster of embedjobs processes shares.
// Each call borrows a connection from a pool (pg_connection.h), so calls from many threads run
// at once, and most are ONE statement: a write under a lease names the lease in the same
// statement (a CTE that locks the job row and checks owner + generation), so it is atomic and
// costs one round trip. Claims pick rows with FOR UPDATE SKIP LOCKED: claimers in any number of
// processes never wait for, or take, each other's rows.
// Time: every lease (claim, renew, expiry check) and every timestamp the store writes itself
// (updated_us, started_us, api key created_us, idempotency expiry) is the DATABASE's clock
// (pg_schema.h kNowMs / kNowUs), so processes on machines whose clocks disagree still agree on
// who holds what. (The SQLite store uses the local clock: all its users are on one machine.)
// Rows the caller makes (insert_job, insert_dataset) keep the times the caller put in them.
#include <string>

#include "common/error.h"
#include "store/pg_connection.h"
#include "store/pg_idempotency.h"
#include "store/pg_schema.h"
#include "store/row_columns.h"
#include "store/store.h"

namespace ej::store {

namespace {

using pg::Params;
using pg::Result;
using pg::RowView;

// Connections one store opens at most (HTTP threads, job workers and the validator share them;
// a caller beyond that waits for a free one).
constexpr int kPoolSize = 32;

const std::string kNowMs = pg::kNowMs;
const std::string kNowUs = pg::kNowUs;

// The fence of every write under a job lease: $1 job id, $2 worker, $3 generation.
const std::string kLeaseIs =
    "id = $1 AND lease_owner = $2 AND lease_owner <> '' AND lease_generation = $3::bigint";

Params lease_params(const JobLease& lease) {
  return std::move(Params().add(lease.job_id).add(lease.worker).add(lease.generation));
}

// The fence of every write for a chunk: $1 job id, $2 chunk index, $3 worker, $4 generation.
const std::string kChunkLeaseIs =
    "job_id = $1 AND chunk_index = $2::bigint AND worker = $3 AND worker <> '' AND generation = "
    "$4::bigint";

// The job lease's fence in the final step's attempt statements: $1 job id, $3 worker, $4
// generation ($2 is the step).
const std::string kStepLeaseIs =
    "id = $1 AND lease_owner = $3 AND lease_owner <> '' AND lease_generation = $4::bigint";

Params chunk_lease_params(const ChunkLease& lease) {
  return std::move(
      Params().add(lease.job_id).add(lease.chunk_index).add(lease.worker).add(lease.generation));
}

// A claim, in one statement: the oldest row of `table` matching `candidates` (by created_us,
// then id), locked, skipping rows another claimer has locked (FOR UPDATE SKIP LOCKED: claimers
// never wait for each other, nor take the same row), is updated with `set`; RETURNING
// `returning`.
std::string claim_sql(const char* table, const std::string& set, const std::string& candidates,
                      const std::string& returning) {
  return std::string("UPDATE ") + table + " SET " + set + " WHERE id = (SELECT id FROM " + table +
         " WHERE " + candidates +
         " ORDER BY created_us, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " + returning;
}

std::string select_datasets(const std::string& rest) {
  return select_sql(dataset_columns(), "datasets", rest);
}
std::string select_jobs(const std::string& rest) {
  return select_sql(job_columns(), "jobs", rest);
}

// The job columns, each prefixed by `alias.` (for a SELECT that joins jobs).
std::string column_names_of(const std::string& alias) {
  std::string names;
  for (const auto& c : job_columns()) {
    if (c.role == ColumnRole::kInternal) continue;
    if (!names.empty()) names += ", ";
    names += alias + "." + c.name;
  }
  return names;
}

std::vector<DatasetRow> read_datasets(const Result& r) {
  std::vector<DatasetRow> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_row(dataset_columns(), RowView(r, i)));
  return out;
}
std::vector<JobRow> read_jobs(const Result& r) {
  std::vector<JobRow> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_row(job_columns(), RowView(r, i)));
  return out;
}

class PgStore final : public Store {
 public:
  explicit PgStore(const std::string& conninfo) : pool_(conninfo, kPoolSize) {
    auto c = pool_.borrow();
    pg::migrate(*c);
  }

  // --- API keys ---

  void add_api_key(const std::string& key_hash, const std::string& owner,
                   const std::string& name) override {
    pool_.borrow()->exec(
        "INSERT INTO api_keys(key_hash, owner, name, created_us) VALUES($1, $2, "
        "$3, " +
            kNowUs +
            ") ON CONFLICT (key_hash) DO UPDATE SET owner = excluded.owner, "
            "name = excluded.name",
        Params().add(key_hash).add(owner).add(name));
  }

  std::optional<std::string> owner_for_key_hash(const std::string& key_hash) override {
    Result r = pool_.borrow()->exec("SELECT owner FROM api_keys WHERE key_hash = $1",
                                    Params().add(key_hash));
    if (r.rows() == 0) return std::nullopt;
    return r.text(0, 0);
  }

  int64_t count_api_keys() override {
    return pool_.borrow()->exec("SELECT COUNT(*) FROM api_keys").i64(0, 0);
  }

  bool rehash_api_key(const std::string& old_hash, const std::string& new_hash) override {
    auto c = pool_.borrow();
    pg::Transaction tx(*c);
    // As SQLite's UPDATE OR REPLACE: a row already under new_hash (the same key added again)
    // gives way to the old one.
    Result old =
        c->exec("SELECT 1 FROM api_keys WHERE key_hash = $1 FOR UPDATE", Params().add(old_hash));
    if (old.rows() == 0) return false;
    if (old_hash == new_hash) return true;
    c->exec("DELETE FROM api_keys WHERE key_hash = $1", Params().add(new_hash));
    c->exec("UPDATE api_keys SET key_hash = $1 WHERE key_hash = $2",
            Params().add(new_hash).add(old_hash));
    tx.commit();
    return true;
  }

  std::vector<ApiKeyRow> list_api_keys() override {
    Result r = pool_.borrow()->exec(
        "SELECT key_hash, owner, name, created_us FROM api_keys ORDER BY created_us, key_hash");
    std::vector<ApiKeyRow> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.i64(i, 3)});
    }
    return out;
  }

  bool delete_api_key(const std::string& key_hash) override {
    return pool_.borrow()
               ->exec("DELETE FROM api_keys WHERE key_hash = $1", Params().add(key_hash))
               .affected() > 0;
  }

  // --- secrets ---

  std::string get_or_create_secret(const std::string& name, const std::string& candidate) override {
    auto c = pool_.borrow();
    // Two statements, not one: the SELECT must see a row that a racing process committed while
    // our INSERT waited for it (a new statement sees it; the INSERT's own snapshot would not).
    c->exec("INSERT INTO secrets(name, value) VALUES($1, $2) ON CONFLICT (name) DO NOTHING",
            Params().add(name).add(candidate));
    Result r = c->exec("SELECT value FROM secrets WHERE name = $1", Params().add(name));
    if (r.rows() == 0) throw Error(ErrorCode::kInternal, "secret " + name + " vanished");
    return r.text(0, 0);
  }

  // --- datasets ---

  void insert_dataset(const DatasetRow& r) override {
    auto c = pool_.borrow();
    insert_dataset_on(*c, r);
  }

  std::optional<DatasetRow> get_dataset(const std::string& id) override {
    std::vector<DatasetRow> rows =
        read_datasets(pool_.borrow()->exec(select_datasets("WHERE id = $1"), Params().add(id)));
    if (rows.empty()) return std::nullopt;
    return rows[0];
  }

  std::vector<DatasetRow> list_datasets(const std::string& owner, const DatasetFilter& f) override {
    Params p;
    p.add(owner)
        .add(f.dataset_type)
        .add(f.status ? std::string(status_name(*f.status)) : std::string())
        .add(f.before_us.value_or(INT64_MAX))
        .add(f.after_us.value_or(INT64_MIN))
        .add(f.limit)
        .add(f.offset);
    return read_datasets(pool_.borrow()->exec(
        select_datasets("WHERE owner = $1 AND ($2 = '' OR dataset_type = $2) AND ($3 = '' OR "
                        "validation_status = $3) AND created_us < $4::bigint AND created_us > "
                        "$5::bigint ORDER BY created_us DESC, id LIMIT $6::bigint OFFSET "
                        "$7::bigint"),
        p));
  }

  bool delete_dataset(const std::string& id) override {
    return pool_.borrow()->exec("DELETE FROM datasets WHERE id = $1", Params().add(id)).affected() >
           0;
  }

  std::vector<std::string> list_expired_datasets(int64_t created_before_us,
                                                 int64_t limit) override {
    Result r = pool_.borrow()->exec(
        "SELECT id FROM datasets d WHERE created_us < $1::bigint AND validation_status <> "
        "'processing' AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.input_dataset_id = d.id AND "
        "j.status IN ('processing', 'cancelling')) ORDER BY created_us, id LIMIT $2::bigint",
        Params().add(created_before_us).add(limit));
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  }

  int64_t usage_bytes(const std::string& owner) override {
    return pool_.borrow()
        ->exec("SELECT COALESCE(SUM(size_bytes), 0)::bigint FROM datasets WHERE owner = $1",
               Params().add(owner))
        .i64(0, 0);
  }

  std::optional<DatasetRow> claim_dataset_validation(const std::string& worker,
                                                     int64_t lease_ms) override {
    std::vector<DatasetRow> rows = read_datasets(pool_.borrow()->exec(
        claim_sql("datasets",
                  "validation_status = 'processing', lease_owner = $1, lease_until_ms = " + kNowMs +
                      " + $2::bigint, attempts = attempts + 1, updated_us = " + kNowUs,
                  "validation_status = 'queued' OR (validation_status = 'processing' AND "
                  "lease_until_ms < " +
                      kNowMs + ")",
                  column_names(dataset_columns())),
        Params().add(worker).add(lease_ms)));
    if (rows.empty()) return std::nullopt;
    return rows[0];
  }

  bool finish_dataset_validation(const DatasetRow& r, const std::string& worker) override {
    return pool_.borrow()
               ->exec(
                   "UPDATE datasets SET validation_status = $1, validation_error = $2, "
                   "size_bytes = $3::bigint, num_rows = $4::bigint, info = $5, updated_us = " +
                       kNowUs +
                       ", lease_owner = '', lease_until_ms = 0 WHERE id = $6 AND "
                       "lease_owner = $7 AND validation_status = 'processing'",
                   Params()
                       .add(std::string(status_name(r.status)))
                       .add(r.validation_error)
                       .add(r.size_bytes)
                       .add(r.num_rows)
                       .add(r.info.dump())
                       .add(r.id)
                       .add(worker))
               .affected() > 0;
  }

  // --- batches ---

  std::vector<JobRow> list_jobs_page(const std::string& owner, const std::string& kind,
                                     bool by_updated, bool ascending,
                                     const std::optional<JobPageKey>& after,
                                     int64_t limit) override {
    const std::string col = by_updated ? "updated_us" : "created_us";
    const std::string cmp = ascending ? ">" : "<";
    Params p;
    p.add(owner).add(kind);
    std::string where = "WHERE owner = $1 AND kind = $2";
    if (after) {
      where +=
          " AND (" + col + " " + cmp + " $3::bigint OR (" + col + " = $3::bigint AND id > $4))";
      p.add(after->sort_us).add(after->id);
    }
    p.add(limit);
    const std::string limit_param = "$" + std::to_string(p.size());
    return read_jobs(pool_.borrow()->exec(
        select_jobs(where + " ORDER BY " + col + (ascending ? " ASC" : " DESC") +
                    ", id ASC LIMIT " + limit_param + "::bigint"),
        p));
  }

  bool put_chunk_failures(const ChunkLease& lease, int64_t failed_rows) override {
    return pool_.borrow()
               ->exec("WITH lease AS (SELECT 1 FROM job_chunk_leases WHERE " + kChunkLeaseIs +
                          " FOR SHARE) INSERT INTO job_chunk_failures(job_id, chunk_index, "
                          "failed_rows) SELECT $1, $2::bigint, $5::bigint FROM lease ON CONFLICT "
                          "(job_id, chunk_index) DO UPDATE SET failed_rows = excluded.failed_rows",
                      chunk_lease_params(lease).add(failed_rows))
               .affected() > 0;
  }

  int64_t failed_rows(const std::string& job_id) override {
    return pool_.borrow()
        ->exec(
            "SELECT COALESCE(SUM(f.failed_rows), 0)::bigint FROM job_chunk_failures f JOIN "
            "job_chunks c ON c.job_id = f.job_id AND c.chunk_index = f.chunk_index WHERE "
            "f.job_id = $1",
            Params().add(job_id))
        .i64(0, 0);
  }

  // --- embed jobs ---

  void insert_job(const JobRow& r) override {
    Params p;
    bind_row(job_columns(), p, r);
    pool_.borrow()->exec(insert_sql(job_columns(), "jobs", Placeholders::kDollar), p);
  }

  std::optional<JobRow> get_job(const std::string& id) override {
    std::vector<JobRow> rows =
        read_jobs(pool_.borrow()->exec(select_jobs("WHERE id = $1"), Params().add(id)));
    if (rows.empty()) return std::nullopt;
    return rows[0];
  }

  std::vector<JobRow> list_jobs(const std::string& owner) override {
    return read_jobs(pool_.borrow()->exec(
        select_jobs("WHERE owner = $1 ORDER BY created_us DESC, id"), Params().add(owner)));
  }

  std::optional<JobStatus> request_cancel(const std::string& id) override {
    auto c = pool_.borrow();
    Result upd = c->exec("UPDATE jobs SET status = 'cancelling', updated_us = " + kNowUs +
                             " WHERE id = $1 AND status = 'processing' RETURNING status",
                         Params().add(id));
    if (upd.rows() > 0) return job_status_from_column(id, upd.text(0, 0));
    Result r = c->exec("SELECT status FROM jobs WHERE id = $1", Params().add(id));
    if (r.rows() == 0) return std::nullopt;
    return job_status_from_column(id, r.text(0, 0));
  }

  std::optional<JobRow> claim_job(const std::string& worker, int64_t lease_ms) override {
    // The final step is due: every chunk committed (processing), or no live chunk lease
    // (cancelling).
    std::vector<JobRow> rows = read_jobs(pool_.borrow()->exec(
        claim_sql("jobs",
                  "lease_owner = $1, lease_until_ms = " + kNowMs +
                      " + $2::bigint, attempts = attempts + 1, lease_generation = "
                      "lease_generation + 1, started_us = CASE WHEN started_us = 0 THEN " +
                      kNowUs + " ELSE started_us END",
                  "lease_until_ms < " + kNowMs +
                      " AND ((status = 'processing' AND (SELECT COUNT(*) FROM job_chunks c WHERE "
                      "c.job_id = jobs.id) >= " +
                      chunk_count_sql("jobs") +
                      ") OR (status = 'cancelling' AND NOT EXISTS (SELECT 1 FROM "
                      "job_chunk_leases l WHERE l.job_id = jobs.id AND l.lease_until_ms >= " +
                      kNowMs + ")))",
                  column_names(job_columns())),
        Params().add(worker).add(lease_ms)));
    if (rows.empty()) return std::nullopt;
    return rows[0];
  }

  std::optional<ChunkClaim> claim_chunk(const std::string& worker, int64_t lease_ms) override {
    // One statement (one round trip, one transaction). `re`: a chunk whose lease expired (its
    // holder died or stalled) is reclaimed, generation + 1 (lease rows another claimer has
    // locked are skipped). Else `nx`: the next chunk never handed out, of the oldest job that has
    // one (job rows another claimer has locked are skipped; the job's first claim records when it
    // started), and `ins` its lease row, generation 1. The job's columns are read as the
    // statement found them (before its own updates: started_us may still read 0 on a job's
    // first claim).
    Result r = pool_.borrow()->exec(
        "WITH re AS (UPDATE job_chunk_leases SET worker = $1, generation = generation + 1, "
        "lease_until_ms = " +
            kNowMs +
            " + $2::bigint WHERE (job_id, chunk_index) = (SELECT l.job_id, l.chunk_index FROM "
            "job_chunk_leases l JOIN jobs j ON j.id = l.job_id WHERE j.status = 'processing' AND "
            "l.lease_until_ms < " +
            kNowMs +
            " ORDER BY j.created_us, j.id, l.chunk_index LIMIT 1 FOR UPDATE OF l SKIP LOCKED) "
            "RETURNING job_id, chunk_index, generation), nx AS (UPDATE jobs SET chunks_issued = "
            "chunks_issued + 1, started_us = CASE WHEN started_us = 0 THEN " +
            kNowUs +
            " ELSE started_us END WHERE NOT EXISTS (SELECT 1 FROM re) AND id = (SELECT id FROM "
            "jobs WHERE status = 'processing' AND chunk_rows > 0 AND chunks_issued * chunk_rows < "
            "total_rows ORDER BY created_us, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, "
            "chunks_issued - 1 AS chunk_index), ins AS (INSERT INTO job_chunk_leases(job_id, "
            "chunk_index, worker, generation, lease_until_ms) SELECT id, chunk_index, $1, 1, " +
            kNowMs +
            " + $2::bigint FROM nx RETURNING job_id, chunk_index, generation) SELECT "
            "c.chunk_index, c.generation, " +
            column_names_of("j") +
            " FROM (SELECT * FROM re UNION ALL SELECT * FROM ins) c JOIN jobs j ON j.id = "
            "c.job_id",
        Params().add(worker).add(lease_ms));
    if (r.rows() == 0) return std::nullopt;
    ChunkClaim claim;
    claim.chunk_index = r.i64(0, 0);
    claim.generation = r.i64(0, 1);
    claim.job = read_row(job_columns(), RowView(r, 0, 2));
    return claim;
  }

  bool renew_chunk_lease(const ChunkLease& lease, int64_t lease_ms, JobStatus* status) override {
    Result r = pool_.borrow()->exec(
        "WITH upd AS (UPDATE job_chunk_leases SET lease_until_ms = " + kNowMs +
            " + $5::bigint WHERE " + kChunkLeaseIs +
            " RETURNING 1) SELECT (SELECT COUNT(*) FROM upd), (SELECT status FROM jobs WHERE id = "
            "$1)",
        chunk_lease_params(lease).add(lease_ms));
    if (status) {
      // A job that is gone (its dataset deleted) reads as cancelled: stop working on it.
      *status = r.is_null(0, 1) ? JobStatus::kCancelled
                                : job_status_from_column(lease.job_id, r.text(0, 1));
    }
    return r.i64(0, 0) > 0;
  }

  void release_chunk(const ChunkLease& lease, bool count_attempt) override {
    // (Rare: a shutdown or a failed attempt; a transaction of a few statements.)
    auto c = pool_.borrow();
    pg::Transaction tx(*c);
    Result held = c->exec("UPDATE job_chunk_leases SET lease_until_ms = 0 WHERE " + kChunkLeaseIs,
                          chunk_lease_params(lease));
    if (held.affected() == 0) return;
    if (!count_attempt) {
      c->exec(
          "UPDATE job_chunk_attempts SET attempts = attempts - 1 WHERE job_id = $1 AND "
          "chunk_index = $2::bigint AND attempts > 0",
          Params().add(lease.job_id).add(lease.chunk_index));
    }
    tx.commit();
  }

  ChunkAttempts begin_chunk(const ChunkLease& lease) override {
    // As begin_chunk(JobLease): the fence, then one more attempt counted, in one statement.
    return attempts_from(
        pool_.borrow()->exec("WITH lease AS (SELECT 1 FROM job_chunk_leases WHERE " +
                                 kChunkLeaseIs + " FOR SHARE) " + kCountAttempt,
                             chunk_lease_params(lease)));
  }

  int64_t record_chunk_failure(const ChunkLease& lease, const std::string& error) override {
    Result r = pool_.borrow()->exec("WITH lease AS (SELECT 1 FROM job_chunk_leases WHERE " +
                                        kChunkLeaseIs + " FOR SHARE) " + kRecordFailure,
                                    chunk_lease_params(lease).add(error));
    return r.rows() > 0 ? r.i64(0, 0) : 0;
  }

  bool fail_job(const ChunkLease& lease, const std::string& error) override {
    auto c = pool_.borrow();
    pg::Transaction tx(*c);
    Result held = c->exec("SELECT 1 FROM job_chunk_leases WHERE " + kChunkLeaseIs + " FOR UPDATE",
                          chunk_lease_params(lease));
    if (held.rows() == 0) return false;
    Result upd = c->exec("UPDATE jobs SET status = 'failed', error = $2, updated_us = " + kNowUs +
                             ", lease_owner = '', lease_until_ms = 0 WHERE id = $1 AND status IN "
                             "('processing', 'cancelling')",
                         Params().add(lease.job_id).add(error));
    if (upd.affected() == 0) return false;
    forget_job_work(*c, lease.job_id);
    tx.commit();
    return true;
  }

  bool renew_job_lease(const JobLease& lease, int64_t lease_ms, JobStatus* status) override {
    // The status after the renewal when it renewed (the row's newest version), else as read.
    Result r = pool_.borrow()->exec(
        "WITH upd AS (UPDATE jobs SET lease_until_ms = " + kNowMs + " + $4::bigint WHERE " +
            kLeaseIs +
            " RETURNING status) SELECT (SELECT COUNT(*) FROM upd), COALESCE((SELECT status FROM "
            "upd), (SELECT status FROM jobs WHERE id = $1))",
        lease_params(lease).add(lease_ms));
    const bool held = r.i64(0, 0) > 0;
    if (status) {
      // A job that is gone (its dataset deleted) reads as cancelled: stop working on it.
      *status = r.is_null(0, 1) ? JobStatus::kCancelled
                                : job_status_from_column(lease.job_id, r.text(0, 1));
    }
    return held;
  }

  ChunkAttempts begin_chunk(const JobLease& lease, int64_t step) override {
    // One statement: the fence, then one more attempt counted; the row it leaves says how many
    // came before (attempts - 1) and the last one's error (which the count does not change).
    return attempts_from(pool_.borrow()->exec(
        "WITH lease AS (SELECT 1 FROM jobs WHERE " + kStepLeaseIs + " FOR SHARE) " + kCountAttempt,
        Params().add(lease.job_id).add(step).add(lease.worker).add(lease.generation)));
  }

  int64_t record_chunk_failure(const JobLease& lease, int64_t step,
                               const std::string& error) override {
    Result r = pool_.borrow()->exec(
        "WITH lease AS (SELECT 1 FROM jobs WHERE " + kStepLeaseIs + " FOR SHARE) " + kRecordFailure,
        Params().add(lease.job_id).add(step).add(lease.worker).add(lease.generation).add(error));
    return r.rows() > 0 ? r.i64(0, 0) : 0;
  }

  bool commit_chunk(const ChunkLease& lease, const ChunkRow& c) override {
    if (c.chunk_index != lease.chunk_index) return false;
    // One statement, so one transaction: lock the chunk's lease row under the fence, add the
    // chunk (nothing when it is there already: a replay), forget its attempts, end its lease, and
    // add what the new chunk brought to the job's totals (all of a statement's parts see the
    // same snapshot, so the totals grow by what `ins` returned rather than being summed again;
    // commits of other chunks wait for the job row's lock and add to its newest version).
    Result r = pool_.borrow()->exec(
        "WITH lease AS (SELECT job_id AS id FROM job_chunk_leases WHERE " + kChunkLeaseIs +
            " FOR UPDATE), ins AS (INSERT INTO job_chunks(job_id, chunk_index, first_row, "
            "num_rows, tokens, size_bytes, file, cached_tokens) SELECT $1, $2::bigint, "
            "$5::bigint, $6::bigint, $7::bigint, $8::bigint, $9, $10::bigint FROM lease ON "
            "CONFLICT (job_id, chunk_index) DO NOTHING RETURNING num_rows, tokens, "
            "cached_tokens), forget AS (DELETE FROM job_chunk_attempts WHERE job_id = $1 AND "
            "chunk_index = $2::bigint AND EXISTS (SELECT 1 FROM lease)), ended AS (DELETE FROM "
            "job_chunk_leases WHERE job_id = $1 AND chunk_index = $2::bigint AND EXISTS (SELECT "
            "1 FROM lease)), upd AS (UPDATE jobs SET rows_done = rows_done + COALESCE((SELECT "
            "num_rows FROM ins), 0), input_tokens = "
            "input_tokens + COALESCE((SELECT tokens FROM ins), 0), cached_tokens = "
            "jobs.cached_tokens + COALESCE((SELECT cached_tokens FROM ins), 0), updated_us = " +
            kNowUs + " WHERE id IN (SELECT id FROM lease) RETURNING 1) SELECT COUNT(*) FROM upd",
        chunk_lease_params(lease)
            .add(c.first_row)
            .add(c.num_rows)
            .add(c.tokens)
            .add(c.size_bytes)
            .add(c.file)
            .add(c.cached_tokens));
    return r.i64(0, 0) > 0;
  }

  std::vector<ChunkRow> list_chunks(const std::string& job_id) override {
    Result r = pool_.borrow()->exec(
        "SELECT chunk_index, first_row, num_rows, tokens, size_bytes, file, cached_tokens FROM "
        "job_chunks WHERE job_id = $1 ORDER BY chunk_index",
        Params().add(job_id));
    std::vector<ChunkRow> out;
    for (int i = 0; i < r.rows(); ++i) {
      ChunkRow c;
      c.chunk_index = r.i64(i, 0);
      c.first_row = r.i64(i, 1);
      c.num_rows = r.i64(i, 2);
      c.tokens = r.i64(i, 3);
      c.size_bytes = r.i64(i, 4);
      c.file = r.text(i, 5);
      c.cached_tokens = r.i64(i, 6);
      out.push_back(c);
    }
    return out;
  }

  bool finish_job(const JobLease& lease, JobStatus status, const std::optional<DatasetRow>& output,
                  const std::string& error) override {
    auto c = pool_.borrow();
    pg::Transaction tx(*c);
    Result upd = c->exec(
        "UPDATE jobs SET status = $4, output_dataset_id = $5, error = $6, "
        "updated_us = " +
            kNowUs +
            ", lease_owner = '', lease_until_ms = 0, rows_done = CASE WHEN $7::bigint >= 0 THEN "
            "$7::bigint ELSE rows_done END WHERE " +
            kLeaseIs,
        lease_params(lease)
            .add(std::string(status_name(status)))
            .add(output ? output->id : std::string())
            .add(error)
            .add(output ? output->num_rows : int64_t{-1}));
    if (upd.affected() == 0) return false;  // (rolls back)
    if (output) insert_dataset_on(*c, *output);
    forget_job_work(*c, lease.job_id);
    tx.commit();
    return true;
  }

  void release_job(const JobLease& lease, int64_t uncounted_step) override {
    pool_.borrow()->exec(
        "WITH lease AS (SELECT id FROM jobs WHERE " + kLeaseIs +
            " FOR UPDATE), un AS (UPDATE job_chunk_attempts SET attempts = attempts - 1 WHERE "
            "job_id = $1 AND chunk_index = $4::bigint AND attempts > 0 AND EXISTS (SELECT 1 FROM "
            "lease)) UPDATE jobs SET lease_owner = '', lease_until_ms = 0 WHERE id IN (SELECT id "
            "FROM lease)",
        lease_params(lease).add(uncounted_step));
  }

  // --- Idempotency-Key records ---

  IdempotencyClaim begin_idempotent(const std::string& owner, const std::string& key,
                                    const std::string& request_hash, const std::string& holder,
                                    int64_t in_flight_ms, int64_t ttl_ms) override {
    auto c = pool_.borrow();
    return pg::begin_idempotent(*c, owner, key, request_hash, holder, in_flight_ms, ttl_ms);
  }

  void finish_idempotent(const std::string& owner, const std::string& key,
                         const std::string& holder, int status, const std::string& body) override {
    auto c = pool_.borrow();
    pg::finish_idempotent(*c, owner, key, holder, status, body);
  }

  void abandon_idempotent(const std::string& owner, const std::string& key,
                          const std::string& holder) override {
    auto c = pool_.borrow();
    pg::abandon_idempotent(*c, owner, key, holder);
  }

 private:
  // The tails of begin_chunk / record_chunk_failure after their fence (a CTE `lease`): $1 job
  // id, $2 step (chunk index), $5 the error.
  static constexpr const char* kCountAttempt =
      "INSERT INTO job_chunk_attempts(job_id, chunk_index, attempts) SELECT $1, $2::bigint, 1 "
      "FROM lease ON CONFLICT (job_id, chunk_index) DO UPDATE SET attempts = "
      "job_chunk_attempts.attempts + 1 RETURNING attempts, last_error";
  static constexpr const char* kRecordFailure =
      "UPDATE job_chunk_attempts SET last_error = $5 WHERE job_id = $1 AND chunk_index = "
      "$2::bigint AND EXISTS (SELECT 1 FROM lease) RETURNING attempts";

  static ChunkAttempts attempts_from(const Result& r) {
    ChunkAttempts out;
    if (r.rows() == 0) return out;
    out.held = true;
    out.previous = r.i64(0, 0) - 1;
    out.last_error = r.text(0, 1);
    return out;
  }

  // A finished job: its attempts and chunk leases go (a late chunk holder's writes are refused).
  static void forget_job_work(pg::Connection& c, const std::string& job_id) {
    c.exec("DELETE FROM job_chunk_attempts WHERE job_id = $1", Params().add(job_id));
    c.exec("DELETE FROM job_chunk_leases WHERE job_id = $1", Params().add(job_id));
  }

  static void insert_dataset_on(pg::Connection& c, const DatasetRow& r) {
    Params p;
    bind_row(dataset_columns(), p, r);
    c.exec(insert_sql(dataset_columns(), "datasets", Placeholders::kDollar), p);
  }

  pg::Pool pool_;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& conninfo) {
  return std::make_unique<PgStore>(conninfo);
}

}  // namespace ej::store
