// Fencing tokens and durable chunk attempts (the store contract, on every store): a chunk
// claim's generation (and a final step's job lease generation) must be current for any write
// under the lease to land, and the attempts at a chunk survive the process that made them.
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
    store_->insert_job(chunked_job("j1", 30, 10));
  }
  // Claims a chunk of j1 as `worker` with a lease that has already run out (the worker
  // "stalls"): the next claim takes the same chunk back.
  ChunkLease claim_expired(const std::string& worker) {
    return claim_chunk_for(*store_, worker, -1);
  }
  // Commits chunks 1 and 2 of j1 (chunk 0 is the one a test fights over).
  void commit_the_rest(const std::string& worker) {
    for (int64_t k = 1; k <= 2; ++k) {
      const ChunkLease l = claim_chunk_for(*store_, worker);
      ASSERT_EQ(l.chunk_index, k);
      ASSERT_TRUE(store_->commit_chunk(l, chunk_row(k, 10, 1, "c" + std::to_string(k))));
    }
  }
};

TEST_P(FencingTest, EveryClaimOfAChunkIncrementsItsGeneration) {
  ChunkLease a = claim_expired("w1");
  ChunkLease b = claim_expired("w2");
  ChunkLease c = claim_expired("w1");
  EXPECT_EQ(a.chunk_index, 0);
  EXPECT_EQ(b.chunk_index, 0);
  EXPECT_EQ(c.chunk_index, 0);
  EXPECT_EQ(a.generation, 1);
  EXPECT_EQ(b.generation, 2);
  EXPECT_EQ(c.generation, 3);
  // A live lease is not taken: the next claim is the next chunk, at its first generation.
  ChunkLease d = claim_chunk_for(*store_, "w2");
  ChunkLease e = claim_chunk_for(*store_, "w3");
  EXPECT_EQ(d.chunk_index, 0);
  EXPECT_EQ(d.generation, 4);
  EXPECT_EQ(e.chunk_index, 1);
  EXPECT_EQ(e.generation, 1);
}

TEST_P(FencingTest, AStaleGenerationsWritesAreRefusedEvenUnderTheSameWorkerName) {
  // w1 claims chunk 0 (generation 1) and stalls past its lease; the chunk comes back to a worker
  // of the SAME name (generation 2), e.g. a restarted process that reuses its id. Only the owner
  // name would let the stale run through; the generation does not.
  ChunkLease stale = claim_expired("w1");
  ChunkLease current = claim_chunk_for(*store_, "w1");
  ASSERT_EQ(current.chunk_index, stale.chunk_index);
  ASSERT_NE(stale.generation, current.generation);

  JobStatus status = JobStatus::kFailed;
  EXPECT_FALSE(store_->renew_chunk_lease(stale, 60000, &status));
  EXPECT_EQ(status, JobStatus::kProcessing);
  EXPECT_FALSE(store_->begin_chunk(stale).held);
  EXPECT_FALSE(store_->put_chunk_failures(stale, 3));
  EXPECT_FALSE(store_->commit_chunk(stale, ChunkRow{0, 0, 10, 5, 1, "jobs/j1/chunk-0-g1.avro"}));
  EXPECT_EQ(store_->record_chunk_failure(stale, "x"), 0);
  EXPECT_FALSE(store_->fail_job(stale, "stale"));
  store_->release_chunk(stale, false);  // a no-op: the current claim keeps its lease
  EXPECT_TRUE(store_->list_chunks("j1").empty());
  EXPECT_EQ(store_->get_job("j1")->status, JobStatus::kProcessing);
  EXPECT_EQ(store_->get_job("j1")->rows_done, 0);
  EXPECT_EQ(claim_chunk_for(*store_, "w9").chunk_index, 1);  // chunk 0 is still held

  // The current claim is untouched by all of that.
  EXPECT_TRUE(store_->renew_chunk_lease(current, 60000, &status));
  EXPECT_TRUE(store_->begin_chunk(current).held);
  EXPECT_TRUE(store_->commit_chunk(current, ChunkRow{0, 0, 10, 5, 1, "jobs/j1/chunk-0-g2.avro"}));
  ASSERT_EQ(store_->list_chunks("j1").size(), 1u);
  EXPECT_EQ(store_->list_chunks("j1")[0].file, "jobs/j1/chunk-0-g2.avro");
  EXPECT_EQ(store_->get_job("j1")->rows_done, 10);
}

