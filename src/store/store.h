// Store: the durable state of the server (API keys, datasets, embed jobs, job chunks).
// One interface, two implementations: SQLite (one file; the default) and PostgreSQL (a cluster
// of processes on many machines sharing one database); both must pass tests/unit/store_*_test.cpp
// (store_fixture.h runs every test on each). All methods are thread-safe.
//
// Leases: background work (dataset validation, job runs) is claimed by a worker id for
// lease_ms; a worker keeps it by renewing, and a lease that runs out (the worker died) lets
// another worker claim the work again. Every write a worker makes under a lease checks that it
// still holds it, so a worker that lost its lease can never overwrite the new owner's work.
// Job leases are also fenced: every claim of a job increments its lease generation (a fencing
// token, JobLease::generation), and every write under a job lease checks owner AND generation in
// the same transaction as the write. A worker that stalled (SIGSTOP, a long pause, a slow disk)
// past its lease and wakes up holds an older generation, so nothing it writes lands, even if the
// job came back to a worker of the same name.
//
// Chunk leases: a job's rows are split into chunks of JobRow::chunk_rows rows (fixed when the job
// is made, so every worker agrees on the boundaries); n_chunks = ceil(total_rows / chunk_rows),
// none when either is 0. Each chunk is claimed on its own (claim_chunk), so all workers share one
// job's chunks. A chunk lease is fenced like a job lease: every claim of a chunk (a first one, or
// the reclaim of an expired one) has its own generation, and every write for the chunk
// (begin_chunk, record_chunk_failure, put_chunk_failures, commit_chunk) checks the chunk's
// holder AND generation in the same transaction as the write. The job lease (claim_job) is then
// only the claim of a job's FINAL step: the output assembly once every chunk is committed, or the
// cancelled finish.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/records.h"
#include "common/status.h"

