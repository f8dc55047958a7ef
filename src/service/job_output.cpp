// JobService, the end of a run: the output assembly (the committed chunk files concatenated
// into the parts of the output dataset, inserted with the job's final status; the job's kind
// (job_kind.h) names the dataset and gives its schema). Chunks and parts are blobs
// (blob_store.h): a part is written at its staging path and then published. Split from
// job_service.cpp (the runner); same class, same threads (a job worker).
#include "common/clock.h"
#include "common/error.h"
#include "common/failpoint.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/avro_concat.h"
#include "service/avro_parts.h"
#include "service/blob_store.h"
#include "service/job_kind.h"
#include "service/job_service.h"
#include "service/paths.h"
#include "store/store.h"

namespace ej::service {

void JobService::finish_with_output(const store::JobRow& job, const store::JobLease& lease,
                                    JobStatus status, KindRun& run, int64_t assembly_step) {
  const std::string what = "assembling the output";
  if (!begin_step(lease, assembly_step, what)) return;
  try {
    assemble_output(job, lease, status, run);
  } catch (const std::exception& e) {
    step_failed(lease, assembly_step, what, e);
  }
}

void JobService::assemble_output(const store::JobRow& job, const store::JobLease& lease,
                                 JobStatus status, KindRun& run) {
  const ServiceConfig& cfg = services_->config;
  BlobStore& blobs = *services_->blobs;
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
  run.describe_output(&out, status, next_row);
  out.owner = job.owner;
  out.status = DatasetStatus::kValidated;
  out.created_us = now_us();
  out.updated_us = out.created_us;
  out.num_rows = next_row;
  nlohmann::json parts = nlohmann::json::array();
  std::vector<std::string> group;
  int64_t group_rows = 0;
  int64_t total_bytes = 0;
  auto flush = [&]() {
    if (group.empty()) return;
    int64_t index = static_cast<int64_t>(parts.size());
    std::string name = "part-" + std::to_string(index) + ".avro";
    std::string rel = dataset_key(out.id) + "/" + name;
    const std::string staged = blobs.staging_path(rel);
    int64_t size = concat_avro_files(blobs, group, staged);
    blobs.put_file(rel, staged);
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
    group.push_back(c.file);
    group_rows += c.num_rows;
  }
  flush();
  if (parts.empty()) {
    // No rows finished (cancelled at once): an empty, valid Avro part keeps readers simple.
    std::string rel = dataset_key(out.id) + "/part-0.avro";
    const std::string staged = blobs.staging_path(rel);
    int64_t size = run.write_empty_part(staged);
    blobs.put_file(rel, staged);
    total_bytes += size;
    parts.push_back({{"index", 0},
                     {"name", "part-0.avro"},
                     {"file", rel},
                     {"size_bytes", size},
                     {"num_rows", 0},
                     {"samples", nlohmann::json::array()}});
  }
  out.size_bytes = total_bytes;
  out.info["parts"] = parts;
  failpoint("job.before_finish");
  if (!services_->store->finish_job(lease, status, out, "")) {
    log_warn("job " + job.id + ": lease lost before finishing");
    ++stats_.leases_lost;
    return;
  }
  ++(status == JobStatus::kCancelled ? stats_.jobs_cancelled : stats_.jobs_complete);
  blobs.remove_prefix(job_key(job.id));
  log_info("job " + job.id + ": " + std::string(status_name(status)) + ", " +
           std::to_string(next_row) + " rows -> " + out.id);
}

}  // namespace ej::service
