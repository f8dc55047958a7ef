// Scheduler: where one model's engine batches are formed (one Scheduler per served Embedder).
// Owns the model's queues and ONE thread, the only one that takes work from them: it packs the
// tokenized sequences of many tasks (sync requests, job chunks) into one engine batch of at most
// Embedder::max_batch_tokens() tokens, runs Embedder::embed_tokens() on it while holding the
// engine gate (shared by every scheduler: one batch at a time on the engine's fixed thread
// budget, so busy models never oversubscribe the cores) and writes each vector into its task.
//
// Order: interactive tasks (sync requests) before bulk tasks (job chunks). Interactive tasks go
// by (priority, arrival) and a task's sequences are taken consecutively, so concurrent clients
// take turns instead of all sharing the engine and all finishing late. Bulk work is never
// starved: while it waits, it gets up to bulk_min_share of every batch's tokens, and at least
// one sequence in every kMaxBatchesWithoutBulk-th batch (for sequences longer than that share).
// Admission: interactive tasks are refused (429) when the queued tokens would pass
// max_queued_tokens (a task is always accepted into an empty queue); bulk tasks are not
// refused (the job workers bound them). A cancelled task's queued sequences are dropped.
// submit(), cancel() and stats() are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/embedder.h"

namespace ej::service {

class Scheduler;

enum class Lane { kInteractive, kBulk };

// EmbedTask: one submission (a sync request's texts, a job chunk's rows) and its result. The
// submitter fills the inputs, submits, then waits; the scheduler thread fills `vectors`.
class EmbedTask {
 public:
  Lane lane = Lane::kInteractive;
  int priority = 0;                            // interactive: 0 = most urgent .. 999
  std::vector<std::string> texts;              // owned: the lexical model reads words from them
  std::vector<engine::TokenizedInput> inputs;  // one per text
  std::vector<float> vectors;                  // texts.size() * dims once done
  // Embedding cache hits (filled by EmbeddingService before submit): precomputed[i] = 1 when
  // text i's vector is already in `vectors`; the scheduler skips it (its `inputs[i]` is empty).
  // Empty = nothing precomputed. cache_keys: each text's cache digest, empty when the task
  // is not cached (the scheduler does not read them).
  std::vector<uint8_t> precomputed;
  std::vector<std::string> cache_keys;
  // Tokens per text, special tokens included: set by submit() from `inputs` for the texts it
  // embeds; a precomputed text's count comes with it (as when it was computed).
  std::vector<int> num_tokens;
  int64_t cached_tokens = 0;  // sum of num_tokens over the precomputed texts

  bool is_precomputed(size_t i) const { return i < precomputed.size() && precomputed[i] != 0; }
  int64_t tokens() const;  // sum of input lengths of the texts to embed
  // Drops the task's queued sequences; wait() then throws ej::Error(kClientClosed).
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Waits until every vector is written (or the task failed / was cancelled) or `timeout_ms`
  // passed; true when finished. wait() rethrows the failure.
  bool wait_for(int64_t timeout_ms);
  void wait();

 private:
  friend class Scheduler;
  void finish(std::exception_ptr error);  // idempotent

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::exception_ptr error_;
  std::atomic<bool> cancelled_{false};
  // Guarded by the scheduler's mutex:
  Scheduler* scheduler_ = nullptr;
  size_t next_ = 0;     // first sequence not yet taken into a batch
  int64_t queued_ = 0;  // tokens not yet taken into a batch
  size_t done_ = 0;     // vectors written (scheduler thread only)
  uint64_t arrival_ = 0;
};

struct SchedulerOptions {
  int64_t max_queued_tokens = 256 * 1024;  // interactive admission limit (tokens waiting)
  double bulk_min_share = 0.25;            // of each batch's tokens, for bulk work while it waits
};

struct SchedulerStats {
  int64_t queued_tokens = 0;  // interactive + bulk, not yet in a batch
  int64_t batches = 0;
  int64_t sequences = 0;
  int64_t tokens = 0;     // tokens embedded
  int64_t engine_us = 0;  // time inside embed_tokens()
  int64_t rejected = 0;   // interactive tasks refused by admission
  // Cancelled tasks (client gone, job cancelled, shutdown) and their sequences dropped from the
  // queues before they reached the engine.
  int64_t cancelled = 0;
  int64_t dropped_sequences = 0;
};

class Scheduler {
 public:
  Scheduler(std::shared_ptr<engine::Embedder> embedder, std::mutex* engine_gate,
            SchedulerOptions options);
  ~Scheduler();  // stops the thread; queued tasks fail with kUnavailable
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a tokenized task (inputs filled, one per text; precomputed texts are skipped, and a
  // task with nothing left to embed finishes at once). Throws ej::Error(kResourceExhausted) when an
  // interactive task does not fit under max_queued_tokens.
  void submit(const std::shared_ptr<EmbedTask>& task);
  SchedulerStats stats() const;
  const engine::Embedder& embedder() const { return *embedder_; }

 private:
  friend class EmbedTask;
  struct Pick {
    std::shared_ptr<EmbedTask> task;
    size_t index;
  };
  void cancel(EmbedTask* task);
  void loop();
  static constexpr int kMaxBatchesWithoutBulk = 4;
  // Takes the task's next sequences into *picks while the batch stays under `limit` tokens
  // (with force_first, the batch's first sequence always fits); true when none is left.
  // Caller holds mu_.
  bool take(const std::shared_ptr<EmbedTask>& task, int64_t limit, bool force_first,
            std::vector<Pick>* picks, int64_t* batch_tokens);
  void run_batch(std::vector<Pick>& picks);

  std::shared_ptr<engine::Embedder> embedder_;
  std::mutex* engine_gate_;
  SchedulerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t next_arrival_ = 0;
  // Interactive work by (priority, arrival); bulk work by arrival.
  std::map<std::pair<int, uint64_t>, std::shared_ptr<EmbedTask>> interactive_;
  std::deque<std::shared_ptr<EmbedTask>> bulk_;
  int64_t queued_interactive_ = 0, queued_bulk_ = 0;
  int batches_without_bulk_ = 0;  // consecutive batches that left waiting bulk work out
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace ej::service
