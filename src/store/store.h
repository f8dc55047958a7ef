// Store: the durable state of the server (API keys, datasets, embed jobs, job chunks).
// One interface, several implementations (SQLite now; PostgreSQL in its own issue); every
// implementation must pass tests/unit/store_*_test.cpp. All methods are thread-safe.
//
// Leases: background work (dataset validation, job runs) is claimed by a worker id for
// lease_ms; a worker keeps it by renewing, and a lease that runs out (the worker died) lets
// another worker claim the work again. Every write a worker makes under a lease checks that it
// still holds it, so a worker that lost its lease can never overwrite the new owner's work.
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
  int64_t attempts = 0;  // run claims so far
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

class Store {
 public:
  virtual ~Store() = default;

  // --- API keys (stored as SHA-256 hex of the key) ---
  virtual void add_api_key(const std::string& key_hash, const std::string& owner,
                           const std::string& name) = 0;
  virtual std::optional<std::string> owner_for_key_hash(const std::string& key_hash) = 0;
  virtual int64_t count_api_keys() = 0;

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

  // --- embed jobs ---
  virtual void insert_job(const JobRow& row) = 0;
  virtual std::optional<JobRow> get_job(const std::string& id) = 0;
  virtual std::vector<JobRow> list_jobs(const std::string& owner) = 0;  // newest first
  // processing -> cancelling. Returns the job's status after the call (nullopt: no such job).
  virtual std::optional<JobStatus> request_cancel(const std::string& id) = 0;
  // Claims the oldest job in processing/cancelling whose lease is free or expired.
  virtual std::optional<JobRow> claim_job(const std::string& worker, int64_t lease_ms) = 0;
  // Extends the lease; false when `worker` no longer holds it. Also returns the job's status.
  virtual bool renew_job_lease(const std::string& job_id, const std::string& worker,
                               int64_t lease_ms, JobStatus* status) = 0;
  // In ONE transaction, if `worker` holds the lease: records the chunk (ignored if it is
  // already there) and recomputes rows_done / input_tokens from the chunks.
  virtual bool commit_chunk(const std::string& job_id, const std::string& worker,
                            const ChunkRow& chunk) = 0;
  virtual std::vector<ChunkRow> list_chunks(const std::string& job_id) = 0;
  // In ONE transaction, if `worker` holds the lease: inserts `output` (when given), sets the
  // job's final status / output_dataset_id / error and releases the lease.
  virtual bool finish_job(const std::string& job_id, const std::string& worker, JobStatus status,
                          const std::optional<DatasetRow>& output, const std::string& error) = 0;
  // Gives the lease back without changing the status (shutdown), so another run can resume.
  virtual void release_job(const std::string& job_id, const std::string& worker) = 0;
};

// Opens (creating if needed) the SQLite database file at `path`.
std::unique_ptr<Store> open_sqlite_store(const std::string& path);

}  // namespace ej::store
