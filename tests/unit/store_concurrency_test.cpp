// The store contract under concurrency, on every store: claimers in several threads of several
// "processes" (Store objects on one database) never take the same chunk, job final step or
// dataset while its lease is live, share one job's chunks, writes under a contended lease stay
// fenced, and many threads share one Store.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "store/store.h"
#include "store_fixture.h"

namespace ej::store {
namespace {

constexpr int kProcesses = 3;
constexpr int kThreadsPerProcess = 4;

class ConcurrencyTest : public StoreFixture {
 protected:
  void insert_job(const std::string& id, int64_t created) {
    store_->insert_job(test_job(id, "alice", created));
  }
  // kProcesses Store objects (store_ is the first), each used by kThreadsPerProcess threads
  // running `body(store, worker_name)` at once.
  void run_claimers(const std::function<void(Store*, const std::string&)>& body) {
    std::vector<std::unique_ptr<Store>> others;
    std::vector<Store*> stores = {store_.get()};
    for (int p = 1; p < kProcesses; ++p) {
      others.push_back(backend_->open());
      stores.push_back(others.back().get());
    }
    std::vector<std::thread> threads;
    for (int p = 0; p < kProcesses; ++p) {
      for (int t = 0; t < kThreadsPerProcess; ++t) {
        const std::string worker = "proc-" + std::to_string(p) + "/t" + std::to_string(t);
        threads.emplace_back(
            [&body, s = stores[static_cast<size_t>(p)], worker] { body(s, worker); });
      }
    }
    for (std::thread& t : threads) t.join();
  }
};

TEST_P(ConcurrencyTest, ConcurrentClaimersNeverTakeTheSameJob) {
  constexpr int kJobs = 60;
  for (int i = 0; i < kJobs; ++i) insert_job("j" + std::to_string(i), 1000 + i);
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> claimed_by;  // job -> workers
  std::atomic<int> errors{0};
  run_claimers([&](Store* s, const std::string& worker) {
    try {
      while (std::optional<JobRow> j = s->claim_job(worker, 60000)) {
        std::lock_guard<std::mutex> lock(mu);
        claimed_by[j->id].push_back(worker);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << worker << ": " << e.what();
      ++errors;
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed_by.size(), static_cast<size_t>(kJobs));
  for (const auto& [job, workers] : claimed_by) {
    EXPECT_EQ(workers.size(), 1u) << job << " claimed by " << workers.size() << " workers";
  }
  // Every job now has one live lease, one claim counted, generation 1.
  for (int i = 0; i < kJobs; ++i) {
    std::optional<JobRow> j = store_->get_job("j" + std::to_string(i));
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ(j->attempts, 1);
    EXPECT_EQ(j->lease_generation, 1);
  }
}

TEST_P(ConcurrencyTest, ConcurrentValidatorsNeverTakeTheSameDataset) {
  constexpr int kDatasets = 40;
  for (int i = 0; i < kDatasets; ++i) {
    DatasetRow d;
    d.id = "d" + std::to_string(i);
    d.owner = "alice";
    d.name = d.id;
    d.dataset_type = "embed-input";
    d.created_us = 1000 + i;
    d.updated_us = d.created_us;
    store_->insert_dataset(d);
  }
  std::mutex mu;
  std::map<std::string, int> claims;
  run_claimers([&](Store* s, const std::string& worker) {
    try {
      while (std::optional<DatasetRow> d = s->claim_dataset_validation(worker, 60000)) {
        {
          std::lock_guard<std::mutex> lock(mu);
          ++claims[d->id];
        }
        d->status = DatasetStatus::kValidated;
        EXPECT_TRUE(s->finish_dataset_validation(*d, worker));
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << worker << ": " << e.what();
    }
  });
  EXPECT_EQ(claims.size(), static_cast<size_t>(kDatasets));
  for (const auto& [id, n] : claims) EXPECT_EQ(n, 1) << id;
  DatasetFilter validated;
  validated.status = DatasetStatus::kValidated;
  EXPECT_EQ(store_->list_datasets("alice", validated).size(), static_cast<size_t>(kDatasets));
}

TEST_P(ConcurrencyTest, OneJobPassedAroundByRacingWorkersHasOneHolderAtATime) {
  // Every worker races for the same job's final step; the holder writes under its lease and
  // gives the job back. At no moment may two workers hold a live lease, and
  // every holder's fenced writes land.
  insert_job("j", 1);
  constexpr int kTurns = 48;
  std::atomic<int> turns{0}, holders{0}, max_holders{0};
  std::mutex mu;
  std::set<int64_t> generations;
  run_claimers([&](Store* s, const std::string& worker) {
    try {
      while (turns.load() < kTurns) {
        std::optional<JobRow> j = s->claim_job(worker, 60000);
        if (!j) {
          std::this_thread::yield();
          continue;
        }
        const int now_holding = ++holders;
        int seen = max_holders.load();
        while (now_holding > seen && !max_holders.compare_exchange_weak(seen, now_holding)) {
        }
        const JobLease lease{"j", worker, j->lease_generation};
        // Its own step (= its generation): a fresh count, which only the holder can write.
        EXPECT_TRUE(s->begin_chunk(lease, j->lease_generation).held);
        EXPECT_EQ(s->record_chunk_failure(lease, j->lease_generation, "turn"), 1);
        JobStatus status = JobStatus::kFailed;
        EXPECT_TRUE(s->renew_job_lease(lease, 60000, &status));
        {
          std::lock_guard<std::mutex> lock(mu);
          EXPECT_TRUE(generations.insert(j->lease_generation).second)
              << "generation " << j->lease_generation << " handed out twice";
        }
        --holders;  // before the lease goes: the next holder may come at once
        s->release_job(lease);
        ++turns;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << worker << ": " << e.what();
      turns = kTurns;
    }
  });
  EXPECT_EQ(max_holders.load(), 1);
  const int64_t n = static_cast<int64_t>(generations.size());
  EXPECT_GE(n, kTurns);
  std::optional<JobRow> j = store_->get_job("j");
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->lease_generation, n);
  EXPECT_EQ(j->attempts, n);
  EXPECT_EQ(backend_->column("SELECT COUNT(*) FROM job_chunk_attempts WHERE job_id = 'j'"),
            (std::vector<std::string>{std::to_string(n)}));
}

TEST_P(ConcurrencyTest, ConcurrentChunkClaimersShareJobsAndNeverTakeTheSameChunk) {
  // Three jobs of 40 chunks; every thread of every process claims and commits chunks until none
  // is left. Each chunk is claimed once (no lease expires), each job's chunks are spread over
  // several workers, every commit lands, and exactly one claimer gets each job's final step.
  constexpr int kJobs = 3;
  constexpr int kChunks = 40;
  constexpr int kChunkRows = 4;
  for (int i = 0; i < kJobs; ++i) {
    store_->insert_job(
        chunked_job("j" + std::to_string(i), kChunks * kChunkRows - 1, kChunkRows, 1000 + i));
  }
  std::mutex mu;
  std::map<std::pair<std::string, int64_t>, std::vector<std::string>> claimed_by;
  std::map<std::string, std::set<std::string>> workers_of_job;
  std::map<std::string, int> final_steps;
  run_claimers([&](Store* s, const std::string& worker) {
    try {
      while (std::optional<ChunkClaim> c = s->claim_chunk(worker, 60000)) {
        EXPECT_EQ(c->generation, 1);
        EXPECT_EQ(c->job.chunk_rows, kChunkRows);
        {
          std::lock_guard<std::mutex> lock(mu);
          claimed_by[{c->job.id, c->chunk_index}].push_back(worker);
          workers_of_job[c->job.id].insert(worker);
        }
        const ChunkLease lease = c->lease(worker);
        EXPECT_TRUE(s->begin_chunk(lease).held);
        const int64_t first = c->chunk_index * kChunkRows;
        const int64_t rows = std::min<int64_t>(kChunkRows, c->job.total_rows - first);
        EXPECT_TRUE(s->commit_chunk(lease, ChunkRow{c->chunk_index, first, rows, 10, 100, "c", 1}));
      }
      while (std::optional<JobRow> j = s->claim_job(worker, 60000)) {
        std::lock_guard<std::mutex> lock(mu);
        ++final_steps[j->id];
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << worker << ": " << e.what();
    }
  });
  EXPECT_EQ(claimed_by.size(), static_cast<size_t>(kJobs * kChunks));
  for (const auto& [chunk, workers] : claimed_by) {
    EXPECT_EQ(workers.size(), 1u) << chunk.first << " chunk " << chunk.second << " claimed by "
                                  << workers.size() << " workers";
  }
  for (int i = 0; i < kJobs; ++i) {
    const std::string id = "j" + std::to_string(i);
    EXPECT_GE(workers_of_job[id].size(), 2u) << id << "'s chunks all went to one worker";
    EXPECT_EQ(final_steps[id], 1) << id;
    std::optional<JobRow> j = store_->get_job(id);
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ(j->rows_done, kChunks * kChunkRows - 1);
    EXPECT_EQ(j->input_tokens, 10 * kChunks);
    EXPECT_EQ(j->cached_tokens, kChunks);
    EXPECT_EQ(j->lease_generation, 1);
    EXPECT_GT(j->started_us, 0);
    EXPECT_EQ(store_->list_chunks(id).size(), static_cast<size_t>(kChunks));
  }
}

TEST_P(ConcurrencyTest, ExpiredChunksAreReclaimedOnceEach) {
  // 30 chunks, all claimed with leases that run out at once (their workers "died"): racing
  // claimers reclaim each exactly once, at generation 2.
  constexpr int kChunks = 30;
  store_->insert_job(chunked_job("j", kChunks, 1));
  for (int k = 0; k < kChunks; ++k) EXPECT_EQ(claim_chunk_for(*store_, "dead").chunk_index, k);
  backend_->exec("UPDATE job_chunk_leases SET lease_until_ms = 0");
  std::mutex mu;
  std::map<int64_t, int> reclaims;
  run_claimers([&](Store* s, const std::string& worker) {
    try {
      while (std::optional<ChunkClaim> c = s->claim_chunk(worker, 60000)) {
        EXPECT_EQ(c->generation, 2);
        std::lock_guard<std::mutex> lock(mu);
        ++reclaims[c->chunk_index];
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << worker << ": " << e.what();
    }
  });
  EXPECT_EQ(reclaims.size(), static_cast<size_t>(kChunks));
  for (const auto& [k, n] : reclaims) EXPECT_EQ(n, 1) << "chunk " << k;
}

TEST_P(ConcurrencyTest, ManyThreadsShareOneStore) {
  // More threads than the PostgreSQL store's pool of connections: the rest wait their turn.
  constexpr int kThreads = 48;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < 5; ++i) {
          const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          insert_job(id, t * 10 + i);
          EXPECT_EQ(store_->get_job(id)->id, id);
          EXPECT_EQ(store_->get_or_create_secret("shared", "from-" + id).substr(0, 5), "from-");
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(store_->list_jobs("alice").size(), static_cast<size_t>(kThreads * 5));
  // One secret won, and every thread was given that one.
  const std::string secret = store_->get_or_create_secret("shared", "late");
  EXPECT_NE(secret, "late");
}

TEST_P(ConcurrencyTest, RacingProcessesAgreeOnOneSecret) {
  std::mutex mu;
  std::set<std::string> seen;
  run_claimers([&](Store* s, const std::string& worker) {
    std::string v = s->get_or_create_secret("url_signing", "candidate-" + worker);
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(v);
  });
  EXPECT_EQ(seen.size(), 1u);
}

EJ_STORE_SUITE(ConcurrencyTest);

}  // namespace
}  // namespace ej::store
