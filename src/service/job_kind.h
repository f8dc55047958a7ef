// JobKind: what the job runner (JobService) does with the input of one kind of job, chunk by
// chunk, and what output dataset it makes. The runner owns everything around a chunk: claiming,
// the lease, cancel and shutdown, the durable chunk commit, resume after a crash, the output's
// parts (committed chunk files concatenated in input order) and the final transaction; a kind
// owns what a chunk's rows become (how they are embedded and written to the chunk file) and the
// output dataset's identity and schema. Kinds: "embed" (embed jobs, embed_job_kind.h) and
// "batch" (/v2/batches, batch_job_kind.h); JobRecord::kind picks one.
//
// Threads: a JobKind is shared by every job worker (const, thread-safe); a KindRun and its
// ChunkRuns belong to the worker running that job, except ChunkRun::cancel, which job cancel
// calls from an HTTP thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/model_registry.h"
#include "store/store.h"

namespace ej::service {

// One chunk on its way through the model's scheduler.
class ChunkRun {
 public:
  virtual ~ChunkRun() = default;  // an unwritten chunk leaves no file behind
  // True once every embedding of the chunk is done (or failed, or was cancelled); waits at most
  // timeout_ms.
  virtual bool wait_for(int64_t timeout_ms) = 0;
  // Drops the chunk's queued work; cancelled() then says true. Thread-safe.
  virtual void cancel() = 0;
  virtual bool cancelled() const = 0;
  // After wait_for said true and not cancelled: writes the chunk file durably and fills
  // chunk->tokens and chunk->size_bytes. Throws what fails the whole job (an engine failure).
  virtual void write(store::ChunkRow* chunk) = 0;
};

// One job's kind-specific state on one worker: begun for each chunk a worker claims, and for
// the job's final step (cheap: no I/O).
class KindRun {
 public:
  virtual ~KindRun() = default;
  // Starts embedding chunk `lease.chunk_index` (its input rows, in order) with `model`; the
  // chunk file goes to `path`. Any store write the chunk makes is fenced by `lease` (the chunk's
  // claim).
  virtual std::unique_ptr<ChunkRun> start_chunk(const ServedModel& model,
                                                const store::ChunkLease& lease,
                                                std::vector<nlohmann::json> rows,
                                                const std::string& path) = 0;
  // The output dataset's id, name, dataset_type and info (schema, required_fields,
  // preserve_fields, warnings, ...) for a job ending as `status` with the first `rows` rows
  // done; the runner adds parts, sizes, rows and the dataset status.
  virtual void describe_output(store::DatasetRow* out, JobStatus status, int64_t rows) = 0;
  // Writes a valid Avro part with no records at `path` (an output with no rows); its size.
  virtual int64_t write_empty_part(const std::string& path) = 0;
};

class JobKind {
 public:
  virtual ~JobKind() = default;
  virtual std::string_view name() const = 0;  // JobRecord::kind
  // A run of `job` over its input dataset.
  virtual std::unique_ptr<KindRun> begin(const store::JobRow& job,
                                         const store::DatasetRow& input) const = 0;
};

}  // namespace ej::service
