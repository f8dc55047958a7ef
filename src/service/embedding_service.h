// EmbeddingService: the one way into the models for everything that embeds or tokenizes (sync
// endpoints, embed jobs). Owns one Scheduler per served Embedder (models served under several
// names share it), the engine gate those schedulers share, and a small pool of tokenizer
// threads, so that tokenization runs neither on HTTP threads nor on the scheduler threads.
//
// Threads: embed() / tokenize() / detokenize() are called from HTTP handler threads, which
// block until the result is there; interactive requests are tokenized on the pool, then
// admitted by the model's scheduler (429 when too many tokens are queued). submit_bulk() is
// called by job workers: it tokenizes on the calling (job) thread and queues the chunk at bulk
// priority; the job waits on, and may cancel, the returned task. Thread-safe.
//
// Embedding cache (optional, EmbeddingServiceOptions::cache): embed() and submit_bulk() look
// every text up before anything is tokenized or queued; hits are precomputed sequences of the
// task (the scheduler skips them) and count as cached tokens. embed() stores what it computed;
// a bulk caller calls remember() once its task finished. Vectors are cached at the model's own
// dimensions (output_dimension cuts are applied after, by the caller), under the request's
// owner: a request without an owner is not cached.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/embedder.h"
#include "service/embedding_cache.h"
#include "service/model_registry.h"
#include "service/scheduler.h"

namespace ej::service {

struct EmbeddingServiceOptions {
  int tokenizer_threads = 2;
  SchedulerOptions scheduler;
  EmbeddingCache* cache = nullptr;  // optional (--cache-mb 0: none); must outlive the service
};

struct EmbedRequest {
  std::vector<std::string> texts;
  engine::InputType input_type = engine::InputType::kSearchDocument;
  engine::Truncate truncate = engine::Truncate::kEnd;
  int max_tokens = 0;  // per-input cap, 0 = the model's context
  int priority = 0;    // 0 (most urgent) .. 999
  std::string owner;   // whose cache entries these texts are; empty = not cached
};

struct EmbedResult {
  std::vector<float> vectors;   // texts.size() * dims
  std::vector<int> num_tokens;  // per text, special tokens included
  int64_t total_tokens = 0;
  int64_t cached_tokens = 0;  // of total_tokens, served from the embedding cache
};

class EmbeddingService {
 public:
  EmbeddingService(const ModelRegistry* models, EmbeddingServiceOptions options);
  ~EmbeddingService();  // call after the HTTP server and the job workers stopped
  EmbeddingService(const EmbeddingService&) = delete;
  EmbeddingService& operator=(const EmbeddingService&) = delete;

  // Sync embedding at interactive priority; blocks the caller. Throws 400 for an input the
  // model refuses (too long with truncate NONE), 429 when the model's queue is full.
  // client_gone (optional) is polled every kClientPollMs while the request waits: when it says
  // true, the request's queued work is dropped and embed() throws ej::Error(kClientClosed).
  // (The HTTP front passes it where it can tell that the connection closed.)
  static constexpr int64_t kClientPollMs = 20;
  EmbedResult embed(const ServedModel& model, EmbedRequest request,
                    const std::function<bool()>& client_gone = {});

  // Job chunks: looks the texts up in the cache, tokenizes the others here (the caller's
  // thread), queues them at bulk priority and returns the task to wait on (EmbedTask::wait /
  // wait_for) or cancel. Its num_tokens / cached_tokens say what each text cost.
  std::shared_ptr<EmbedTask> submit_bulk(const ServedModel& model, const EmbedRequest& request);
  // Stores the vectors `task` computed (not its cache hits) in the cache; call after
  // task.wait() returned. A no-op without a cache or for a task that was not looked up.
  void remember(const ServedModel& model, const EmbedTask& task);

  engine::TextTokens tokenize(const ServedModel& model, std::string text);
  std::string detokenize(const ServedModel& model, std::vector<int32_t> ids);

  SchedulerStats stats(const ServedModel& model) const;

 private:
  Scheduler& scheduler_for(const ServedModel& model) const;
  // Cache lookup: fills task->cache_keys, and for hits precomputed / vectors / num_tokens.
  void look_up_cached(const ServedModel& model, const EmbedRequest& request, EmbedTask* task);
  // Runs fn on a tokenizer thread and waits for it; rethrows what fn threw.
  void on_tokenizer_thread(const std::function<void()>& fn);
  void tokenizer_loop();

  EmbeddingServiceOptions options_;
  std::mutex engine_gate_;  // one engine batch at a time, across models
  std::map<const engine::Embedder*, std::unique_ptr<Scheduler>> schedulers_;  // fixed at start

  std::mutex pool_mu_;
  std::condition_variable pool_wake_;
  std::deque<std::function<void()>> pool_queue_;
  bool pool_stopping_ = false;
  std::vector<std::thread> pool_;
};

}  // namespace ej::service
