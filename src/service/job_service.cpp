#include "service/job_service.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "common/clock.h"
#include "common/error.h"
#include "common/failpoint.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/avro_concat.h"
#include "service/avro_parts.h"
#include "service/blob_store.h"
#include "service/embed_job_kind.h"
#include "service/embedding_service.h"
#include "service/embedding_types.h"
#include "service/job_kind.h"
#include "service/paths.h"
#include "service/storage_error.h"
#include "store/store.h"

namespace ej::service {

namespace {

// Streams the rows of a dataset's parts (blobs) in order, from row `first_row`: whole parts
// before it are skipped by their num_rows (never opened), the rest of the way is read and dropped
// (decoded, not converted). skip(n) drops n more rows the same way.
class RowStream {
 public:
  RowStream(BlobStore* blobs, const nlohmann::json& parts, int64_t first_row)
      : blobs_(blobs), skip_(first_row) {
    for (const auto& p : parts) {
      const int64_t rows = p.value("num_rows", int64_t{-1});
      if (files_.empty() && rows >= 0 && rows <= skip_) {
        skip_ -= rows;  // the whole part comes before first_row
        continue;
      }
      files_.push_back(p.at("file").get<std::string>());
    }
  }
  bool next(nlohmann::json* row) {
    for (; skip_ > 0; --skip_) {
      if (!next_row(nullptr)) return false;
    }
    return next_row(row);
  }
  void skip(int64_t rows) { skip_ += rows; }

 private:
  // The next row into *row, or past it when row is null.
  bool next_row(nlohmann::json* row) {
    while (true) {
      if (!reader_) {
        if (next_file_ >= files_.size()) return false;
        const std::string& key = files_[next_file_++];
        reader_ = std::make_unique<AvroPartReader>(blobs_->must_open(key), key);
      }
      if (row ? reader_->next(row) : reader_->skip()) return true;
      reader_.reset();
    }
  }

