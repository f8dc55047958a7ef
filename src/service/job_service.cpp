#include "service/job_service.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "common/clock.h"
#include "common/error.h"
#include "common/failpoint.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/avro_concat.h"
#include "service/avro_parts.h"
#include "service/embedding_service.h"
#include "service/embedding_types.h"
#include "service/paths.h"
#include "service/storage_error.h"
#include "store/store.h"

namespace ej::service {

namespace fs = std::filesystem;

namespace {

// Streams the rows of a dataset's parts in order.
class RowStream {
 public:
  RowStream(std::string data_dir, const nlohmann::json& parts) : data_dir_(std::move(data_dir)) {
    for (const auto& p : parts) files_.push_back(p.at("file").get<std::string>());
  }
  bool next(nlohmann::json* row) {
    while (true) {
      if (!reader_) {
        if (next_file_ >= files_.size()) return false;
        reader_ = std::make_unique<AvroPartReader>(data_dir_ + "/" + files_[next_file_++]);
      }
      if (reader_->next(row)) return true;
      reader_.reset();
    }
  }

 private:
  std::string data_dir_;
  std::vector<std::string> files_;
  size_t next_file_ = 0;
  std::unique_ptr<AvroPartReader> reader_;
};

}  // namespace

JobService::JobService(Services* services) : services_(services) {}

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
  if (!job || job->owner != owner) throw_not_found("embed job with id " + job_id + " not found");
  return *job;
}

std::vector<Job> JobService::list(const std::string& owner) {
  std::vector<Job> out;
  for (const auto& row : services_->store->list_jobs(owner)) out.push_back(row);
  return out;
}

void JobService::cancel(const std::string& owner, const std::string& job_id) {
  get(owner, job_id);
  services_->store->request_cancel(job_id);
  std::shared_ptr<EmbedTask> task;
  {
    std::lock_guard<std::mutex> lock(tasks_mu_);
    if (auto it = tasks_.find(job_id); it != tasks_.end()) task = it->second;
  }
  if (task) task->cancel();  // the runner sees it and finishes the job as cancelled
  wake_.notify_all();
}

