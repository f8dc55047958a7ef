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
#include "store/store.h"

namespace ej::service {

namespace fs = std::filesystem;

namespace {

// Deterministic suffix so that re-assembling after a crash reuses the same dataset id.
std::string output_dataset_id(const store::JobRow& job) {
  std::string h = sha256_hex("output:" + job.id);
  static const char* kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  for (size_t i = 0; i < 6; ++i) {
    suffix.push_back(kAlphabet[std::stoi(h.substr(i * 2, 2), nullptr, 16) % 36]);
  }
  return slugify(job.name.empty() ? job.id : job.name) + "-output-" + suffix;
}

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
    log_info("job " + job->id + ": claimed by " + worker + " (attempt " +
             std::to_string(job->attempts) + ")");
    try {
      run_job(*job, worker);
    } catch (const std::exception& e) {
      std::string reason = public_message(e, "running embed job " + job->id);
      log_error("job " + job->id + " failed: " + reason);
      try {
        if (services_->store->finish_job(job->id, worker, JobStatus::kFailed, std::nullopt,
                                         reason)) {
          // A failed job has no output: its chunk files are garbage (outside any quota).
          std::error_code ec;
          fs::remove_all(job_dir(services_->config.data_dir, job->id), ec);
        }
      } catch (const std::exception& e2) {
        log_error(std::string("finish_job: ") + e2.what());
      }
    }
  }
}