  BlobStore* blobs_;
  int64_t skip_;
  std::vector<std::string> files_;
  size_t next_file_ = 0;
  std::unique_ptr<AvroPartReader> reader_;
};

}  // namespace

// Where a worker thread's last chunk left its input: a next chunk of the same job further on
// reads on from there instead of from the start of the part (workers mostly take a job's chunks
// in order, so each skips only the chunks other workers took in between).
struct JobService::InputCursor {
  std::string job_id;
  int64_t next_row = 0;
  std::unique_ptr<RowStream> rows;
};

JobService::JobService(Services* services) : services_(services) {
  add_kind(std::make_unique<EmbedJobKind>(services));
}

void JobService::add_kind(std::unique_ptr<JobKind> kind) {
  std::string name(kind->name());
  kinds_[name] = std::move(kind);
}

JobService::~JobService() {
  stop_workers();
}

Job JobService::create(const std::string& owner, const CreateJobRequest& r) {
  if (r.model.empty()) throw_invalid("model is required");
  if (r.dataset_id.empty()) throw_invalid("dataset_id is required");
  if (r.input_type.empty()) {
    throw_invalid(
        "input_type is required: one of search_document, search_query, "
        "classification, clustering");
  }
  engine::InputType input_type = parse_input_type(r.input_type);
  if (input_type == engine::InputType::kImage) {
    throw_invalid("input_type image is not supported by embed jobs: datasets hold text");
  }
  engine::Truncate truncate = parse_truncate(r.truncate.empty() ? "END" : r.truncate, false);
  EmbeddingTypes types = parse_embedding_types(r.embedding_types, false);
  if (r.name.size() > 256) throw_invalid("name must be at most 256 characters");
  const ServedModel& served = services_->models->get(r.model);  // 404 when not served

  std::optional<store::DatasetRow> ds = services_->store->get_dataset(r.dataset_id);
  if (!ds || ds->owner != owner) throw_not_found("dataset with id " + r.dataset_id + " not found");
  if (ds->dataset_type != "embed-input") {
    throw_invalid("dataset " + r.dataset_id + " has type " + ds->dataset_type +
                  "; embed jobs need a dataset of type embed-input");
  }
  if (ds->status != DatasetStatus::kValidated) {
    throw_invalid("dataset " + r.dataset_id + " is not validated (validation_status: " +
                  std::string(status_name(ds->status)) + ")");
  }
  store::JobRow job;
  job.id = random_uuid();
  job.owner = owner;
  job.name = r.name;
  job.status = JobStatus::kProcessing;
  job.input_dataset_id = r.dataset_id;
  job.model = r.model;
  job.input_type = input_type_name(input_type);
  job.truncate = truncate_name(truncate);
  job.embedding_types = types.names();
  job.created_us = now_us();
  job.updated_us = job.created_us;
  job.total_rows = ds->num_rows;
  job.model_identity = served.identity;
  // Fixed with the job: every worker of the cluster splits it the same way.
  job.chunk_rows = services_->config.chunk_rows;
  services_->store->insert_job(job);
  wake_.notify_all();
  return job;
}

Job JobService::get(const std::string& owner, const std::string& job_id) {
  std::optional<store::JobRow> job = services_->store->get_job(job_id);
  if (!job || job->owner != owner || job->kind != "embed") {
    throw_not_found("embed job with id " + job_id + " not found");
  }
  return *job;
}

std::vector<Job> JobService::list(const std::string& owner) {
  std::vector<Job> out;
  for (const auto& row : services_->store->list_jobs(owner)) {
    if (row.kind == "embed") out.push_back(row);  // batches are listed by /v2/batches
  }
  return out;
}

void JobService::cancel(const std::string& owner, const std::string& job_id) {
  get(owner, job_id);
  cancel_run(job_id);
}

void JobService::cancel_run(const std::string& job_id) {
  services_->store->request_cancel(job_id);
  std::vector<std::shared_ptr<ChunkRun>> tasks;
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    auto [from, to] = tasks_.equal_range(job_id);
    for (auto it = from; it != to; ++it) tasks.push_back(it->second);
  }
  // The chunks this process runs drop their queued work; their workers hand them back, and the
  // job's final step (any worker) finishes it as cancelled.
  for (const auto& t : tasks) t->cancel();
  wake_.notify_all();
}

void JobService::wake() {
  wake_.notify_all();
}

void JobService::track(const std::string& job_id, const std::shared_ptr<ChunkRun>& task) {
  std::lock_guard<std::mutex> lock(tasks_mu_);
  tasks_.emplace(job_id, task);
}

void JobService::untrack(const std::string& job_id, const std::shared_ptr<ChunkRun>& task) {
  std::lock_guard<std::mutex> lock(tasks_mu_);
  auto [from, to] = tasks_.equal_range(job_id);
  for (auto it = from; it != to; ++it) {
    if (it->second == task) {
      tasks_.erase(it);
      return;
    }
  }
}

