// JobService: embed jobs. The request side (create / get / list / cancel) runs on HTTP threads;
// the run side is `workers` background threads that claim jobs under a lease from the store and
// run them chunk by chunk:
//   read chunk rows -> embed -> write jobs/<id>/chunk-K.avro -> commit chunk (one transaction)
// A committed chunk is never redone; a crash between writing and committing redoes only that
// chunk (it overwrites its own file). At the end the chunk files are concatenated, in input
// order, into the parts of an embed-result dataset, which is inserted together with the job's
// final status in one transaction. What a chunk's rows become and what the output dataset is
// depends on the job's kind (job_kind.h): "embed" (embed jobs) and "batch" (/v2/batches, added by
// the CLI through add_kind). Thread-safe.
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

#include "service/resources.h"
#include "service/scheduler.h"
#include "service/services.h"

namespace ej::store {
struct JobRow;
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
  void stop_workers();  // finishes the current chunk, gives the lease back

 private:
  void worker_loop(int index);
  void run_job(const store::JobRow& job, const std::string& worker);
  // Builds the output dataset from the committed chunks and finishes the job.
  void finish_with_output(const store::JobRow& job, const std::string& worker, JobStatus status,
                          KindRun& run);

  // The chunk each running job waits on, so that cancel() drops its queued work at once.
  void track(const std::string& job_id, std::shared_ptr<ChunkRun> task);

  Services* services_;
  std::map<std::string, std::unique_ptr<JobKind>> kinds_;  // by JobRecord::kind; fixed at start
  std::mutex tasks_mu_;
  std::map<std::string, std::shared_ptr<ChunkRun>> tasks_;  // job id -> chunk in the scheduler
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::thread> workers_;
};

}  // namespace ej::service