void JobService::run_job(const store::JobRow& job, const std::string& worker) {
  const ServiceConfig& cfg = services_->config;
  if (job.attempts > cfg.max_attempts) {
    throw Error(ErrorCode::kInternal, "job was started " + std::to_string(job.attempts - 1) +
                                          " times without finishing; giving up");
  }
  std::optional<store::DatasetRow> input = services_->store->get_dataset(job.input_dataset_id);
  if (!input) {
    throw Error(ErrorCode::kNotFound,
                "input dataset " + job.input_dataset_id + " was deleted while the job ran");
  }
  nlohmann::json kept = kept_field_entries(input->info.value("schema", std::string("{}")));
  if (job.status == JobStatus::kCancelling) {
    finish_with_output(job, worker, JobStatus::kCancelled, kept);
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
  const engine::ModelInfo& info = model.embedder->info();
  EmbeddingTypes types = parse_embedding_types(nlohmann::json(job.embedding_types), false);
  engine::InputType input_type = parse_input_type(job.input_type);
  engine::Truncate truncate = parse_truncate(job.truncate, false);

  std::set<int64_t> done;
  for (const auto& c : services_->store->list_chunks(job.id)) done.insert(c.chunk_index);
  fs::create_directories(job_dir(cfg.data_dir, job.id));

  RowStream rows(cfg.data_dir, input->info.value("parts", nlohmann::json::array()));
  const int64_t chunk_rows = cfg.chunk_rows;
  int64_t row_index = 0;
  int64_t last_renew_ms = now_ms();
  std::vector<nlohmann::json> chunk;
  bool cancelled = false;

  for (int64_t k = 0; row_index < input->num_rows; ++k) {
    // Gather this chunk's rows (skipped chunks are read and dropped: parts are sequential).
    chunk.clear();
    nlohmann::json row;
    while (static_cast<int64_t>(chunk.size()) < chunk_rows && rows.next(&row)) {
      chunk.push_back(std::move(row));
    }
    if (chunk.empty()) break;
    int64_t first_row = row_index;
    row_index += static_cast<int64_t>(chunk.size());
    if (done.count(k)) continue;

    JobStatus status = JobStatus::kProcessing;
    if (!services_->store->renew_job_lease(job.id, worker, cfg.lease_ms, &status)) {
      log_warn("job " + job.id + ": lease lost, leaving it to its new owner");
      return;
    }
    last_renew_ms = now_ms();
    if (status == JobStatus::kCancelling) {
      cancelled = true;
      break;
    }
    if (stopping_) {
      services_->store->release_job(job.id, worker);
      return;
    }

    std::string rel = "jobs/" + job.id + "/chunk-" + std::to_string(k) + ".avro";
    // Vectors barely compress (~10% with deflate) and deflate dominated the job's CPU time:
    // results are written uncompressed.
    EmbedResultWriter writer(cfg.data_dir + "/" + rel, kept, "null");
    // The whole chunk goes to the model's scheduler at bulk priority; while it waits there the
    // lease is renewed, and cancel / shutdown drop its queued work.
    EmbedRequest request;
    request.input_type = input_type;
    request.truncate = truncate;
    request.owner = job.owner;  // embedding cache entries are per owner
    request.texts.reserve(chunk.size());
    for (const auto& r : chunk) request.texts.push_back(r.at("text").get<std::string>());
    std::shared_ptr<EmbedTask> task = services_->embeddings->submit_bulk(model, request);
    track(job.id, task);
    bool lease_lost = false;
    while (!task->wait_for(std::min<int64_t>(250, cfg.lease_ms / 3))) {
      if (stopping_) task->cancel();
      if (now_ms() - last_renew_ms > cfg.lease_ms / 3) {
        JobStatus st = JobStatus::kProcessing;
        if (!services_->store->renew_job_lease(job.id, worker, cfg.lease_ms, &st)) {
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
      return;
    }
    if (stopping_) {  // shutting down: drop the unfinished chunk, the next run redoes it
      writer.abort();
      services_->store->release_job(job.id, worker);
      return;
    }
    if (task->cancelled()) {
      writer.abort();
      cancelled = true;
      break;
    }
    task->wait();  // rethrows an engine failure
    // The embedding cache keeps what this chunk computed.
    services_->embeddings->remember(model, *task);
    int64_t tokens = 0;
    nlohmann::json kept_values;
    const size_t dims = static_cast<size_t>(info.dims);
    for (size_t i = 0; i < chunk.size(); ++i) {
      std::span<const float> span(task->vectors.data() + i * dims, dims);
      ConvertedEmbedding conv;
      convert_embedding(span, info, types, &conv);
      kept_values = chunk[i];
      kept_values.erase("text");
      EmbedResultRow r;
      r.text = task->texts[i];
      r.dims = info.dims;
      r.float_values = types.float_ ? span.data() : nullptr;
      r.int8_values = types.int8 ? conv.int8.data() : nullptr;
      r.uint8_values = types.uint8 ? conv.uint8.data() : nullptr;
      r.packed_len = (info.dims + 7) / 8;
      r.binary_values = types.binary ? conv.binary.data() : nullptr;
      r.ubinary_values = types.ubinary ? conv.ubinary.data() : nullptr;
      r.kept_fields = &kept_values;
      writer.append_result(r);
      tokens += task->num_tokens[i];
    }
    failpoint("job.before_chunk_close");
    store::ChunkRow c;
    c.chunk_index = k;
    c.first_row = first_row;
    c.num_rows = static_cast<int64_t>(chunk.size());
    c.tokens = tokens;
    c.cached_tokens = task->cached_tokens;
    c.size_bytes = static_cast<int64_t>(writer.close());
    c.file = rel;
    failpoint("job.before_commit");
    if (!services_->store->commit_chunk(job.id, worker, c)) {
      log_warn("job " + job.id + ": lease lost before commit");
      return;
    }
    failpoint("job.after_commit");
  }
  finish_with_output(job, worker, cancelled ? JobStatus::kCancelled : JobStatus::kComplete, kept);
}

void JobService::finish_with_output(const store::JobRow& job, const std::string& worker,
                                    JobStatus status, const nlohmann::json& kept) {
  const ServiceConfig& cfg = services_->config;
  std::vector<store::ChunkRow> chunks = services_->store->list_chunks(job.id);
  // Chunks must be contiguous from row 0 for a complete job; a cancelled job keeps the prefix
  // that is contiguous, so its output is still "the first N rows, in input order".
  std::vector<store::ChunkRow> usable;
  int64_t next_row = 0;
  for (const auto& c : chunks) {
    if (c.first_row != next_row) break;
    usable.push_back(c);
    next_row += c.num_rows;
  }
  if (status == JobStatus::kComplete && next_row != job.total_rows) {
    throw Error(ErrorCode::kInternal, "job output has " + std::to_string(next_row) +
                                          " rows, expected " + std::to_string(job.total_rows));
  }
  store::DatasetRow out;
  out.id = output_dataset_id(job);
  out.owner = job.owner;
  out.name = (job.name.empty() ? job.id : job.name) + "-output";
  out.dataset_type = "embed-result";
  out.status = DatasetStatus::kValidated;
  out.created_us = now_us();
  out.updated_us = out.created_us;
  out.num_rows = next_row;
  std::string dir = dataset_dir(cfg.data_dir, out.id);
  fs::create_directories(dir);
  nlohmann::json parts = nlohmann::json::array();
  std::vector<std::string> group;
  int64_t group_rows = 0;
  int64_t total_bytes = 0;
  auto flush = [&]() {
    if (group.empty()) return;
    int64_t index = static_cast<int64_t>(parts.size());
    std::string name = "part-" + std::to_string(index) + ".avro";
    std::string rel = "datasets/" + out.id + "/" + name;
    int64_t size = concat_avro_files(group, cfg.data_dir + "/" + rel);
    total_bytes += size;
    parts.push_back({{"index", index},
                     {"name", name},
                     {"file", rel},
                     {"size_bytes", size},
                     {"num_rows", group_rows},
                     {"samples", nlohmann::json::array()}});
    group.clear();
    group_rows = 0;
  };
  for (const auto& c : usable) {
    if (group_rows > 0 && group_rows + c.num_rows > cfg.part_max_rows) flush();
    group.push_back(cfg.data_dir + "/" + c.file);
    group_rows += c.num_rows;
  }
  flush();
  if (parts.empty()) {
    // No rows finished (cancelled at once): an empty, valid Avro part keeps readers simple.
    std::string rel = "datasets/" + out.id + "/part-0.avro";
    EmbedResultWriter empty(cfg.data_dir + "/" + rel, kept, "null");
    int64_t size = static_cast<int64_t>(empty.close());
    total_bytes += size;
    parts.push_back({{"index", 0},
                     {"name", "part-0.avro"},
                     {"file", rel},
                     {"size_bytes", size},
                     {"num_rows", 0},
                     {"samples", nlohmann::json::array()}});
  }
  out.size_bytes = total_bytes;
  nlohmann::json preserve = nlohmann::json::array();
  for (const auto& e : kept) preserve.push_back(e.at("name"));
  out.info = {{"schema", embed_result_schema_json(kept)},  {"parts", parts},
              {"required_fields", {"text", "embeddings"}}, {"preserve_fields", preserve},
              {"warnings", nlohmann::json::array()},       {"job_id", job.id}};
  failpoint("job.before_finish");
  if (!services_->store->finish_job(job.id, worker, status, out, "")) {
    log_warn("job " + job.id + ": lease lost before finishing");
    return;
  }
  std::error_code ec;
  fs::remove_all(job_dir(cfg.data_dir, job.id), ec);
  log_info("job " + job.id + ": " + std::string(status_name(status)) + ", " +
           std::to_string(next_row) + " rows -> " + out.id);
}

}  // namespace ej::service