namespace ej::store {

struct ApiKeyRow {
  std::string key_hash;  // "hmac-sha256:<hex>" (or a legacy bare SHA-256 hex)
  std::string owner;
  std::string name;
  int64_t created_us = 0;
};

struct DatasetRow {
  std::string id;
  std::string owner;
  std::string name;
  std::string dataset_type;                       // embed-input, embed-result, ...
  DatasetStatus status = DatasetStatus::kQueued;  // column validation_status
  std::string validation_error;
  int64_t created_us = 0;
  int64_t updated_us = 0;
  int64_t size_bytes = 0;  // bytes of the stored parts (+ kept original)
  int64_t num_rows = 0;
  nlohmann::json options = nlohmann::json::object();  // upload options (keep_fields, ...)
  // schema (string), parts ([{index,name,file,size_bytes,num_rows,samples}]), warnings,
  // required_fields, preserve_fields, original_file
  nlohmann::json info = nlohmann::json::object();
  int64_t attempts = 0;  // validation claims so far
};

using ej::DatasetFilter;

// A job plus what only the store keeps of it.
struct JobRow : JobRecord {
  // What the job was started with (ServedModel::identity): a run under another identity of the
  // same model name must not mix its vectors into this job.
  std::string model_identity;
  int64_t attempts = 0;          // run claims so far
  int64_t lease_generation = 0;  // incremented by every claim_job (the final step's fence)
  // Rows per chunk (see "Chunk leases"); 0: the job has no chunks (a job made before chunk
  // leases: the final step is claimable at once).
  int64_t chunk_rows = 0;
};

// The number of chunks of `job`: ceil(total_rows / chunk_rows); 0 when either is 0.
inline int64_t chunk_count(const JobRow& job) {
  return job.chunk_rows > 0 && job.total_rows > 0
             ? (job.total_rows + job.chunk_rows - 1) / job.chunk_rows
             : 0;
}

// One claim of a job: what every write under the lease names (see "Leases" above).
struct JobLease {
  std::string job_id;
  std::string worker;
  int64_t generation = 0;
};

// One claim of one chunk of a job: what every write for that chunk names.
struct ChunkLease {
  std::string job_id;
  int64_t chunk_index = 0;
  std::string worker;
  int64_t generation = 0;  // the chunk's fencing token: +1 on every claim of the chunk
};

// What claim_chunk hands out: the job (as stored) and which of its chunks, under which generation.
struct ChunkClaim {
  JobRow job;
  int64_t chunk_index = 0;
  int64_t generation = 0;
  ChunkLease lease(const std::string& worker) const {
    return ChunkLease{job.id, chunk_index, worker, generation};
  }
};

// What begin_chunk found about a chunk's earlier attempts (counted durably, so a chunk that
// kills its worker is seen as poison by the next process).
struct ChunkAttempts {
  bool held = false;       // false: the lease is gone; nothing was counted
  int64_t previous = 0;    // attempts begun before this one that did not commit
  std::string last_error;  // what the last failed attempt recorded ("": it died without a word)
};

// A stored Idempotency-Key: what begin_idempotent found.
struct IdempotencyClaim {
  enum class State {
    kStarted,   // no live record: one was made in flight under `holder`; run the request
    kInFlight,  // the first request with this key has not finished
    kMismatch,  // the key was used with a different request (another request_hash)
    kDone,      // finished: replay `status` + `body`
  };
  State state = State::kStarted;
  int status = 0;
  std::string body;
};

// One committed piece of a job's output: rows [first_row, first_row + num_rows) written to
// `file` (relative to the data dir). Keyed by (job_id, chunk_index): re-committing is a no-op.
struct ChunkRow {
  int64_t chunk_index = 0;
  int64_t first_row = 0;
  int64_t num_rows = 0;
  int64_t tokens = 0;
  int64_t size_bytes = 0;
  std::string file;
  int64_t cached_tokens = 0;  // of tokens, served from the embedding cache
};

// Where a page of list_jobs_page ends: the sort time (created_us or updated_us) and id of its
// last row.
struct JobPageKey {
  int64_t sort_us = 0;
  std::string id;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- API keys (stored as a keyed hash of the key: service/api_keys.h) ---
  virtual void add_api_key(const std::string& key_hash, const std::string& owner,
                           const std::string& name) = 0;
  virtual std::optional<std::string> owner_for_key_hash(const std::string& key_hash) = 0;
  virtual int64_t count_api_keys() = 0;
  // Replaces the stored hash `old_hash` by `new_hash` (same owner and name): migrates a key
  // stored under an older hash scheme. False when `old_hash` is not stored.
  virtual bool rehash_api_key(const std::string& old_hash, const std::string& new_hash) = 0;
  // Every stored key (its hash, never the key), oldest first: `embedjobs keys list`.
  virtual std::vector<ApiKeyRow> list_api_keys() = 0;
  // Deletes the key whose stored hash is `key_hash`; false when there is none.
  virtual bool delete_api_key(const std::string& key_hash) = 0;

  // --- secrets every process of a cluster must share (URL signing, API key hashing) ---
  // The secret stored under `name`; when there is none, stores `candidate` and returns it. Two
  // processes racing with different candidates both get the one that was stored first.
  virtual std::string get_or_create_secret(const std::string& name,
                                           const std::string& candidate) = 0;

  // --- datasets ---
  virtual void insert_dataset(const DatasetRow& row) = 0;
  virtual std::optional<DatasetRow> get_dataset(const std::string& id) = 0;
  virtual std::vector<DatasetRow> list_datasets(const std::string& owner,
                                                const DatasetFilter& filter) = 0;
  virtual bool delete_dataset(const std::string& id) = 0;
  // Datasets created before `created_before_us` that no unfinished job reads and that are not
  // being validated: what retention may delete. Oldest first, at most `limit`.
  virtual std::vector<std::string> list_expired_datasets(int64_t created_before_us,
                                                         int64_t limit) = 0;
  virtual int64_t usage_bytes(const std::string& owner) = 0;
  // Claims the oldest dataset that is queued, or processing under an expired lease; marks it
  // processing under `worker` until now + lease_ms.
  virtual std::optional<DatasetRow> claim_dataset_validation(const std::string& worker,
                                                             int64_t lease_ms) = 0;
  // Writes the validation outcome (status, error, size, rows, info) if `worker` holds the lease.
  virtual bool finish_dataset_validation(const DatasetRow& row, const std::string& worker) = 0;

