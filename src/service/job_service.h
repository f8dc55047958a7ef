// JobService: embed jobs. The request side (create / get / list / cancel) runs on HTTP threads;
// the run side is `workers` background threads that claim work from the store, one CHUNK at a
// time (store.h "Chunk leases"), so every worker of every process shares one job's chunks:
//   claim chunk K -> read its rows -> embed -> write + publish blob jobs/<id>/chunk-K-gG.avro ->
//   commit chunk (one transaction, fenced by the chunk lease)
// A committed chunk is never redone; a crash between writing and committing redoes only that
// chunk (under a new generation, so a new blob). Parts and chunks are blobs (blob_store.h).
// When no chunk is left to claim, a worker claims a job's final step (claim_job: every chunk
// committed, or the job cancelled): the chunk files are concatenated, in input order, into the
// parts of an embed-result dataset, which is inserted together with the job's final status in
// one transaction. What a
// chunk's rows become and what the output dataset is depends on the job's kind (job_kind.h):
// "embed" (embed jobs) and "batch" (/v2/batches, added by the CLI through add_kind). Thread-safe.
//
// Reliability: every write under the lease names the claim's lease generation (fencing, see
// store/store.h), so a worker that stalled past its lease can never commit over the worker that
// took the job. Each chunk (and the final assembly) counts its attempts durably when it begins:
// a chunk that throws or takes its worker down `max_chunk_attempts` times ends the job `failed`
// with "rows A-B failed N times: <reason>", never a loop. A shutdown's interrupted attempt is not
// counted; an error about the data itself (not internal) fails the job at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/embedding_types.h"
#include "service/job_stats.h"
#include "service/model_registry.h"
#include "service/resources.h"
#include "service/scheduler.h"
#include "service/services.h"

namespace ej::store {
struct DatasetRow;
struct JobRow;
struct JobLease;
struct ChunkLease;
struct ChunkClaim;
}  // namespace ej::store

namespace ej::service {

class ChunkRun;  // job_kind.h (which the API layer may not see: it speaks of store rows)
class JobKind;
class KindRun;

struct CreateJobRequest {
  std::string model;
  std::string dataset_id;
  std::string input_type;
  std::string name;
  nlohmann::json embedding_types;  // null = float only
  std::string truncate;            // empty = END
};

class JobService {
 public:
  explicit JobService(Services* services);
  ~JobService();

  // Validates the request (model served, dataset embed-input + validated + the caller's, ...)
  // and inserts the job; a worker picks it up.
  Job create(const std::string& owner, const CreateJobRequest& request);
  // Throws 404 when the job does not exist or belongs to someone else.
  Job get(const std::string& owner, const std::string& job_id);
  std::vector<Job> list(const std::string& owner);
  // processing -> cancelling; the runner then writes cancelled. Harmless on any other status.
  void cancel(const std::string& owner, const std::string& job_id);

  // --- for other job kinds' services (service/batch_service.h) ---
  // Registers a job kind (before start_workers); "embed" is there from the start.
  void add_kind(std::unique_ptr<JobKind> kind);
  // processing -> cancelling for any kind, and drops the running chunk's queued work.
  void cancel_run(const std::string& job_id);
  // A job was inserted: a waiting worker looks for it now.
  void wake();

  void start_workers(int count);
  void stop_workers();  // drops the current chunk's queued work, gives its lease back

  // What this process's workers have done (GET /metrics).
  const JobStats& stats() const { return stats_; }

 private:
  // What one run needs to embed and commit a chunk.
  struct ChunkPlan {
    const store::JobRow& job;
    const store::ChunkLease& lease;
    const ServedModel& model;
    KindRun& run;
    int64_t first_row;
  };
  enum class ChunkOutcome { kCommitted, kLeaseLost, kStopping, kCancelled };
  // What one worker thread has committed, for its progress lines.
  struct Progress {
    int64_t start_ms = 0;
    int64_t rows = 0;
    int64_t last_log_ms = 0;
  };

  void worker_loop(int index);
  // Runs one claimed chunk to its commit (or hands it back); false when it did not commit.
  struct InputCursor;  // job_service.cpp: a worker thread's position in a job's input
  void run_claimed_chunk(const store::ChunkClaim& claim, const std::string& worker,
                         Progress* progress, InputCursor* cursor);
  // The job's input dataset (into `input`) and its kind's run; throws when either is gone.
  std::unique_ptr<KindRun> begin_kind_run(const store::JobRow& job, store::DatasetRow* input);
  // Runs a job's final step (claim_job): the output assembly, or the cancelled finish.
  void run_final_step(const store::JobRow& job, const store::JobLease& lease);
  static constexpr int64_t kProgressLogMs = 5000;
  static void log_progress(const store::JobRow& job, int64_t rows_done, int64_t total_rows,
                           const Progress& progress);
  // Embeds (through the job's kind), writes and commits one chunk; throws what the engine or
  // the disk throws.
  ChunkOutcome run_chunk(const ChunkPlan& plan, std::vector<nlohmann::json> rows);
  // Counts an attempt at `step` (a chunk under its chunk lease, or the final step, numbered
  // chunk_count(), under the job lease); false when the lease is gone or the step already failed
  // max_chunk_attempts times (then the job is failed).
  template <typename Lease>
  bool begin_step(const Lease& lease, int64_t step, const std::string& what);
  // `step` threw: fail the job (the data is at fault, or the last attempt), or give the lease
  // back so that the step is retried.
  template <typename Lease>
  void step_failed(const Lease& lease, int64_t step, const std::string& what,
                   const std::exception& e);
  // Ends the job failed (if `lease` is still current), and drops its chunk blobs.
  void fail_job(const store::JobLease& lease, const std::string& reason);
  void fail_job(const store::ChunkLease& lease, const std::string& reason);
  // Builds the output dataset from the committed chunks and finishes the job (counted as the
  // step `assembly_step`).
  void finish_with_output(const store::JobRow& job, const store::JobLease& lease, JobStatus status,
                          KindRun& run, int64_t assembly_step);
  void assemble_output(const store::JobRow& job, const store::JobLease& lease, JobStatus status,
                       KindRun& run);

  // The chunks each running job waits on (one per worker thread that holds one of its chunks),
  // so that cancel() drops their queued work at once.
  void track(const std::string& job_id, const std::shared_ptr<ChunkRun>& task);
  void untrack(const std::string& job_id, const std::shared_ptr<ChunkRun>& task);

  Services* services_;
  std::map<std::string, std::unique_ptr<JobKind>> kinds_;  // by JobRecord::kind; fixed at start
  std::mutex tasks_mu_;
  std::multimap<std::string, std::shared_ptr<ChunkRun>> tasks_;  // job id -> its chunks queued
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::thread> workers_;
  JobStats stats_;
};

}  // namespace ej::service
