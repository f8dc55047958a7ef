#include "store/pg_schema.h"

#include <string>

namespace ej::store::pg {

namespace {

// Version 1: the tables of the first PostgreSQL store. The datasets and jobs columns are the
// ones row_columns.cpp reads and writes (by name), plus each claimable table's lease. Ids sort
// and compare bytewise (COLLATE "C"), as in SQLite, whatever the database's locale: keyset
// pages (list_jobs_page) compare them.
const char* kV1 = R"SQL(
CREATE TABLE api_keys (
  key_hash TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  created_us BIGINT NOT NULL
);
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE datasets (
  id TEXT COLLATE "C" PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  dataset_type TEXT NOT NULL,
  validation_status TEXT NOT NULL,
  validation_error TEXT NOT NULL DEFAULT '',
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  size_bytes BIGINT NOT NULL DEFAULT 0,
  num_rows BIGINT NOT NULL DEFAULT 0,
  options TEXT NOT NULL DEFAULT '{}',
  info TEXT NOT NULL DEFAULT '{}',
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL DEFAULT 0,
  attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX datasets_by_owner ON datasets(owner, created_us);
CREATE INDEX datasets_by_status ON datasets(validation_status, created_us);
CREATE TABLE jobs (
  id TEXT COLLATE "C" PRIMARY KEY,
  owner TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'embed',
  name TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  input_dataset_id TEXT NOT NULL,
  output_dataset_id TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL,
  input_type TEXT NOT NULL,
  truncate TEXT NOT NULL,
  embedding_types TEXT NOT NULL DEFAULT '[]',
  created_us BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  total_rows BIGINT NOT NULL DEFAULT 0,
  rows_done BIGINT NOT NULL DEFAULT 0,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  cached_tokens BIGINT NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  model_identity TEXT NOT NULL DEFAULT '',
  lease_generation BIGINT NOT NULL DEFAULT 0,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL DEFAULT 0,
  attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_owner ON jobs(owner, created_us);
CREATE INDEX jobs_by_kind ON jobs(owner, kind, created_us);
CREATE INDEX jobs_by_input ON jobs(input_dataset_id);
-- What workers poll (claim_job): the unfinished jobs, oldest first.
CREATE INDEX jobs_to_run ON jobs(created_us) WHERE status IN ('processing', 'cancelling');
CREATE TABLE job_chunks (
  job_id TEXT NOT NULL,
  chunk_index BIGINT NOT NULL,
  first_row BIGINT NOT NULL,
  num_rows BIGINT NOT NULL,
  tokens BIGINT NOT NULL,
  size_bytes BIGINT NOT NULL,
  file TEXT NOT NULL,
  cached_tokens BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, chunk_index)
);
-- Attempts at a job's chunks that have not committed yet (poison-chunk detection).
CREATE TABLE job_chunk_attempts (
  job_id TEXT NOT NULL,
  chunk_index BIGINT NOT NULL,
  attempts BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, chunk_index)
);
-- Batches: the failed records of a job's chunk.
CREATE TABLE job_chunk_failures (
  job_id TEXT NOT NULL,
  chunk_index BIGINT NOT NULL,
  failed_rows BIGINT NOT NULL,
  PRIMARY KEY (job_id, chunk_index)
);
-- Idempotency-Key records: 'in_flight' (held by holder until in_flight_until_ms) or 'done'.
CREATE TABLE idempotency_keys (
  owner TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state TEXT NOT NULL,
  holder TEXT NOT NULL DEFAULT '',
  in_flight_until_ms BIGINT NOT NULL DEFAULT 0,
  status BIGINT NOT NULL DEFAULT 0,
  body TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  PRIMARY KEY (owner, idem_key)
);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys(expires_ms);
)SQL";

// Version 2: when a job's first claim happened (the API's started_at).
const char* kV2 = R"SQL(
ALTER TABLE jobs ADD COLUMN started_us BIGINT NOT NULL DEFAULT 0;
)SQL";

// Version 3: chunk leases (store.h "Chunk leases"): a job's rows per chunk, how many of its
// chunks were handed out, and one lease row per chunk handed out and not committed yet.
const char* kV3 = R"SQL(
ALTER TABLE jobs ADD COLUMN chunk_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN chunks_issued BIGINT NOT NULL DEFAULT 0;
CREATE TABLE job_chunk_leases (
  job_id TEXT COLLATE "C" NOT NULL,
  chunk_index BIGINT NOT NULL,
  worker TEXT NOT NULL,
  generation BIGINT NOT NULL,
  lease_until_ms BIGINT NOT NULL,
  PRIMARY KEY (job_id, chunk_index)
);
)SQL";

// pg_advisory_xact_lock key: "ej_schem" as a big-endian int64.
constexpr int64_t kMigrationLock = 0x656a5f736368656dLL;

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "tables of the first PostgreSQL store", kV1},
      {2, "jobs.started_us", kV2},
      {3, "chunk leases", kV3},
  };
  return all;
}

SchemaVersions migrate(Connection& c) {
  Transaction tx(c);
  c.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
  c.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT "
      "NULL, applied_us BIGINT NOT NULL)");
  SchemaVersions v;
  v.before = c.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").i64(0, 0);
  const int64_t known = migrations().back().version;
  if (v.before > known) {
    throw PgError("postgres: the database's schema is at version " + std::to_string(v.before) +
                      ", newer than this embedjobs knows (" + std::to_string(known) +
                      "): run the embedjobs that migrated it, or a newer one",
                  "");
  }
  for (const Migration& m : migrations()) {
    if (m.version <= v.before) continue;
    c.exec(m.sql);
    c.exec(std::string("INSERT INTO schema_migrations(version, name, applied_us) VALUES($1, $2, ") +
               kNowUs + ")",
           Params().add(m.version).add(m.name));
  }
  tx.commit();
  v.after = known;
  return v;
}

}  // namespace ej::store::pg
