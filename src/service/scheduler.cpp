#include "service/scheduler.h"

#include <algorithm>
#include <chrono>

#include "common/error.h"
#include "common/log.h"

namespace ej::service {

namespace {

// Cost of one sequence in the token budget (a lexical input with no words still costs one).
int64_t cost(const engine::TokenizedInput& in) {
  return std::max<int64_t>(1, static_cast<int64_t>(in.ids.size()));
}

}  // namespace

int64_t EmbedTask::tokens() const {
  int64_t n = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!is_precomputed(i)) n += cost(inputs[i]);
  }
  return n;
}

void EmbedTask::cancel() {
  cancelled_ = true;
  Scheduler* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = scheduler_;
  }
  if (s) s->cancel(this);
  finish(std::make_exception_ptr(Error(ErrorCode::kClientClosed, "request cancelled")));
}

void EmbedTask::finish(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    error_ = std::move(error);
  }
  cv_.notify_all();
}

bool EmbedTask::wait_for(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return finished_; });
}

void EmbedTask::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return finished_; });
  if (error_) std::rethrow_exception(error_);
}

Scheduler::Scheduler(std::shared_ptr<engine::Embedder> embedder, std::mutex* engine_gate,
                     SchedulerOptions options)
    : embedder_(std::move(embedder)), engine_gate_(engine_gate), options_(options) {
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  auto err = std::make_exception_ptr(Error(ErrorCode::kUnavailable, "the server is shutting down"));
  for (auto& [k, t] : interactive_) t->finish(err);
  for (auto& t : bulk_) t->finish(err);
}

void Scheduler::submit(const std::shared_ptr<EmbedTask>& task) {
  const int64_t tokens = task->tokens();
  const size_t dims = static_cast<size_t>(embedder_->info().dims);
  const size_t n = task->inputs.size();
  if (task->vectors.size() != n * dims) task->vectors.assign(n * dims, 0.0f);
  task->num_tokens.resize(n, 0);
  size_t precomputed = 0;
  for (size_t i = 0; i < n; ++i) {
    if (task->is_precomputed(i)) {
      ++precomputed;
    } else {
      task->num_tokens[i] = static_cast<int>(task->inputs[i].ids.size());
    }
  }
  task->done_ = precomputed;
  if (precomputed == n) {
    task->finish(nullptr);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw Error(ErrorCode::kUnavailable, "the server is shutting down");
    if (task->lane == Lane::kInteractive) {
      if (queued_interactive_ > 0 && queued_interactive_ + tokens > options_.max_queued_tokens) {
        ++stats_.rejected;
        throw Error(ErrorCode::kResourceExhausted, "too many tokens queued for this model (" +
                                                       std::to_string(queued_interactive_) +
                                                       " waiting, limit " +
                                                       std::to_string(options_.max_queued_tokens) +
                                                       "), please wait and try again later.");
      }
      queued_interactive_ += tokens;
    } else {
      queued_bulk_ += tokens;
    }
    {
      std::lock_guard<std::mutex> tl(task->mu_);
      task->scheduler_ = this;
    }
    task->queued_ = tokens;
    task->arrival_ = next_arrival_++;
    if (task->lane == Lane::kInteractive) {
      interactive_.emplace(std::make_pair(task->priority, task->arrival_), task);
    } else {
      bulk_.push_back(task);
    }
  }
  wake_.notify_one();
}

void Scheduler::cancel(EmbedTask* task) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t dropped = 0;
  for (size_t i = task->next_; i < task->inputs.size(); ++i) dropped += !task->is_precomputed(i);
  if (dropped > 0) {
    ++stats_.cancelled;
    stats_.dropped_sequences += static_cast<int64_t>(dropped);
    log_info("scheduler: dropped " + std::to_string(dropped) + " queued sequences (" +
             std::to_string(task->queued_) + " tokens) of a cancelled " +
             (task->lane == Lane::kInteractive ? "request" : "job chunk"));
  }
  task->next_ = task->inputs.size();
  (task->lane == Lane::kInteractive ? queued_interactive_ : queued_bulk_) -= task->queued_;
  task->queued_ = 0;
  if (task->lane == Lane::kInteractive) {
    interactive_.erase(std::make_pair(task->priority, task->arrival_));
  } else {
    bulk_.erase(
        std::remove_if(bulk_.begin(), bulk_.end(), [&](const auto& t) { return t.get() == task; }),
        bulk_.end());
  }
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SchedulerStats s = stats_;
  s.queued_tokens = queued_interactive_ + queued_bulk_;
  return s;
}

