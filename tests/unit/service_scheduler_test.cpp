// Scheduler and EmbeddingService: packing across tasks, order (priority, interactive before
// bulk, turns), bulk never starved, admission by queued tokens, cancel drops queued work, and
// the same vector bit for bit however a text is batched (bert-tiny and lexical).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "engine/neural_embedder.h"
#include "fake_embedder.h"
#include "service/embedding_service.h"
#include "service/scheduler.h"

namespace ej::service {
namespace {

using test::FakeEmbedder;

std::shared_ptr<EmbedTask> make_task(const engine::Embedder& e, Lane lane,
                                     std::vector<std::string> texts, int priority = 0) {
  auto t = std::make_shared<EmbedTask>();
  t->lane = lane;
  t->priority = priority;
  for (size_t i = 0; i < texts.size(); ++i) {
    t->inputs.push_back(
        e.tokenize_for(texts[i], engine::InputType::kSearchDocument, engine::Truncate::kEnd, 0, i));
  }
  t->texts = std::move(texts);
  return t;
}

struct Fixture {
  explicit Fixture(int budget, SchedulerOptions o = {})
      : fake(std::make_shared<FakeEmbedder>(budget)), scheduler(fake, &gate, o) {}
  // Holds the engine inside a first batch ("hold"), so that what is submitted next queues up.
  std::shared_ptr<EmbedTask> block() {
    fake->hold();
    auto t = make_task(*fake, Lane::kInteractive, {"hold"});
    scheduler.submit(t);
    fake->wait_entered(1);
    return t;
  }
  std::mutex gate;
  std::shared_ptr<FakeEmbedder> fake;
  Scheduler scheduler;
};

TEST(Scheduler, PacksSequencesOfManyTasksIntoOneBatch) {
  Fixture f(1000);
  auto first = f.block();
  std::vector<std::shared_ptr<EmbedTask>> tasks;
  for (int i = 0; i < 5; ++i) {
    tasks.push_back(make_task(*f.fake, Lane::kInteractive, {"t" + std::to_string(i)}));
    f.scheduler.submit(tasks.back());
  }
  f.fake->release();
  for (auto& t : tasks) t->wait();
  first->wait();
  auto b = f.fake->batches();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1], (std::vector<std::string>{"t0", "t1", "t2", "t3", "t4"}));
  EXPECT_EQ(tasks[3]->vectors[0], static_cast<float>('t'));
  EXPECT_EQ(tasks[3]->vectors[1], 2.0f);
  EXPECT_EQ(f.scheduler.stats().sequences, 6);
}

TEST(Scheduler, PriorityThenArrivalAndInteractiveBeforeBulk) {
  Fixture f(8);  // two 4-token texts per batch
  auto first = f.block();
  auto bulk = make_task(*f.fake, Lane::kBulk, {"bulk"});
  auto late = make_task(*f.fake, Lane::kInteractive, {"p5-a"}, 5);
  auto urgent = make_task(*f.fake, Lane::kInteractive, {"p0-a"}, 0);
  f.scheduler.submit(bulk);
  f.scheduler.submit(late);
  f.scheduler.submit(urgent);
  f.fake->release();
  bulk->wait();
  auto b = f.fake->batches();
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[1], (std::vector<std::string>{"p0-a", "p5-a"}));
  EXPECT_EQ(b[2], (std::vector<std::string>{"bulk"}));
}

TEST(Scheduler, RequestsTakeTurns) {
  Fixture f(8);
  auto first = f.block();
  auto a = make_task(*f.fake, Lane::kInteractive, {"a000", "a111", "a222", "a333"});
  auto b = make_task(*f.fake, Lane::kInteractive, {"b000", "b111", "b222", "b333"});
  f.scheduler.submit(a);
  f.scheduler.submit(b);
  f.fake->release();
  b->wait();
  auto batches = f.fake->batches();
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches[1], (std::vector<std::string>{"a000", "a111"}));
  EXPECT_EQ(batches[2], (std::vector<std::string>{"a222", "a333"}));
  EXPECT_EQ(batches[3], (std::vector<std::string>{"b000", "b111"}));
}

