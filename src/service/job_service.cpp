#include "service/job_service.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>

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

// Streams the rows of a dataset's parts (blobs) in order.
class RowStream {
 public:
  RowStream(BlobStore* blobs, const nlohmann::json& parts) : blobs_(blobs) {
    for (const auto& p : parts) files_.push_back(p.at("file").get<std::string>());
  }
  bool next(nlohmann::json* row) {
    while (true) {
      if (!reader_) {
        if (next_file_ >= files_.size()) return false;
        const std::string& key = files_[next_file_++];
        reader_ = std::make_unique<AvroPartReader>(blobs_->must_open(key), key);
      }
      if (reader_->next(row)) return true;
      reader_.reset();
    }
  }

 private:
  BlobStore* blobs_;
  std::vector<std::string> files_;
  size_t next_file_ = 0;
  std::unique_ptr<AvroPartReader> reader_;
};

}  // namespace

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
  std::shared_ptr<ChunkRun> task;
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    if (auto it = tasks_.find(job_id); it != tasks_.end()) task = it->second;
  }
  if (task) task->cancel();  // the runner sees it and finishes the job as cancelled
  wake_.notify_all();
}

void JobService::wake() {
  wake_.notify_all();
}

void JobService::track(const std::string& job_id, std::shared_ptr<ChunkRun> task) {
  std::lock_guard<std::mutex> lock(tasks_mu_);
  if (task) {
    tasks_[job_id] = std::move(task);
  } else {
    tasks_.erase(job_id);
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

void JobService::worker_loop(int index) {
  std::string worker = services_->config.worker_id + "/job-" + std::to_string(index);
  while (!stopping_) {
    std::optional<store::JobRow> job;
    try {
      job = services_->store->claim_job(worker, services_->config.lease_ms);
    } catch (const std::exception& e) {
      log_error(std::string("claim_job: ") + e.what());
    }
    if (!job) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(250));
      continue;
    }
    const store::JobLease lease{job->id, worker, job->lease_generation};
    log_info("job " + job->id + ": claimed by " + worker + " (attempt " +
             std::to_string(job->attempts) + ", lease generation " +
             std::to_string(job->lease_generation) + ")");
    struct Running {  // counts the job as running while this worker holds it
      std::atomic<int64_t>& n;
      explicit Running(std::atomic<int64_t>& count) : n(count) { ++n; }
      ~Running() { --n; }
    } running(stats_.running);
    try {
      run_job(*job, lease);
    } catch (const std::exception& e) {
      std::string reason = public_message(e, "running embed job " + job->id);
      // A full or read-only data dir: say so (the store is left consistent; start a new job).
      if (const char* full = storage_problem(e.what(), services_->config.data_dir)) {
        log_error("job " + job->id + ": " + e.what());
        reason = storage_message(full, "writing the job's output");
      }
      log_error("job " + job->id + " failed: " + reason);
      fail_job(lease, reason);
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

bool JobService::begin_step(const store::JobLease& lease, int64_t step, const std::string& what) {
  const int64_t max_attempts = services_->config.max_chunk_attempts;
  store::ChunkAttempts a = services_->store->begin_chunk(lease, step);
  if (!a.held) {
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

void JobService::step_failed(const store::JobLease& lease, int64_t step, const std::string& what,
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
  int64_t attempts = services_->store->record_chunk_failure(lease, step, reason);
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
  services_->store->release_job(lease);
  wake_.notify_all();
}

// At most every kProgressLogMs: "job J: 1500/6000 rows (25.0%), 812 rows/s, ETA 5s" (the rate of
// this run, which resumed where an earlier one stopped).
void JobService::log_progress(const store::JobRow& job, int64_t rows_done, int64_t total_rows,
                              int64_t rows_this_run, int64_t run_start_ms, int64_t* last_log_ms) {
  const int64_t now = now_ms();
  if (rows_done < total_rows && now - *last_log_ms < kProgressLogMs) return;
  *last_log_ms = now;
  const double elapsed_s = static_cast<double>(std::max<int64_t>(now - run_start_ms, 1)) / 1000.0;
  const double rate = static_cast<double>(rows_this_run) / elapsed_s;
  char line[160];
  std::snprintf(line, sizeof line, "%lld/%lld rows (%.1f%%), %.0f rows/s, ETA %.0fs",
                static_cast<long long>(rows_done), static_cast<long long>(total_rows),
                total_rows > 0
                    ? 100.0 * static_cast<double>(rows_done) / static_cast<double>(total_rows)
                    : 100.0,
                rate, rate > 0 ? static_cast<double>(total_rows - rows_done) / rate : 0.0);
  log_info("job " + job.id + ": " + line, {{"job_id", job.id}});
}

void JobService::run_job(const store::JobRow& job, const store::JobLease& lease) {
  const ServiceConfig& cfg = services_->config;
  std::optional<store::DatasetRow> input = services_->store->get_dataset(job.input_dataset_id);
  if (!input) {
    throw Error(ErrorCode::kNotFound,
                "input dataset " + job.input_dataset_id + " was deleted while the job ran");
  }
  auto kind = kinds_.find(job.kind);
  if (kind == kinds_.end()) {
    throw Error(ErrorCode::kInternal,
                "job has kind '" + job.kind + "', which this server cannot run");
  }
  std::unique_ptr<KindRun> run = kind->second->begin(job, *input);
  const int64_t chunk_rows = cfg.chunk_rows;
  // The output assembly is the step after the last chunk, with its own attempts.
  const int64_t assembly_step = (input->num_rows + chunk_rows - 1) / chunk_rows;
  if (job.status == JobStatus::kCancelling) {
    finish_with_output(job, lease, JobStatus::kCancelled, *run, assembly_step);
    return;
  }
  const ServedModel& model = services_->models->get(job.model);
  // Never mix two models' vectors in one output: a job resumes only under the model it began.
  if (!job.model_identity.empty() && job.model_identity != model.identity) {
    throw Error(ErrorCode::kInvalidArgument,
                "this job was started with model " + job.model + " as " + job.model_identity +
                    ", but the server now serves " + job.model + " as " + model.identity +
                    "; a job cannot continue with a different model (its rows would mix "
                    "embeddings of two models). Serve the original model to rerun it, or "
                    "start a new job");
  }
  ChunkPlan plan{job, lease, model, *run, 0, 0};

  std::set<int64_t> done;
  for (const auto& c : services_->store->list_chunks(job.id)) done.insert(c.chunk_index);
  RowStream rows(services_->blobs, input->info.value("parts", nlohmann::json::array()));
  int64_t row_index = 0;
  std::vector<nlohmann::json> chunk;
  bool cancelled = false;
  const int64_t run_start_ms = now_ms();
  int64_t last_log_ms = 0, rows_this_run = 0;

  for (int64_t k = 0; row_index < input->num_rows; ++k) {
    const int64_t first_row = row_index;
    const int64_t expected = std::min(chunk_rows, input->num_rows - first_row);
    const std::string what = rows_text(first_row, expected);
    const bool todo = done.count(k) == 0;
    if (todo) {
      JobStatus status = JobStatus::kProcessing;
      if (!services_->store->renew_job_lease(lease, cfg.lease_ms, &status)) {
        ++stats_.leases_lost;
        log_warn("job " + job.id + ": lease lost, leaving it to its new owner");
        return;
      }
      if (status == JobStatus::kCancelling) {
        cancelled = true;
        break;
      }
      if (stopping_) {
        services_->store->release_job(lease);
        return;
      }
      if (!begin_step(lease, k, what)) return;
    }
    ChunkOutcome outcome = ChunkOutcome::kCommitted;
    try {
      // Gather this chunk's rows (skipped chunks are read and dropped: parts are sequential).
      chunk.clear();
      nlohmann::json row;
      while (static_cast<int64_t>(chunk.size()) < chunk_rows && rows.next(&row)) {
        chunk.push_back(std::move(row));
      }
      if (chunk.empty()) break;
      row_index += static_cast<int64_t>(chunk.size());
      if (!todo) continue;
      plan.chunk_index = k;
      plan.first_row = first_row;
      outcome = run_chunk(plan, std::move(chunk));
    } catch (const std::exception& e) {
      if (!todo) throw;  // reading rows another run already committed: not this chunk's fault
      step_failed(lease, k, what, e);
      return;
    }
    if (outcome == ChunkOutcome::kLeaseLost) return;
    if (outcome == ChunkOutcome::kStopping) {  // shutdown: this attempt does not count
      services_->store->release_job(lease, k);
      return;
    }
    if (outcome == ChunkOutcome::kCancelled) {
      cancelled = true;
      break;
    }
    rows_this_run += static_cast<int64_t>(expected);
    log_progress(job, row_index, input->num_rows, rows_this_run, run_start_ms, &last_log_ms);
  }
  finish_with_output(job, lease, cancelled ? JobStatus::kCancelled : JobStatus::kComplete, *run,
                     assembly_step);
}

JobService::ChunkOutcome JobService::run_chunk(const ChunkPlan& plan,
                                               std::vector<nlohmann::json> chunk) {
  const ServiceConfig& cfg = services_->config;
  const store::JobRow& job = plan.job;
  const store::JobLease& lease = plan.lease;
  const int64_t k = plan.chunk_index;
  if (failpoints_enabled()) failpoint("job.chunk." + std::to_string(k));
  // The blob's key carries the lease generation (paths.h chunk_key).
  const std::string rel = chunk_key(job.id, k, lease.generation);
  const std::string staged = services_->blobs->staging_path(rel);
  const int64_t num_rows = static_cast<int64_t>(chunk.size());
  // The chunk goes to the model's scheduler at bulk priority (the kind decides how); while it
  // waits there the lease is renewed, and cancel / shutdown drop its queued work. A chunk that
  // is not written leaves no file behind.
  std::shared_ptr<ChunkRun> task =
      plan.run.start_chunk(plan.model, lease, k, std::move(chunk), staged);
  track(job.id, task);
  bool lease_lost = false;
  int64_t last_renew_ms = now_ms();
  while (!task->wait_for(std::min<int64_t>(250, cfg.lease_ms / 3))) {
    if (stopping_) task->cancel();
    if (now_ms() - last_renew_ms > cfg.lease_ms / 3) {
      JobStatus st = JobStatus::kProcessing;
      if (!services_->store->renew_job_lease(lease, cfg.lease_ms, &st)) {
        lease_lost = true;
        task->cancel();
      } else if (st == JobStatus::kCancelling) {
        task->cancel();
      }
      last_renew_ms = now_ms();
    }
  }
  track(job.id, nullptr);
  if (lease_lost) {
    ++stats_.leases_lost;
    log_warn("job " + job.id + ": lease lost mid-chunk");
    return ChunkOutcome::kLeaseLost;
  }
  if (stopping_) return ChunkOutcome::kStopping;  // the next run redoes the chunk
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
             " is no longer current)");
    ++stats_.leases_lost;
    return ChunkOutcome::kLeaseLost;
  }
  ++stats_.chunks_committed;
  stats_.rows_committed += c.num_rows;
  stats_.tokens_committed += c.tokens;
  failpoint("job.after_commit");
  return ChunkOutcome::kCommitted;
}

}  // namespace ej::service