void JobService::start_workers(int count) {
  stopping_ = false;
  for (int i = 0; i < count; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

void JobService::stop_workers() {
  stopping_ = true;
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

namespace {
// Counts a worker thread as running while it holds a chunk or a final step.
struct Running {
  std::atomic<int64_t>& n;
  explicit Running(std::atomic<int64_t>& count) : n(count) { ++n; }
  ~Running() { --n; }
};

// Why a job cannot run at all, in words (a full or read-only data dir says so).
std::string failure_reason(const std::exception& e, const std::string& job_id,
                           const std::string& data_dir) {
  std::string reason = public_message(e, "running embed job " + job_id);
  if (const char* full = storage_problem(e.what(), data_dir)) {
    log_error("job " + job_id + ": " + e.what());
    reason = storage_message(full, "writing the job's output");
  }
  return reason;
}
}  // namespace

void JobService::worker_loop(int index) {
  std::string worker = services_->config.worker_id + "/job-" + std::to_string(index);
  Progress progress;
  progress.start_ms = now_ms();
  InputCursor cursor;
  while (!stopping_) {
    bool worked = false;
    try {
      // A chunk first: chunks are what all workers share; a job's final step only when none is
      // left to claim.
      if (std::optional<store::ChunkClaim> chunk =
              services_->store->claim_chunk(worker, services_->config.lease_ms)) {
        worked = true;
        log_info("job " + chunk->job.id + ": claimed by " + worker + " (chunk " +
                     std::to_string(chunk->chunk_index) + ", generation " +
                     std::to_string(chunk->generation) + ")",
                 {{"job_id", chunk->job.id}});
        Running running(stats_.running);
        run_claimed_chunk(*chunk, worker, &progress, &cursor);
      } else if (std::optional<store::JobRow> job =
                     services_->store->claim_job(worker, services_->config.lease_ms)) {
        worked = true;
        const store::JobLease lease{job->id, worker, job->lease_generation};
        log_info("job " + job->id + ": final step claimed by " + worker + " (attempt " +
                 std::to_string(job->attempts) + ", lease generation " +
                 std::to_string(job->lease_generation) + ")");
        Running running(stats_.running);
        try {
          run_final_step(*job, lease);
        } catch (const std::exception& e) {
          const std::string reason = failure_reason(e, job->id, services_->config.data_dir);
          log_error("job " + job->id + " failed: " + reason);
          fail_job(lease, reason);
        }
      }
    } catch (const std::exception& e) {
      log_error(std::string("job worker ") + worker + ": " + e.what());
    }
    if (!worked) {
      cursor.rows.reset();  // idle: let go of the input's part
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(250));
    }
  }
}

void JobService::fail_job(const store::JobLease& lease, const std::string& reason) {
  try {
    if (services_->store->finish_job(lease, JobStatus::kFailed, std::nullopt, reason)) {
      ++stats_.jobs_failed;
      // A failed job has no output: its chunk files are garbage (outside any quota).
      services_->blobs->remove_prefix(job_key(lease.job_id));
    } else {
      log_warn("job " + lease.job_id + ": lease lost before it could be failed");
    }
  } catch (const std::exception& e) {
    log_error(std::string("finish_job: ") + e.what());
  }
}

void JobService::fail_job(const store::ChunkLease& lease, const std::string& reason) {
  try {
    if (services_->store->fail_job(lease, reason)) {
      ++stats_.jobs_failed;
      // Other workers' chunks of the job are refused from now on (their leases are gone).
      services_->blobs->remove_prefix(job_key(lease.job_id));
      wake_.notify_all();
    } else {
      log_warn("job " + lease.job_id + ": chunk lease lost before the job could be failed");
    }
  } catch (const std::exception& e) {
    log_error(std::string("fail_job: ") + e.what());
  }
}

namespace {
std::string rows_text(int64_t first_row, int64_t num_rows) {
  return "rows " + std::to_string(first_row) + "-" + std::to_string(first_row + num_rows - 1);
}
// Why the previous attempts at a step failed, for failure_reason.
std::string attempts_reason(const store::ChunkAttempts& a) {
  return a.last_error.empty()
             ? "the worker stopped while working on them (killed, crashed or stalled past its "
               "lease)"
             : a.last_error;
}
}  // namespace

// The store calls a step makes, for a chunk (under its chunk lease) and for the final step
// (under the job lease): begin_step and step_failed are the same for both.
namespace {
store::ChunkAttempts begin_attempt(store::Store& st, const store::JobLease& l, int64_t step) {
  return st.begin_chunk(l, step);
}
store::ChunkAttempts begin_attempt(store::Store& st, const store::ChunkLease& l, int64_t) {
  return st.begin_chunk(l);
}
int64_t record_failure(store::Store& st, const store::JobLease& l, int64_t step,
                       const std::string& error) {
  return st.record_chunk_failure(l, step, error);
}
int64_t record_failure(store::Store& st, const store::ChunkLease& l, int64_t,
                       const std::string& error) {
  return st.record_chunk_failure(l, error);
}
void give_back(store::Store& st, const store::JobLease& l) {
  st.release_job(l);
}
void give_back(store::Store& st, const store::ChunkLease& l) {
  st.release_chunk(l, true);
}
}  // namespace

template <typename Lease>
bool JobService::begin_step(const Lease& lease, int64_t step, const std::string& what) {
  const int64_t max_attempts = services_->config.max_chunk_attempts;
  store::ChunkAttempts a = begin_attempt(*services_->store, lease, step);
  if (!a.held) {
    ++stats_.leases_lost;
    log_warn("job " + lease.job_id + ": lease lost, leaving it to its new owner");
    return false;
  }
  if (a.previous < max_attempts) return true;
  // A poison chunk: it failed (or took its worker down) max_attempts times. End the job.
  std::string reason =
      what + " failed " + std::to_string(a.previous) + " times: " + attempts_reason(a);
  log_error("job " + lease.job_id + " failed: " + reason);
  fail_job(lease, reason);
  return false;
}

template <typename Lease>
void JobService::step_failed(const Lease& lease, int64_t step, const std::string& what,
                             const std::exception& e) {
  ++stats_.chunk_failures;
  const Error* err = dynamic_cast<const Error*>(&e);
  std::string reason = public_message(e, "working on them in job " + lease.job_id);
  if (err && err->code() != ErrorCode::kInternal && err->code() != ErrorCode::kUnavailable &&
      err->code() != ErrorCode::kResourceExhausted) {
    // About the data (e.g. a text too long with truncate NONE): another try cannot help.
    fail_job(lease, what + ": " + reason);
    return;
  }
  int64_t attempts = record_failure(*services_->store, lease, step, reason);
  if (attempts == 0) return;  // the lease is gone: the new owner decides
  const int64_t max_attempts = services_->config.max_chunk_attempts;
  if (attempts >= max_attempts) {
    std::string full = what + " failed " + std::to_string(attempts) + " times: " + reason;
    log_error("job " + lease.job_id + " failed: " + full);
    fail_job(lease, full);
    return;
  }
  log_warn("job " + lease.job_id + ": " + what + " failed (attempt " + std::to_string(attempts) +
           " of " + std::to_string(max_attempts) + "), retrying: " + reason);
  give_back(*services_->store, lease);
  wake_.notify_all();
}

// The final step's (job_output.cpp) instances.
template bool JobService::begin_step(const store::JobLease&, int64_t, const std::string&);
template void JobService::step_failed(const store::JobLease&, int64_t, const std::string&,
                                      const std::exception&);

// At most every kProgressLogMs per worker thread: "job J: 1500/6000 rows (25.0%), 812 rows/s,
// ETA 5s" (the job's rows done, at this worker's rate since it started).
void JobService::log_progress(const store::JobRow& job, int64_t rows_done, int64_t total_rows,
                              const Progress& progress) {
  const int64_t now = now_ms();
  const double elapsed_s =
      static_cast<double>(std::max<int64_t>(now - progress.start_ms, 1)) / 1000.0;
  const double rate = static_cast<double>(progress.rows) / elapsed_s;
  char line[160];
  std::snprintf(line, sizeof line, "%lld/%lld rows (%.1f%%), %.0f rows/s here, ETA %.0fs",
                static_cast<long long>(rows_done), static_cast<long long>(total_rows),
                total_rows > 0
                    ? 100.0 * static_cast<double>(rows_done) / static_cast<double>(total_rows)
                    : 100.0,
                rate, rate > 0 ? static_cast<double>(total_rows - rows_done) / rate : 0.0);
  log_info("job " + job.id + ": " + line, {{"job_id", job.id}});
}

void JobService::run_claimed_chunk(const store::ChunkClaim& claim, const std::string& worker,
                                   Progress* progress, InputCursor* cursor) {
  const ServiceConfig& cfg = services_->config;
  const store::JobRow& job = claim.job;
  const store::ChunkLease lease = claim.lease(worker);
  const int64_t k = claim.chunk_index;
  const int64_t first_row = k * job.chunk_rows;
  const int64_t expected = std::min(job.chunk_rows, job.total_rows - first_row);
  const std::string what = rows_text(first_row, expected);
  std::optional<store::DatasetRow> input;
  std::unique_ptr<KindRun> run;
  const ServedModel* model = nullptr;
  try {
    input.emplace();
    run = begin_kind_run(job, &*input);
    model = &services_->models->get(job.model);
    // Never mix two models' vectors in one output: a job runs only under the model it began.
    if (!job.model_identity.empty() && job.model_identity != model->identity) {
      throw Error(ErrorCode::kInvalidArgument,
                  "this job was started with model " + job.model + " as " + job.model_identity +
                      ", but the server now serves " + job.model + " as " + model->identity +
                      "; a job cannot continue with a different model (its rows would mix "
                      "embeddings of two models). Serve the original model to rerun it, or "
                      "start a new job");
    }
  } catch (const std::exception& e) {
    const std::string reason = failure_reason(e, job.id, cfg.data_dir);
    log_error("job " + job.id + " failed: " + reason);
    fail_job(lease, reason);
    return;
  }
  if (!begin_step(lease, k, what)) return;
  ChunkOutcome outcome = ChunkOutcome::kCommitted;
  try {
    // This chunk's rows: [first_row, first_row + chunk_rows) of the input.
    if (cursor->rows && cursor->job_id == job.id && cursor->next_row <= first_row) {
      cursor->rows->skip(first_row - cursor->next_row);
    } else {
      cursor->job_id = job.id;
      cursor->rows = std::make_unique<RowStream>(
          services_->blobs, input->info.value("parts", nlohmann::json::array()), first_row);
    }
    cursor->next_row = first_row;
    std::vector<nlohmann::json> chunk;
    nlohmann::json row;
    while (static_cast<int64_t>(chunk.size()) < job.chunk_rows && cursor->rows->next(&row)) {
      chunk.push_back(std::move(row));
    }
    cursor->next_row += static_cast<int64_t>(chunk.size());
    if (static_cast<int64_t>(chunk.size()) != expected) {
      throw Error(ErrorCode::kInternal,
                  what + ": the input has " + std::to_string(chunk.size()) + " of its rows");
    }
    outcome = run_chunk(ChunkPlan{job, lease, *model, *run, first_row}, std::move(chunk));
  } catch (const std::exception& e) {
    cursor->rows.reset();  // read again from the start of the next chunk
    step_failed(lease, k, what, e);
    return;
  }
  switch (outcome) {
    case ChunkOutcome::kLeaseLost:
      return;
    case ChunkOutcome::kStopping:   // shutdown: this attempt does not count
    case ChunkOutcome::kCancelled:  // the final step finishes the job once no chunk is held
      services_->store->release_chunk(lease, false);
      wake_.notify_all();
      return;
    case ChunkOutcome::kCommitted:
      break;
  }
  progress->rows += expected;
  const int64_t now = now_ms();
  // Every kProgressLogMs, and after the job's last chunk (by index: with one worker, its end).
  if (now - progress->last_log_ms >= kProgressLogMs || first_row + expected >= job.total_rows) {
    progress->last_log_ms = now;
    if (std::optional<store::JobRow> fresh = services_->store->get_job(job.id)) {
      log_progress(job, fresh->rows_done, job.total_rows, *progress);
    }
  }
  // The last chunk committed: the job's final step is claimable now.
  if (first_row + expected >= job.total_rows) wake_.notify_all();
}

std::unique_ptr<KindRun> JobService::begin_kind_run(const store::JobRow& job,
                                                    store::DatasetRow* input) {
  std::optional<store::DatasetRow> found = services_->store->get_dataset(job.input_dataset_id);
  if (!found) {
    throw Error(ErrorCode::kNotFound,
                "input dataset " + job.input_dataset_id + " was deleted while the job ran");
  }
  *input = std::move(*found);
  auto kind = kinds_.find(job.kind);
  if (kind == kinds_.end()) {
    throw Error(ErrorCode::kInternal,
                "job has kind '" + job.kind + "', which this server cannot run");
  }
  return kind->second->begin(job, *input);
}

void JobService::run_final_step(const store::JobRow& job, const store::JobLease& lease) {
  if (job.chunk_rows <= 0 && job.total_rows > 0 && job.status == JobStatus::kProcessing) {
    // Made by an embedjobs before chunk leases (no chunk size stored): it cannot be split now.
    throw Error(ErrorCode::kInvalidArgument,
                "this job was started by an older embedjobs (before chunk leases) and cannot be "
                "resumed by this one; start it again");
  }
  store::DatasetRow input;
  std::unique_ptr<KindRun> run = begin_kind_run(job, &input);
  // The output assembly is the step after the last chunk, with its own attempts.
  const JobStatus status =
      job.status == JobStatus::kCancelling ? JobStatus::kCancelled : JobStatus::kComplete;
  finish_with_output(job, lease, status, *run, store::chunk_count(job));
}

JobService::ChunkOutcome JobService::run_chunk(const ChunkPlan& plan,
                                               std::vector<nlohmann::json> chunk) {
  const ServiceConfig& cfg = services_->config;
  const store::JobRow& job = plan.job;
  const store::ChunkLease& lease = plan.lease;
  const int64_t k = lease.chunk_index;
  if (failpoints_enabled()) failpoint("job.chunk." + std::to_string(k));
  // The blob's key carries the lease generation (paths.h chunk_key).
  const std::string rel = chunk_key(job.id, k, lease.generation);
  const std::string staged = services_->blobs->staging_path(rel);
  const int64_t num_rows = static_cast<int64_t>(chunk.size());
  // The chunk goes to the model's scheduler at bulk priority (the kind decides how); while it
  // waits there the lease is renewed, and cancel / shutdown drop its queued work. A chunk that
  // is not written leaves no file behind.
  std::shared_ptr<ChunkRun> task =
      plan.run.start_chunk(plan.model, lease, std::move(chunk), staged);
  track(job.id, task);
  bool lease_lost = false;
  int64_t last_renew_ms = now_ms();
  while (!task->wait_for(std::min<int64_t>(250, cfg.lease_ms / 3))) {
    if (stopping_) task->cancel();
    if (now_ms() - last_renew_ms > cfg.lease_ms / 3) {
      JobStatus st = JobStatus::kProcessing;
      if (!services_->store->renew_chunk_lease(lease, cfg.lease_ms, &st)) {
        lease_lost = true;
        task->cancel();
      } else if (st == JobStatus::kCancelling) {
        task->cancel();
      }
      last_renew_ms = now_ms();
    }
  }
  untrack(job.id, task);
  if (lease_lost) {
    ++stats_.leases_lost;
    log_warn("job " + job.id + ": lease lost mid-chunk");
    return ChunkOutcome::kLeaseLost;
  }
  if (stopping_) return ChunkOutcome::kStopping;  // the next claim redoes the chunk
  if (task->cancelled()) return ChunkOutcome::kCancelled;

  store::ChunkRow c;
  c.chunk_index = k;
  c.first_row = plan.first_row;
  c.num_rows = num_rows;
  c.file = rel;
  task->write(&c);  // rethrows an engine failure; fills tokens and size_bytes
  services_->blobs->put_file(rel, staged);
  failpoint("job.before_commit");
  if (!services_->store->commit_chunk(lease, c)) {
    // Fenced: another worker holds the job now. This blob is ours alone; drop it.
    services_->blobs->remove(rel);
    log_warn("job " + job.id + ": commit of chunk " + std::to_string(k) +
             " refused (lease generation " + std::to_string(lease.generation) +
             " of the chunk is no longer current)");
    ++stats_.leases_lost;
    return ChunkOutcome::kLeaseLost;
  }
  log_info("job " + job.id + ": chunk " + std::to_string(k) + " committed by " + lease.worker +
               " (generation " + std::to_string(lease.generation) + ")",
           {{"job_id", job.id}});
  ++stats_.chunks_committed;
  stats_.rows_committed += c.num_rows;
  stats_.tokens_committed += c.tokens;
  failpoint("job.after_commit");
  return ChunkOutcome::kCommitted;
}

}  // namespace ej::service