TEST(Scheduler, BulkIsNeverStarved) {
  Fixture f(8);
  auto first = f.block();
  auto bulk = make_task(*f.fake, Lane::kBulk, {"bulk"});
  f.scheduler.submit(bulk);
  std::vector<std::shared_ptr<EmbedTask>> inter;
  for (int i = 0; i < 20; ++i) {
    inter.push_back(make_task(*f.fake, Lane::kInteractive, {"iiii", "jjjj"}));
    f.scheduler.submit(inter.back());
  }
  f.fake->release();
  for (auto& t : inter) t->wait();
  auto b = f.fake->batches();
  size_t at = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    for (const auto& s : b[i]) {
      if (s == "bulk") at = i;
    }
  }
  EXPECT_GE(at, 1u);
  EXPECT_LE(at, 4u) << "bulk waited more than kMaxBatchesWithoutBulk batches";
}

TEST(Scheduler, AdmissionByQueuedTokens) {
  SchedulerOptions o;
  o.max_queued_tokens = 10;
  Fixture f(1000, o);
  auto first = f.block();
  auto a = make_task(*f.fake, Lane::kInteractive, {"12345678"});
  f.scheduler.submit(a);
  auto b = make_task(*f.fake, Lane::kInteractive, {"1234"});
  try {
    f.scheduler.submit(b);
    ADD_FAILURE() << "expected a 429";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
  }
  auto bulk = make_task(*f.fake, Lane::kBulk, {std::string(50, 'x')});
  f.scheduler.submit(bulk);  // bulk work is not refused
  EXPECT_EQ(f.scheduler.stats().queued_tokens, 58);
  EXPECT_EQ(f.scheduler.stats().rejected, 1);
  f.fake->release();
  a->wait();
  bulk->wait();
  EXPECT_EQ(f.scheduler.stats().queued_tokens, 0);
}

TEST(Scheduler, CancelDropsQueuedWork) {
  Fixture f(1000);
  auto first = f.block();
  auto gone = make_task(*f.fake, Lane::kInteractive, {"gone-1", "gone-2"});
  auto job = make_task(*f.fake, Lane::kBulk, {"job-1"});
  auto stays = make_task(*f.fake, Lane::kInteractive, {"stays"});
  f.scheduler.submit(gone);
  f.scheduler.submit(job);
  f.scheduler.submit(stays);
  gone->cancel();
  job->cancel();
  EXPECT_EQ(f.scheduler.stats().queued_tokens, 5);
  f.fake->release();
  stays->wait();
  try {
    gone->wait();
    ADD_FAILURE() << "expected kClientClosed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kClientClosed);
  }
  EXPECT_THROW(job->wait(), Error);
  for (const auto& batch : f.fake->batches()) {
    for (const auto& s : batch) EXPECT_TRUE(s == "hold" || s == "stays") << s;
  }
  SchedulerStats stats = f.scheduler.stats();
  EXPECT_EQ(stats.cancelled, 2);
  EXPECT_EQ(stats.dropped_sequences, 3);
}