void JobService::track(const std::string& job_id, std::shared_ptr<EmbedTask> task) {
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
      // A failed job has no output: its chunk files are garbage (outside any quota).
      std::error_code ec;
      fs::remove_all(job_dir(services_->config.data_dir, lease.job_id), ec);
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

void JobService::run_job(const store::JobRow& job, const store::JobLease& lease) {
  const ServiceConfig& cfg = services_->config;
  std::optional<store::DatasetRow> input = services_->store->get_dataset(job.input_dataset_id);
  if (!input) {
    throw Error(ErrorCode::kNotFound,
                "input dataset " + job.input_dataset_id + " was deleted while the job ran");
  }
  nlohmann::json kept = kept_field_entries(input->info.value("schema", std::string("{}")));
  const int64_t chunk_rows = cfg.chunk_rows;
  // The output assembly is the step after the last chunk, with its own attempts.
  const int64_t assembly_step = (input->num_rows + chunk_rows - 1) / chunk_rows;
  if (job.status == JobStatus::kCancelling) {
    finish_with_output(job, lease, JobStatus::kCancelled, kept, assembly_step);
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
  ChunkPlan plan{job, lease, model, kept, {}, 0, 0};
  plan.types = parse_embedding_types(nlohmann::json(job.embedding_types), false);

  std::set<int64_t> done;
  for (const auto& c : services_->store->list_chunks(job.id)) done.insert(c.chunk_index);
  fs::create_directories(job_dir(cfg.data_dir, job.id));

  RowStream rows(cfg.data_dir, input->info.value("parts", nlohmann::json::array()));
  int64_t row_index = 0;
  std::vector<nlohmann::json> chunk;
  bool cancelled = false;

  for (int64_t k = 0; row_index < input->num_rows; ++k) {
    const int64_t first_row = row_index;
    const int64_t expected = std::min(chunk_rows, input->num_rows - first_row);
    const std::string what = rows_text(first_row, expected);
    const bool todo = done.count(k) == 0;
    if (todo) {
      JobStatus status = JobStatus::kProcessing;
      if (!services_->store->renew_job_lease(lease, cfg.lease_ms, &status)) {
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
      outcome = run_chunk(plan, chunk);
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
  }
  finish_with_output(job, lease, cancelled ? JobStatus::kCancelled : JobStatus::kComplete, kept,
                     assembly_step);
}

JobService::ChunkOutcome JobService::run_chunk(const ChunkPlan& plan,
                                               const std::vector<nlohmann::json>& chunk) {
  const ServiceConfig& cfg = services_->config;
  const store::JobRow& job = plan.job;
  const store::JobLease& lease = plan.lease;
  const int64_t k = plan.chunk_index;
  if (failpoints_enabled()) failpoint("job.chunk." + std::to_string(k));
  const engine::ModelInfo& info = plan.model.embedder->info();
  // The file carries the lease generation: a stalled worker that wakes up after another took
  // the job over writes its own file, never the one the new owner committed.
  std::string rel = "jobs/" + job.id + "/chunk-" + std::to_string(k) + "-g" +
                    std::to_string(lease.generation) + ".avro";
  // Vectors barely compress (~10% with deflate) and deflate dominated the job's CPU time:
  // results are written uncompressed.
  EmbedResultWriter writer(cfg.data_dir + "/" + rel, plan.kept, "null");
  // The whole chunk goes to the model's scheduler at bulk priority; while it waits there the
  // lease is renewed, and cancel / shutdown drop its queued work.
  EmbedRequest request;
  request.input_type = parse_input_type(job.input_type);
  request.truncate = parse_truncate(job.truncate, false);
  request.owner = job.owner;  // embedding cache entries are per owner
  request.texts.reserve(chunk.size());
  for (const auto& r : chunk) request.texts.push_back(r.at("text").get<std::string>());
  std::shared_ptr<EmbedTask> task = services_->embeddings->submit_bulk(plan.model, request);
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
    writer.abort();
    log_warn("job " + job.id + ": lease lost mid-chunk");
    return ChunkOutcome::kLeaseLost;
  }
  if (stopping_) {  // shutting down: drop the unfinished chunk, the next run redoes it
    writer.abort();
    return ChunkOutcome::kStopping;
  }
  if (task->cancelled()) {
    writer.abort();
    return ChunkOutcome::kCancelled;
  }
  task->wait();  // rethrows an engine failure
  // The embedding cache keeps what this chunk computed.
  services_->embeddings->remember(plan.model, *task);
  int64_t tokens = 0;
  nlohmann::json kept_values;
  const size_t dims = static_cast<size_t>(info.dims);
  for (size_t i = 0; i < chunk.size(); ++i) {
    std::span<const float> span(task->vectors.data() + i * dims, dims);
    ConvertedEmbedding conv;
    convert_embedding(span, info, plan.types, &conv);
    kept_values = chunk[i];
    kept_values.erase("text");
    EmbedResultRow r;
    r.text = task->texts[i];
    r.dims = info.dims;
    r.float_values = plan.types.float_ ? span.data() : nullptr;
    r.int8_values = plan.types.int8 ? conv.int8.data() : nullptr;
    r.uint8_values = plan.types.uint8 ? conv.uint8.data() : nullptr;
    r.packed_len = (info.dims + 7) / 8;
    r.binary_values = plan.types.binary ? conv.binary.data() : nullptr;
    r.ubinary_values = plan.types.ubinary ? conv.ubinary.data() : nullptr;
    r.kept_fields = &kept_values;
    writer.append_result(r);
    tokens += task->num_tokens[i];  // cache hits have no tokenized inputs
  }
  failpoint("job.before_chunk_close");
  store::ChunkRow c;
  c.chunk_index = k;
  c.first_row = plan.first_row;
  c.num_rows = static_cast<int64_t>(chunk.size());
  c.tokens = tokens;
  c.cached_tokens = task->cached_tokens;
  c.size_bytes = static_cast<int64_t>(writer.close());
  c.file = rel;
  failpoint("job.before_commit");
  if (!services_->store->commit_chunk(lease, c)) {
    // Fenced: another worker holds the job now. This file is ours alone; drop it.
    std::error_code ec;
    fs::remove(cfg.data_dir + "/" + rel, ec);
    log_warn("job " + job.id + ": commit of chunk " + std::to_string(k) +
             " refused (lease generation " + std::to_string(lease.generation) +
             " is no longer current)");
    return ChunkOutcome::kLeaseLost;
  }
  failpoint("job.after_commit");
  return ChunkOutcome::kCommitted;
}

}  // namespace ej::service
