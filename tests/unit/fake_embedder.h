// FakeEmbedder: a model for tests of the serving path (scheduler, embedding service, HTTP
// routes). One token per byte of text; vector = {first byte, length, 0, 0}. Records every
// batch, and can hold the engine (the next embed_tokens() blocks until release()). Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "engine/embedder.h"

namespace ej::test {

class FakeEmbedder final : public engine::Embedder {
 public:
  explicit FakeEmbedder(int budget) : budget_(budget) {
    info_.kind = "fake";
    info_.dims = 4;
    info_.max_tokens = 64;
  }
  const engine::ModelInfo& info() const override { return info_; }
  void embed(std::span<const std::string_view>, engine::InputType, engine::Truncate,
             engine::EmbedOutput*) override {}
  engine::TokenizedInput tokenize_for(std::string_view text, engine::InputType, engine::Truncate,
                                      int, size_t) const override {
    engine::TokenizedInput in;
    for (unsigned char c : text) in.ids.push_back(c);
    return in;
  }
  void embed_tokens(std::span<const engine::TokenSeq> seqs, std::vector<float>* out) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    std::vector<std::string> batch;
    out->clear();
    for (const auto& s : seqs) {
      batch.emplace_back(s.text);
      out->insert(out->end(),
                  {static_cast<float>(s.ids[0]), static_cast<float>(s.ids.size()), 0.0f, 0.0f});
    }
    batches_.push_back(batch);
  }
  int max_batch_tokens() const override { return budget_; }
  engine::TextTokens tokenize_text(std::string_view) const override { return {}; }
  std::string detokenize(std::span<const int32_t>) const override { return ""; }

  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  void wait_entered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  std::vector<std::vector<std::string>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  engine::ModelInfo info_;
  int budget_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int entered_ = 0;
  std::vector<std::vector<std::string>> batches_;
};

}  // namespace ej::test
