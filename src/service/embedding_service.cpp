#include "service/embedding_service.h"

#include <future>

#include "common/error.h"

namespace ej::service {

namespace {

void tokenize_all(const engine::Embedder& embedder, const EmbedRequest& r, EmbedTask* task) {
  task->inputs.resize(r.texts.size());
  for (size_t i = 0; i < r.texts.size(); ++i) {
    if (task->is_precomputed(i)) continue;
    task->inputs[i] = embedder.tokenize_for(r.texts[i], r.input_type, r.truncate, r.max_tokens, i);
  }
}

}  // namespace

EmbeddingService::EmbeddingService(const ModelRegistry* models, EmbeddingServiceOptions options)
    : options_(options) {
  for (const ServedModel* m : models->list()) {
    auto& s = schedulers_[m->embedder.get()];
    if (!s) s = std::make_unique<Scheduler>(m->embedder, &engine_gate_, options_.scheduler);
  }
  const int n = std::max(1, options_.tokenizer_threads);
  for (int i = 0; i < n; ++i) pool_.emplace_back([this] { tokenizer_loop(); });
}

EmbeddingService::~EmbeddingService() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_stopping_ = true;
  }
  pool_wake_.notify_all();
  for (auto& t : pool_) t.join();
  schedulers_.clear();
}

Scheduler& EmbeddingService::scheduler_for(const ServedModel& model) const {
  auto it = schedulers_.find(model.embedder.get());
  if (it == schedulers_.end()) {
    throw Error(ErrorCode::kInternal, "model " + model.name + " has no scheduler");
  }
  return *it->second;
}

void EmbeddingService::tokenizer_loop() {
  while (true) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(pool_mu_);
      pool_wake_.wait(lock, [&] { return pool_stopping_ || !pool_queue_.empty(); });
      if (pool_queue_.empty()) return;
      fn = std::move(pool_queue_.front());
      pool_queue_.pop_front();
    }
    fn();
  }
}

void EmbeddingService::on_tokenizer_thread(const std::function<void()>& fn) {
  std::promise<void> done;
  std::future<void> result = done.get_future();
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_stopping_) throw Error(ErrorCode::kUnavailable, "the server is shutting down");
    pool_queue_.push_back([&] {
      try {
        fn();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
  }
  pool_wake_.notify_one();
  result.get();
}

void EmbeddingService::look_up_cached(const ServedModel& model, const EmbedRequest& r,
                                      EmbedTask* task) {
  EmbeddingCache* cache = options_.cache;
  if (!cache || !model.cached || r.owner.empty() || r.texts.empty()) return;
  const size_t n = r.texts.size();
  const int dims = model.embedder->info().dims;
  EmbeddingCacheKey key;
  key.owner = r.owner;
  key.model = model.name;
  key.model_identity = model.identity;
  key.dtype = model.dtype;
  key.input_type = r.input_type;
  key.truncate = r.truncate;
  key.max_tokens = r.max_tokens;
  key.output_dimension = 0;  // the model's own dimensions: cuts are applied after the cache
  task->cache_keys.reserve(n);
  for (const std::string& text : r.texts) {
    key.text = text;
    task->cache_keys.push_back(EmbeddingCache::digest(key));
  }
  task->vectors.assign(n * static_cast<size_t>(dims), 0.0f);
  std::vector<EmbeddingCache::Found> found =
      cache->lookup(task->cache_keys, dims, task->vectors.data());
  task->precomputed.assign(n, 0);
  task->num_tokens.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!found[i].hit) continue;
    task->precomputed[i] = 1;
    task->num_tokens[i] = found[i].num_tokens;
    task->cached_tokens += found[i].num_tokens;
  }
}

void EmbeddingService::remember(const ServedModel& model, const EmbedTask& task) {
  EmbeddingCache* cache = options_.cache;
  if (!cache || task.cache_keys.empty() || task.cancelled()) return;
  const size_t dims = static_cast<size_t>(model.embedder->info().dims);
  std::vector<EmbeddingCache::Entry> entries;
  for (size_t i = 0; i < task.cache_keys.size(); ++i) {
    if (task.is_precomputed(i)) continue;
    entries.push_back(EmbeddingCache::Entry{
        &task.cache_keys[i], std::span<const float>(task.vectors.data() + i * dims, dims),
        task.num_tokens[i]});
  }
  cache->store(entries);
}

EmbedResult EmbeddingService::embed(const ServedModel& model, EmbedRequest request,
                                    const std::function<bool()>& client_gone) {
  Scheduler& scheduler = scheduler_for(model);
  auto task = std::make_shared<EmbedTask>();
  task->lane = Lane::kInteractive;
  task->priority = request.priority;
  look_up_cached(model, request, task.get());
  on_tokenizer_thread([&] { tokenize_all(*model.embedder, request, task.get()); });
  task->texts = std::move(request.texts);
  scheduler.submit(task);
  if (client_gone) {
    while (!task->wait_for(kClientPollMs)) {
      if (client_gone()) task->cancel();
    }
  }
  task->wait();
  remember(model, *task);
  EmbedResult r;
  r.vectors = std::move(task->vectors);
  r.num_tokens = std::move(task->num_tokens);
  for (int t : r.num_tokens) r.total_tokens += t;
  r.cached_tokens = task->cached_tokens;
  return r;
}

std::shared_ptr<EmbedTask> EmbeddingService::submit_bulk(const ServedModel& model,
                                                         const EmbedRequest& request) {
  Scheduler& scheduler = scheduler_for(model);
  auto task = std::make_shared<EmbedTask>();
  task->lane = Lane::kBulk;
  look_up_cached(model, request, task.get());
  tokenize_all(*model.embedder, request, task.get());
  task->texts = request.texts;
  scheduler.submit(task);
  return task;
}

engine::TextTokens EmbeddingService::tokenize(const ServedModel& model, std::string text) {
  engine::TextTokens out;
  on_tokenizer_thread([&] { out = model.embedder->tokenize_text(text); });
  return out;
}

std::string EmbeddingService::detokenize(const ServedModel& model, std::vector<int32_t> ids) {
  std::string out;
  on_tokenizer_thread([&] { out = model.embedder->detokenize(ids); });
  return out;
}

SchedulerStats EmbeddingService::stats(const ServedModel& model) const {
  return scheduler_for(model).stats();
}

}  // namespace ej::service