TEST_P(FencingTest, AStalledWorkerCannotCommitOrFailOverTheWorkerThatTookItsChunk) {
  ChunkLease a = claim_expired("proc-a/job-0");
  ASSERT_TRUE(store_->begin_chunk(a).held);
  // a stalls; b takes chunk 0 over and commits it.
  ChunkLease b = claim_chunk_for(*store_, "proc-b/job-0");
  ASSERT_EQ(b.chunk_index, 0);
  ASSERT_TRUE(store_->commit_chunk(b, ChunkRow{0, 0, 10, 9, 1, "jobs/j1/chunk-0-g2.avro"}));
  // a wakes up and tries to commit its chunk 0 and to fail the job: both refused.
  EXPECT_FALSE(store_->commit_chunk(a, ChunkRow{0, 0, 10, 99, 1, "jobs/j1/chunk-0-g1.avro"}));
  EXPECT_FALSE(store_->fail_job(a, "woke up late"));
  EXPECT_EQ(store_->list_chunks("j1")[0].file, "jobs/j1/chunk-0-g2.avro");
  EXPECT_EQ(store_->get_job("j1")->input_tokens, 9);
  // The final step: claimable only once every chunk is committed; its job lease fences finish.
  EXPECT_FALSE(store_->claim_job("proc-b/job-0", 60000).has_value());
  commit_the_rest("proc-b/job-0");
  std::optional<JobRow> first = store_->claim_job("proc-a/job-0", -1);  // stalls too
  ASSERT_TRUE(first.has_value());
  std::optional<JobRow> row = store_->claim_job("proc-b/job-0", 60000);
  ASSERT_TRUE(row.has_value());
  const JobLease late{"j1", "proc-a/job-0", first->lease_generation};
  const JobLease current{"j1", "proc-b/job-0", row->lease_generation};
  EXPECT_FALSE(store_->finish_job(late, JobStatus::kFailed, std::nullopt, "woke up late"));
  EXPECT_TRUE(store_->finish_job(current, JobStatus::kComplete, std::nullopt, ""));
  EXPECT_EQ(store_->get_job("j1")->status, JobStatus::kComplete);
  EXPECT_EQ(store_->get_job("j1")->rows_done, 30);
  EXPECT_FALSE(store_->finish_job(late, JobStatus::kFailed, std::nullopt, "woke up later"));
  EXPECT_EQ(store_->get_job("j1")->status, JobStatus::kComplete);
  EXPECT_EQ(store_->get_job("j1")->error, "");
}

TEST_P(FencingTest, ChunkAttemptsAreCountedDurablyAndForgottenOnCommit) {
  ChunkLease l1 = claim_expired("w1");
  ChunkAttempts first = store_->begin_chunk(l1);
  EXPECT_TRUE(first.held);
  EXPECT_EQ(first.previous, 0);
  EXPECT_EQ(store_->record_chunk_failure(l1, "boom"), 1);
  // The process dies; the store is reopened by the next one.
  reopen();
  ChunkLease l2 = claim_expired("w2");
  ChunkAttempts second = store_->begin_chunk(l2);
  EXPECT_EQ(second.previous, 1);
  EXPECT_EQ(second.last_error, "boom");
  // This attempt dies without a word (SIGKILL): the next begin sees 2 attempts.
  ChunkLease l3 = claim_chunk_for(*store_, "w3");
  ASSERT_EQ(l3.chunk_index, 0);
  ChunkAttempts third = store_->begin_chunk(l3);
  EXPECT_EQ(third.previous, 2);
  // A shutdown's attempt is given back: it does not count, and the chunk is claimable at once.
  store_->release_chunk(l3, false);
  ChunkLease l4 = claim_chunk_for(*store_, "w4");
  ASSERT_EQ(l4.chunk_index, 0);
  EXPECT_GT(l4.generation, l3.generation);
  EXPECT_EQ(store_->begin_chunk(l4).previous, 2);
  // A failed attempt handed back counts.
  store_->release_chunk(l4, true);
  ChunkLease l5 = claim_chunk_for(*store_, "w5");
  ASSERT_EQ(l5.chunk_index, 0);
  EXPECT_EQ(store_->begin_chunk(l5).previous, 3);
  // Other chunks have their own count; a commit forgets the chunk's attempts.
  ChunkLease other = claim_chunk_for(*store_, "w4");
  ASSERT_EQ(other.chunk_index, 1);
  EXPECT_EQ(store_->begin_chunk(other).previous, 0);
  ASSERT_TRUE(store_->commit_chunk(l5, ChunkRow{0, 0, 10, 1, 1, "x"}));
  EXPECT_EQ(backend_->column("SELECT COUNT(*) FROM job_chunk_attempts WHERE chunk_index = 0"),
            (std::vector<std::string>{"0"}));
}

TEST_P(FencingTest, TheFinalStepCountsItsAttemptsUnderTheJobLease) {
  store_->insert_job(test_job("f", "alice", 0));  // no chunks: its final step is due at once
  std::optional<JobRow> r1 = store_->claim_job("w1", -1);
  ASSERT_TRUE(r1.has_value());
  ASSERT_EQ(r1->id, "f");
  const JobLease l1{"f", "w1", r1->lease_generation};
  EXPECT_EQ(store_->begin_chunk(l1, 0).previous, 0);
  EXPECT_EQ(store_->record_chunk_failure(l1, 0, "disk"), 1);
  std::optional<JobRow> r2 = store_->claim_job("w2", 60000);
  ASSERT_TRUE(r2.has_value());
  const JobLease l2{"f", "w2", r2->lease_generation};
  EXPECT_FALSE(store_->begin_chunk(l1, 0).held);  // stale
  ChunkAttempts a = store_->begin_chunk(l2, 0);
  EXPECT_EQ(a.previous, 1);
  EXPECT_EQ(a.last_error, "disk");
  store_->release_job(l2, 0);  // shutdown: not counted; the final step is claimable at once
  std::optional<JobRow> r3 = store_->claim_job("w3", 60000);
  ASSERT_TRUE(r3.has_value());
  EXPECT_EQ(store_->begin_chunk(JobLease{"f", "w3", r3->lease_generation}, 0).previous, 1);
}

EJ_STORE_SUITE(FencingTest);

}  // namespace
}  // namespace ej::store