bool Scheduler::take(const std::shared_ptr<EmbedTask>& task, int64_t limit, bool force_first,
                     std::vector<Pick>* picks, int64_t* batch_tokens) {
  int64_t& queued = task->lane == Lane::kInteractive ? queued_interactive_ : queued_bulk_;
  while (task->next_ < task->inputs.size()) {
    if (task->is_precomputed(task->next_)) {
      ++task->next_;
      continue;
    }
    const int64_t c = cost(task->inputs[task->next_]);
    if (*batch_tokens + c > limit && !(force_first && picks->empty())) return false;
    picks->push_back(Pick{task, task->next_});
    *batch_tokens += c;
    task->queued_ -= c;
    queued -= c;
    ++task->next_;
  }
  return true;
}

void Scheduler::loop() {
  const int64_t budget = embedder_->max_batch_tokens();
  std::vector<Pick> picks;
  while (true) {
    picks.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !interactive_.empty() || !bulk_.empty(); });
      if (stopping_) return;
      int64_t tokens = 0;
      auto take_bulk = [&](int64_t limit, bool force_first) {
        while (!bulk_.empty() && take(bulk_.front(), limit, force_first, &picks, &tokens)) {
          bulk_.pop_front();
        }
      };
      const bool contended = !bulk_.empty() && !interactive_.empty();
      if (contended) {
        take_bulk(static_cast<int64_t>(static_cast<double>(budget) * options_.bulk_min_share),
                  batches_without_bulk_ + 1 >= kMaxBatchesWithoutBulk);
      }
      while (!interactive_.empty() &&
             take(interactive_.begin()->second, budget, true, &picks, &tokens)) {
        interactive_.erase(interactive_.begin());
      }
      take_bulk(budget, true);
      const bool had_bulk = std::any_of(picks.begin(), picks.end(),
                                        [](const Pick& p) { return p.task->lane == Lane::kBulk; });
      batches_without_bulk_ = contended && !had_bulk ? batches_without_bulk_ + 1 : 0;
    }
    run_batch(picks);
  }
}

void Scheduler::run_batch(std::vector<Pick>& picks) {
  std::vector<engine::TokenSeq> seqs;
  seqs.reserve(picks.size());
  int64_t tokens = 0;
  for (const Pick& p : picks) {
    const engine::TokenizedInput& in = p.task->inputs[p.index];
    seqs.push_back(engine::TokenSeq{in.ids, in.prompt_tokens, p.task->texts[p.index]});
    tokens += static_cast<int64_t>(in.ids.size());
  }
  std::vector<float> vectors;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    std::lock_guard<std::mutex> gate(*engine_gate_);
    embedder_->embed_tokens(seqs, &vectors);
  } catch (const std::exception& e) {
    log_error(std::string("scheduler: engine batch failed: ") + e.what());
    auto err = std::current_exception();
    for (const Pick& p : picks) p.task->finish(err);
    return;
  }
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.batches;
    stats_.sequences += static_cast<int64_t>(picks.size());
    stats_.tokens += tokens;
    stats_.engine_us += us;
  }
  const size_t dims = static_cast<size_t>(embedder_->info().dims);
  for (size_t i = 0; i < picks.size(); ++i) {
    EmbedTask& t = *picks[i].task;
    std::copy_n(vectors.data() + i * dims, dims, t.vectors.data() + picks[i].index * dims);
    if (++t.done_ == t.inputs.size()) t.finish(nullptr);
  }
}

}  // namespace ej::service
