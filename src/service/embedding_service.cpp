#include "service/embedding_service.h"

#include <future>

#include "common/error.h"

namespace ej::service {

namespace {

void tokenize_all(const engine::Embedder& embedder, const EmbedRequest& r, EmbedTask* task) {
  task->inputs.resize(r.texts.size());
  for (size_t i = 0; i < r.texts.size(); ++i) {
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

EmbedResult EmbeddingService::embed(const ServedModel& model, EmbedRequest request,
                                    const std::function<bool()>& client_gone) {
  Scheduler& scheduler = scheduler_for(model);
  auto task = std::make_shared<EmbedTask>();
  task->lane = Lane::kInteractive;
  task->priority = request.priority;
  on_tokenizer_thread([&] { tokenize_all(*model.embedder, request, task.get()); });
  task->texts = std::move(request.texts);
  scheduler.submit(task);
  if (client_gone) {
    while (!task->wait_for(kClientPollMs)) {
      if (client_gone()) task->cancel();
    }
  }
  task->wait();
  EmbedResult r;
  r.vectors = std::move(task->vectors);
  r.num_tokens.reserve(task->inputs.size());
  for (const auto& in : task->inputs) {
    r.num_tokens.push_back(static_cast<int>(in.ids.size()));
    r.total_tokens += static_cast<int64_t>(in.ids.size());
  }
  return r;
}

std::shared_ptr<EmbedTask> EmbeddingService::submit_bulk(const ServedModel& model,
                                                         const EmbedRequest& request) {
  Scheduler& scheduler = scheduler_for(model);
  auto task = std::make_shared<EmbedTask>();
  task->lane = Lane::kBulk;
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