TEST(Scheduler, PrecomputedSequencesAreSkipped) {
  Fixture f(1000);
  auto first = f.block();
  // "cached" came from the embedding cache: its vector is there, its input is not tokenized.
  auto t = make_task(*f.fake, Lane::kInteractive, {"abc", "cached", "de"});
  t->inputs[1] = engine::TokenizedInput{};
  t->precomputed = {0, 1, 0};
  t->vectors.assign(12, 0.0f);
  t->vectors[4] = 42.0f;
  t->num_tokens = {0, 9, 0};
  f.scheduler.submit(t);
  EXPECT_EQ(f.scheduler.stats().queued_tokens, 5);  // the cached text costs nothing
  auto all_cached = make_task(*f.fake, Lane::kBulk, {"x"});
  all_cached->inputs[0] = engine::TokenizedInput{};
  all_cached->precomputed = {1};
  all_cached->vectors.assign(4, 7.0f);
  all_cached->num_tokens = {3};
  f.scheduler.submit(all_cached);
  EXPECT_TRUE(all_cached->wait_for(0));  // nothing to embed: finished at submit
  EXPECT_EQ(all_cached->vectors, std::vector<float>(4, 7.0f));
  f.fake->release();
  t->wait();
  EXPECT_EQ(t->vectors[0], static_cast<float>('a'));
  EXPECT_EQ(t->vectors[4], 42.0f);
  EXPECT_EQ(t->vectors[8], static_cast<float>('d'));
  EXPECT_EQ(t->num_tokens, (std::vector<int>{3, 9, 2}));
  for (const auto& batch : f.fake->batches()) {
    for (const auto& s : batch) EXPECT_NE(s, "cached");
  }
  // Cancelling counts only what was still to embed.
  f.fake->hold();
  auto blocker = make_task(*f.fake, Lane::kInteractive, {"hold2"});
  f.scheduler.submit(blocker);
  f.fake->wait_entered(3);
  auto later = make_task(*f.fake, Lane::kInteractive, {"p", "q"});
  later->inputs[0] = engine::TokenizedInput{};
  later->precomputed = {1, 0};
  later->num_tokens = {1, 0};
  f.scheduler.submit(later);
  later->cancel();
  EXPECT_EQ(f.scheduler.stats().dropped_sequences, 1);
  f.fake->release();
  blocker->wait();
}

TEST(EmbeddingService, ClientGoneDropsTheRequest) {
  auto fake = std::make_shared<FakeEmbedder>(1000);
  ModelRegistry models;
  models.add("m", fake);
  EmbeddingService svc(&models, EmbeddingServiceOptions{});
  const ServedModel& m = models.get("m");
  fake->hold();
  std::thread first([&] {
    EmbedRequest r;
    r.texts = {"hold"};
    svc.embed(m, r);
  });
  fake->wait_entered(1);
  std::atomic<bool> gone{false};
  std::thread waiter([&] {
    EmbedRequest r;
    r.texts = {"abandoned"};
    try {
      svc.embed(m, r, [&] { return gone.load(); });
      ADD_FAILURE() << "expected kClientClosed";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kClientClosed);
    }
  });
  while (svc.stats(m).queued_tokens == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  gone = true;
  waiter.join();
  EXPECT_EQ(svc.stats(m).queued_tokens, 0);
  fake->release();
  first.join();
  for (const auto& batch : fake->batches()) {
    for (const auto& s : batch) EXPECT_EQ(s, "hold");
  }
}

// The same text gives the same vector bit for bit: alone (embed()), in a crowded call, packed
// with other clients' requests, and as a job chunk.
void expect_bit_identical(const std::shared_ptr<engine::Embedder>& embedder) {
  ModelRegistry models;
  models.add("m", embedder);
  EmbeddingService svc(&models, EmbeddingServiceOptions{});
  const ServedModel& m = models.get("m");
  const std::string probe = "The quick brown fox jumps over the lazy dog.";
  std::string_view one[] = {probe};
  engine::EmbedOutput alone;
  embedder->embed(one, engine::InputType::kSearchQuery, engine::Truncate::kEnd, &alone);
  const size_t dims = static_cast<size_t>(embedder->info().dims);
  auto same = [&](const float* v, const char* where) {
    EXPECT_EQ(std::memcmp(v, alone.vectors.data(), dims * sizeof(float)), 0) << where;
  };

  EmbedRequest crowded;
  crowded.input_type = engine::InputType::kSearchQuery;
  for (int i = 0; i < 96; ++i) {
    crowded.texts.push_back(i == 40 ? probe
                                    : "filler text number " + std::to_string(i) +
                                          std::string(static_cast<size_t>(i % 7) * 6, 'z'));
  }
  EmbedResult r = svc.embed(m, crowded);
  same(r.vectors.data() + 40 * dims, "in a 96-text call");

  std::vector<std::thread> clients;
  std::vector<EmbedResult> results(8);
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      EmbedRequest q;
      q.input_type = engine::InputType::kSearchQuery;
      q.texts = {c % 2 ? probe : "another client's text " + std::to_string(c), probe};
      results[static_cast<size_t>(c)] = svc.embed(m, q);
    });
  }
  for (auto& t : clients) t.join();
  for (const auto& res : results) same(res.vectors.data() + dims, "packed with other clients");

  auto task = svc.submit_bulk(m, crowded);
  task->wait();
  same(task->vectors.data() + 40 * dims, "as a job chunk");
  EXPECT_GE(svc.stats(m).batches, 1);
}