  // --- batches (jobs of kind "batch"; the embed job methods below run them) ---
  // One page of `owner`'s jobs of `kind`, ordered by created_us (or updated_us when
  // `by_updated`), newest first unless `ascending`, ties by id; starting after `after` (the
  // last row of the previous page) when given; at most `limit` rows.
  virtual std::vector<JobRow> list_jobs_page(const std::string& owner, const std::string& kind,
                                             bool by_updated, bool ascending,
                                             const std::optional<JobPageKey>& after,
                                             int64_t limit) = 0;
  // How many of a chunk's rows failed (batch records answered with an error). Written before
  // the chunk's commit_chunk (a replay writes it again); counted only once the chunk is committed.
  // Fenced like commit_chunk: false (nothing written) unless `lease` is the chunk's current claim.
  virtual bool put_chunk_failures(const ChunkLease& lease, int64_t failed_rows) = 0;
  // Failed rows over the job's committed chunks.
  virtual int64_t failed_rows(const std::string& job_id) = 0;

  // --- embed jobs ---
  virtual void insert_job(const JobRow& row) = 0;
  virtual std::optional<JobRow> get_job(const std::string& id) = 0;
  virtual std::vector<JobRow> list_jobs(const std::string& owner) = 0;  // newest first
  // processing -> cancelling. Returns the job's status after the call (nullopt: no such job).
  virtual std::optional<JobStatus> request_cancel(const std::string& id) = 0;
  // --- chunks (see "Chunk leases" above) ---
  // In ONE transaction: a chunk of the oldest job in status processing (not cancelling) that is
  // neither committed nor under a live chunk lease: first a chunk whose lease expired (reclaimed
  // with generation + 1), else the job's next chunk never handed out (generation 1). Holds it
  // for `worker` until now + lease_ms; sets the job's started_us on its first claim.
  virtual std::optional<ChunkClaim> claim_chunk(const std::string& worker, int64_t lease_ms) = 0;
  // Extends the chunk lease; false when `lease` is no longer the chunk's current claim. Also
  // returns the job's status (cancelled when the job is gone).
  virtual bool renew_chunk_lease(const ChunkLease& lease, int64_t lease_ms, JobStatus* status) = 0;
  // Gives the chunk back (claimable at once, by anyone) if `lease` is current. `count_attempt`
  // false: the attempt begin_chunk counted ended cleanly (shutdown) and is taken back.
  virtual void release_chunk(const ChunkLease& lease, bool count_attempt) = 0;
  // In ONE transaction, if `lease` is current: counts one more attempt at the chunk and returns
  // the attempts before it (with the last recorded error).
  virtual ChunkAttempts begin_chunk(const ChunkLease& lease) = 0;
  // If `lease` is current: records why the attempt failed; returns the attempts counted so far
  // (0 when the lease is gone).
  virtual int64_t record_chunk_failure(const ChunkLease& lease, const std::string& error) = 0;
  // In ONE transaction, if `lease` is current (and chunk.chunk_index is its chunk): records the
  // chunk (ignored if it is already there), forgets its attempts, ends the chunk lease and
  // recomputes rows_done / input_tokens / cached_tokens from the chunks.
  virtual bool commit_chunk(const ChunkLease& lease, const ChunkRow& chunk) = 0;
  virtual std::vector<ChunkRow> list_chunks(const std::string& job_id) = 0;

