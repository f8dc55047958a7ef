// Fencing tokens and durable chunk attempts (the store contract, on every store):
// a claim's lease generation must be current for any write under the lease to land, and the
// attempts at a chunk survive the process that made them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/store.h"
#include "store_fixture.h"

namespace ej::store {
namespace {

class FencingTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    if (IsSkipped()) return;
    store_->insert_job(test_job("j1"));
  }
  // Claims j1 as `worker` with a lease that has already run out (the worker "stalls").
  JobLease claim_expired(const std::string& worker) {
    std::optional<JobRow> row = store_->claim_job(worker, -1);
    EXPECT_TRUE(row.has_value());
    return JobLease{"j1", worker, row ? row->lease_generation : -1};
  }
};

TEST_P(FencingTest, EveryClaimIncrementsTheGeneration) {
  JobLease a = claim_expired("w1");
  JobLease b = claim_expired("w2");
  JobLease c = claim_expired("w1");
  EXPECT_EQ(a.generation, 1);
  EXPECT_EQ(b.generation, 2);
  EXPECT_EQ(c.generation, 3);
  EXPECT_EQ(store_->get_job("j1")->lease_generation, 3);
}

TEST_P(FencingTest, AStaleGenerationsWritesAreRefusedEvenUnderTheSameWorkerName) {
  // w1 claims (generation 1) and stalls past its lease; the job comes back to a worker of the
  // SAME name (generation 2), e.g. a restarted process that reuses its id. Only the owner name
  // would let the stale run through; the generation does not.
  JobLease stale = claim_expired("w1");
  std::optional<JobRow> row = store_->claim_job("w1", 60000);
  ASSERT_TRUE(row.has_value());
  JobLease current{"j1", "w1", row->lease_generation};
  ASSERT_NE(stale.generation, current.generation);

  JobStatus status = JobStatus::kFailed;
  EXPECT_FALSE(store_->renew_job_lease(stale, 60000, &status));
  EXPECT_FALSE(store_->begin_chunk(stale, 0).held);
  EXPECT_FALSE(store_->commit_chunk(stale, ChunkRow{0, 0, 10, 5, 1, "jobs/j1/chunk-0-g1.avro"}));
  EXPECT_EQ(store_->record_chunk_failure(stale, 0, "x"), 0);
  EXPECT_FALSE(store_->finish_job(stale, JobStatus::kFailed, std::nullopt, "stale"));
  store_->release_job(stale);  // a no-op: the current claim keeps its lease
  EXPECT_TRUE(store_->list_chunks("j1").empty());
  EXPECT_EQ(store_->get_job("j1")->status, JobStatus::kProcessing);
  EXPECT_EQ(store_->get_job("j1")->rows_done, 0);

  // The current claim is untouched by all of that.
  EXPECT_TRUE(store_->renew_job_lease(current, 60000, &status));
  EXPECT_TRUE(store_->begin_chunk(current, 0).held);
  EXPECT_TRUE(store_->commit_chunk(current, ChunkRow{0, 0, 10, 5, 1, "jobs/j1/chunk-0-g2.avro"}));
  ASSERT_EQ(store_->list_chunks("j1").size(), 1u);
  EXPECT_EQ(store_->list_chunks("j1")[0].file, "jobs/j1/chunk-0-g2.avro");
  EXPECT_EQ(store_->get_job("j1")->rows_done, 10);
}

TEST_P(FencingTest, AStalledWorkerCannotCommitOrFinishOverTheWorkerThatTookItsJob) {
  JobLease a = claim_expired("proc-a/job-0");
  ASSERT_TRUE(store_->begin_chunk(a, 0).held);
  // a stalls; b takes the job over, commits chunk 0 and finishes.
  std::optional<JobRow> row = store_->claim_job("proc-b/job-0", 60000);
  ASSERT_TRUE(row.has_value());
  JobLease b{"j1", "proc-b/job-0", row->lease_generation};
  ASSERT_TRUE(store_->commit_chunk(b, ChunkRow{0, 0, 30, 9, 1, "jobs/j1/chunk-0-g2.avro"}));
  // a wakes up and tries to commit its chunk 0 and to fail the job: both refused.
  EXPECT_FALSE(store_->commit_chunk(a, ChunkRow{0, 0, 30, 99, 1, "jobs/j1/chunk-0-g1.avro"}));
  EXPECT_FALSE(store_->finish_job(a, JobStatus::kFailed, std::nullopt, "woke up late"));
  EXPECT_EQ(store_->list_chunks("j1")[0].file, "jobs/j1/chunk-0-g2.avro");
  EXPECT_EQ(store_->get_job("j1")->input_tokens, 9);
  EXPECT_TRUE(store_->finish_job(b, JobStatus::kComplete, std::nullopt, ""));
  EXPECT_EQ(store_->get_job("j1")->status, JobStatus::kComplete);
  EXPECT_FALSE(store_->finish_job(a, JobStatus::kFailed, std::nullopt, "woke up later"));
  EXPECT_EQ(store_->get_job("j1")->status, JobStatus::kComplete);
  EXPECT_EQ(store_->get_job("j1")->error, "");
}

TEST_P(FencingTest, ChunkAttemptsAreCountedDurablyAndForgottenOnCommit) {
  JobLease l1 = claim_expired("w1");
  ChunkAttempts first = store_->begin_chunk(l1, 3);
  EXPECT_TRUE(first.held);
  EXPECT_EQ(first.previous, 0);
  EXPECT_EQ(store_->record_chunk_failure(l1, 3, "boom"), 1);
  // The process dies; the store is reopened by the next one.
  reopen();
  JobLease l2 = claim_expired("w2");
  ChunkAttempts second = store_->begin_chunk(l2, 3);
  EXPECT_EQ(second.previous, 1);
  EXPECT_EQ(second.last_error, "boom");
  // This attempt dies without a word (SIGKILL): the next begin sees 2 attempts.
  JobLease l3 = claim_expired("w3");
  ChunkAttempts third = store_->begin_chunk(l3, 3);
  EXPECT_EQ(third.previous, 2);
  // A shutdown's attempt is given back: it does not count.
  store_->release_job(l3, 3);
  JobLease l4 = claim_expired("w4");
  EXPECT_EQ(store_->begin_chunk(l4, 3).previous, 2);
  // Other chunks have their own count; a commit forgets the chunk's attempts.
  EXPECT_EQ(store_->begin_chunk(l4, 4).previous, 0);
  ASSERT_TRUE(store_->commit_chunk(l4, ChunkRow{3, 30, 10, 1, 1, "x"}));
  EXPECT_EQ(store_->begin_chunk(l4, 3).previous, 0);
}

EJ_STORE_SUITE(FencingTest);

}  // namespace
}  // namespace ej::store