TEST(EmbeddingService, BitIdenticalNeural) {
  expect_bit_identical(engine::open_embedder(std::string(EJ_TEST_DATA_DIR) + "/bert-tiny", {}));
}

TEST(EmbeddingService, BitIdenticalLexical) {
  expect_bit_identical(engine::open_embedder("lexical", {}));
}

TEST(EmbeddingService, MaxTokensCutsLikeTheModelContext) {
  auto e = engine::NeuralEmbedder::open(std::string(EJ_TEST_DATA_DIR) + "/bert-tiny", {});
  const std::string text = "one two three four five six seven eight nine ten";
  const engine::TokenizedInput full =
      e->tokenize_for(text, engine::InputType::kSearchQuery, engine::Truncate::kEnd, 0, 0);
  ASSERT_GT(full.ids.size(), 6u);
  auto end = e->tokenize_for(text, engine::InputType::kSearchQuery, engine::Truncate::kEnd, 6, 0);
  ASSERT_EQ(end.ids.size(), 6u);
  EXPECT_EQ(std::vector<int32_t>(end.ids.begin(), end.ids.begin() + 5),
            std::vector<int32_t>(full.ids.begin(), full.ids.begin() + 5));
  EXPECT_EQ(end.ids.back(), full.ids.back());
  auto start =
      e->tokenize_for(text, engine::InputType::kSearchQuery, engine::Truncate::kStart, 6, 0);
  ASSERT_EQ(start.ids.size(), 6u);
  EXPECT_EQ(start.ids.front(), full.ids.front());
  EXPECT_EQ(std::vector<int32_t>(start.ids.end() - 5, start.ids.end()),
            std::vector<int32_t>(full.ids.end() - 5, full.ids.end()));
  EXPECT_THROW(
      e->tokenize_for(text, engine::InputType::kSearchQuery, engine::Truncate::kNone, 6, 3), Error);
}

TEST(EmbeddingService, TokenizeDetokenizeRoundTrip) {
  auto e = engine::NeuralEmbedder::open(std::string(EJ_TEST_DATA_DIR) + "/bert-tiny", {});
  engine::TextTokens t = e->tokenize_text("Hello, world! Tokenization isn't hard. I'm here .");
  ASSERT_EQ(t.ids.size(), t.strings.size());
  // What Hugging Face tokenizers' decode(ids, skip_special_tokens=true) gives (npm tokenizers).
  EXPECT_EQ(e->detokenize(t.ids), "hello, world! tokenization isn ' t hard. i ' m here.");
  std::vector<int32_t> with_specials = e->tokenizer().prefix_ids();
  with_specials.insert(with_specials.end(), t.ids.begin(), t.ids.end());
  EXPECT_EQ(e->detokenize(with_specials), e->detokenize(t.ids)) << "special tokens are skipped";
  EXPECT_THROW(e->detokenize(std::vector<int32_t>{1 << 20}), Error);
  auto x = engine::NeuralEmbedder::open(std::string(EJ_TEST_DATA_DIR) + "/xlmr-tiny", {});
  engine::TextTokens u = x->tokenize_text("Hello world again");
  EXPECT_EQ(x->detokenize(u.ids), "Hello world again");
}

}  // namespace
}  // namespace ej::service