  // --- a job's final step ---
  // Claims the oldest job whose final step is due and whose job lease is free or expired: in
  // processing with all chunk_count() chunks committed (the output assembly), or in cancelling
  // with no live chunk lease (the cancelled finish). Increments its lease_generation: the row
  // returned carries the new generation.
  virtual std::optional<JobRow> claim_job(const std::string& worker, int64_t lease_ms) = 0;
  // Extends the lease; false when `lease` is no longer the job's current claim. Also returns
  // the job's status.
  virtual bool renew_job_lease(const JobLease& lease, int64_t lease_ms, JobStatus* status) = 0;
  // The final step's attempts (poison detection), counted as the step `step` (= chunk_count()):
  // as begin_chunk / record_chunk_failure, fenced by the job lease.
  virtual ChunkAttempts begin_chunk(const JobLease& lease, int64_t step) = 0;
  virtual int64_t record_chunk_failure(const JobLease& lease, int64_t step,
                                       const std::string& error) = 0;
  // In ONE transaction, if `lease` is current: inserts `output` (when given; rows_done becomes
  // its num_rows: a cancelled job's output is the contiguous prefix of its committed chunks, and
  // chunks committed past a gap are not in it), sets the job's final status / output_dataset_id /
  // error, forgets its chunk attempts and chunk leases, and
  // releases the lease.
  virtual bool finish_job(const JobLease& lease, JobStatus status,
                          const std::optional<DatasetRow>& output, const std::string& error) = 0;
  // A chunk cannot be done (poison, or bad data): in ONE transaction, if `lease` is the chunk's
  // current claim and the job is unfinished, ends the job failed with `error`, as finish_job.
  virtual bool fail_job(const ChunkLease& lease, const std::string& error) = 0;
  // Gives the lease back without changing the status (shutdown, or a retry after a failed
  // final step), so another run can resume. `uncounted_step` >= 0: that step's current attempt
  // ended cleanly (shutdown) and is not counted against it.
  virtual void release_job(const JobLease& lease, int64_t uncounted_step = -1) = 0;

  // --- Idempotency-Key records (kept per owner; see service/idempotency.h) ---
  // In ONE transaction: sweeps up to 100 expired records, then looks up (owner, key). A record
  // that is absent, expired, or in flight under an expired in-flight lease is replaced by a new
  // in-flight one (kStarted) held by `holder` until now + in_flight_ms, expiring at
  // now + ttl_ms.
  virtual IdempotencyClaim begin_idempotent(const std::string& owner, const std::string& key,
                                            const std::string& request_hash,
                                            const std::string& holder, int64_t in_flight_ms,
                                            int64_t ttl_ms) = 0;
  // The request finished: keep its response for replays (if `holder` still holds the record).
  virtual void finish_idempotent(const std::string& owner, const std::string& key,
                                 const std::string& holder, int status,
                                 const std::string& body) = 0;
  // The request failed without a side effect: forget the record, so a retry runs again.
  virtual void abandon_idempotent(const std::string& owner, const std::string& key,
                                  const std::string& holder) = 0;
};

// Opens (creating if needed) the SQLite database file at `path`.
std::unique_ptr<Store> open_sqlite_store(const std::string& path);

// Opens the PostgreSQL database `conninfo` names (a libpq URL, postgresql://..., or a key=value
// string), first bringing its schema to this version (pg_schema.h). Throws ej::Error(kInternal)
// when it cannot connect or the schema is newer than this build.
std::unique_ptr<Store> open_postgres_store(const std::string& conninfo);

// The store `url` names (--store, EMBEDJOBS_STORE): "sqlite:PATH" (also sqlite://PATH),
// "postgres://..." / "postgresql://..." (a libpq URL), or "" for the SQLite file
// `default_sqlite_path`. Throws ej::Error(kInvalidArgument) for anything else.
std::unique_ptr<Store> open_store(const std::string& url, const std::string& default_sqlite_path);

// `embedjobs migrate`: brings the schema of the store `url` names (as open_store) to this
// version and says what it did, in one line.
std::string migrate_store(const std::string& url, const std::string& default_sqlite_path);

}  // namespace ej::store
