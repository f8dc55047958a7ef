// The store contract, run on every store (store_fixture.h: SQLite and PostgreSQL): API keys,
// secrets, datasets, validation and job claims, chunks, cancel, list filters and ordering,
// per-owner isolation, reopen.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/clock.h"
#include "store/store.h"
#include "store_fixture.h"

namespace ej::store {
namespace {

class StoreTest : public StoreFixture {
 protected:
  DatasetRow dataset(const std::string& id, const std::string& owner, int64_t created) {
    DatasetRow r;
    r.id = id;
    r.owner = owner;
    r.name = id;
    r.dataset_type = "embed-input";
    r.status = DatasetStatus::kQueued;
    r.created_us = created;
    r.updated_us = created;
    r.size_bytes = 100;
    return r;
  }
  JobRow job(const std::string& id, const std::string& owner, int64_t created) {
    JobRow j = test_job(id, owner, created);
    j.embedding_types = {"float", "int8"};
    return j;
  }
};

TEST_P(StoreTest, ApiKeysMapHashesToOwners) {
  EXPECT_EQ(store_->count_api_keys(), 0);
  store_->add_api_key("h1", "alice", "k");
  EXPECT_EQ(store_->owner_for_key_hash("h1"), "alice");
  EXPECT_FALSE(store_->owner_for_key_hash("h2").has_value());
  EXPECT_EQ(store_->count_api_keys(), 1);
}

TEST_P(StoreTest, TheFirstStoredSecretWinsAndSurvivesReopen) {
  EXPECT_EQ(store_->get_or_create_secret("url_signing", "aaa"), "aaa");
  EXPECT_EQ(store_->get_or_create_secret("url_signing", "bbb"), "aaa");
  EXPECT_EQ(store_->get_or_create_secret("api_keys", "ccc"), "ccc");
  reopen();
  EXPECT_EQ(store_->get_or_create_secret("url_signing", "ddd"), "aaa");
}

TEST_P(StoreTest, DatasetsListFilterAndUsageAreScopedToTheOwner) {
  store_->insert_dataset(dataset("a", "alice", 1000));
  store_->insert_dataset(dataset("b", "alice", 2000));
  store_->insert_dataset(dataset("c", "bob", 3000));
  auto list = store_->list_datasets("alice", {});
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "b");  // newest first
  DatasetFilter f;
  f.before_us = 1500;
  EXPECT_EQ(store_->list_datasets("alice", f).size(), 1u);
  f = {};
  f.limit = 1;
  f.offset = 1;
  ASSERT_EQ(store_->list_datasets("alice", f).size(), 1u);
  EXPECT_EQ(store_->list_datasets("alice", f)[0].id, "a");
  f = {};
  f.status = DatasetStatus::kValidated;
  EXPECT_TRUE(store_->list_datasets("alice", f).empty());
  EXPECT_EQ(store_->usage_bytes("alice"), 200);
  EXPECT_TRUE(store_->delete_dataset("a"));
  EXPECT_FALSE(store_->delete_dataset("a"));
  EXPECT_EQ(store_->usage_bytes("alice"), 100);
}

TEST_P(StoreTest, ValidationClaimIsExclusiveUntilTheLeaseRunsOut) {
  store_->insert_dataset(dataset("a", "alice", 1000));
  auto claimed = store_->claim_dataset_validation("w1", 60000);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->status, DatasetStatus::kProcessing);
  EXPECT_FALSE(store_->claim_dataset_validation("w2", 60000).has_value());
  claimed->status = DatasetStatus::kValidated;
  claimed->num_rows = 5;
  claimed->info = {{"parts", nlohmann::json::array()}};
  EXPECT_FALSE(store_->finish_dataset_validation(*claimed, "w2"));  // not the lease holder
  EXPECT_TRUE(store_->finish_dataset_validation(*claimed, "w1"));
  EXPECT_EQ(store_->get_dataset("a")->status, DatasetStatus::kValidated);
  EXPECT_EQ(store_->get_dataset("a")->num_rows, 5);
}

TEST_P(StoreTest, ExpiredValidationLeaseIsReclaimed) {
  store_->insert_dataset(dataset("a", "alice", 1000));
  ASSERT_TRUE(store_->claim_dataset_validation("w1", -1).has_value());  // already expired
  auto again = store_->claim_dataset_validation("w2", 60000);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempts, 2);
}

TEST_P(StoreTest, JobsListNewestFirstAndCancelIsIdempotent) {
  store_->insert_job(job("j1", "alice", 1000));
  store_->insert_job(job("j2", "alice", 2000));
  store_->insert_job(job("j3", "bob", 3000));
  auto list = store_->list_jobs("alice");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, "j2");
  EXPECT_EQ(list[0].embedding_types, (std::vector<std::string>{"float", "int8"}));
  EXPECT_EQ(store_->request_cancel("j1"), JobStatus::kCancelling);
  EXPECT_EQ(store_->request_cancel("j1"), JobStatus::kCancelling);
  EXPECT_EQ(store_->request_cancel("nope"), std::nullopt);
}

TEST_P(StoreTest, ChunksCommitOnceUnderTheLeaseAndFinishIsAtomic) {
  JobRow j1 = job("j1", "alice", 1000);
  j1.total_rows = 10;
  j1.chunk_rows = 10;
  store_->insert_job(j1);
  EXPECT_FALSE(store_->claim_job("w1", 60000).has_value());  // its chunk is not committed
  const ChunkLease w1 = claim_chunk_for(*store_, "w1");
  EXPECT_FALSE(store_->claim_chunk("w2", 60000).has_value());  // its only chunk is held
  const ChunkLease w2{"j1", w1.chunk_index, "w2", w1.generation};
  ChunkRow c{0, 0, 10, 40, 123, "jobs/j1/chunk-0.avro"};
  EXPECT_FALSE(store_->commit_chunk(w2, c));                                // not the holder
  EXPECT_FALSE(store_->commit_chunk(w1, ChunkRow{1, 10, 10, 40, 1, "x"}));  // not its chunk
  EXPECT_TRUE(store_->commit_chunk(w1, c));
  EXPECT_FALSE(store_->commit_chunk(w1, c));  // the commit ended the lease: no double count
  auto j = store_->get_job("j1");
  EXPECT_EQ(j->rows_done, 10);
  EXPECT_EQ(j->input_tokens, 40);
  EXPECT_EQ(store_->list_chunks("j1").size(), 1u);
  EXPECT_FALSE(store_->claim_chunk("w2", 60000).has_value());  // a committed chunk is done

  // Every chunk committed: the final step is claimable, once.
  auto claimed = store_->claim_job("w1", 60000);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_FALSE(store_->claim_job("w2", 60000).has_value());
  const JobLease f1{"j1", "w1", claimed->lease_generation};
  const JobLease f2{"j1", "w2", claimed->lease_generation};
  JobStatus status = JobStatus::kFailed;
  EXPECT_TRUE(store_->renew_job_lease(f1, 60000, &status));
  EXPECT_EQ(status, JobStatus::kProcessing);
  EXPECT_FALSE(store_->renew_job_lease(f2, 60000, &status));

  DatasetRow out = dataset("out", "alice", 5000);
  out.status = DatasetStatus::kValidated;
  out.dataset_type = "embed-result";
  EXPECT_FALSE(store_->finish_job(f2, JobStatus::kComplete, out, ""));
  EXPECT_FALSE(store_->get_dataset("out").has_value());
  EXPECT_TRUE(store_->finish_job(f1, JobStatus::kComplete, out, ""));
  EXPECT_EQ(store_->get_job("j1")->status, JobStatus::kComplete);
  EXPECT_EQ(store_->get_job("j1")->output_dataset_id, "out");
  EXPECT_TRUE(store_->get_dataset("out").has_value());
  EXPECT_FALSE(store_->claim_job("w2", 60000).has_value());  // finished jobs are not claimed
}

TEST_P(StoreTest, CancelStopsChunkClaimsAndItsFinalStepWaitsForTheLiveChunkLeases) {
  store_->insert_job(chunked_job("j1", 40, 10, 1000));
  const ChunkLease held = claim_chunk_for(*store_, "w1");
  const ChunkLease expired = claim_chunk_for(*store_, "w2", -1);
  ASSERT_EQ(store_->request_cancel("j1"), JobStatus::kCancelling);
  // No chunk of a cancelling job is handed out: neither a new one nor the expired one.
  EXPECT_FALSE(store_->claim_chunk("w3", 60000).has_value());
  // Its holder sees the cancel when it renews; its final step waits while a chunk lease lives.
  JobStatus status = JobStatus::kProcessing;
  EXPECT_TRUE(store_->renew_chunk_lease(held, 60000, &status));
  EXPECT_EQ(status, JobStatus::kCancelling);
  EXPECT_FALSE(store_->claim_job("w3", 60000).has_value());
  // A chunk in flight may still commit (the cancelled output keeps the committed prefix).
  EXPECT_TRUE(store_->commit_chunk(held, chunk_row(0, 10, 1, "c0")));
  std::optional<JobRow> final_step = store_->claim_job("w3", 60000);
  ASSERT_TRUE(final_step.has_value());
  EXPECT_EQ(final_step->status, JobStatus::kCancelling);
  DatasetRow out = dataset("out", "alice", 5000);
  out.num_rows = 10;
  ASSERT_TRUE(store_->finish_job(JobLease{"j1", "w3", final_step->lease_generation},
                                 JobStatus::kCancelled, out, ""));
  EXPECT_EQ(store_->get_job("j1")->rows_done, 10);
  // The finish ended every chunk lease: the late holder's writes are refused.
  EXPECT_FALSE(store_->begin_chunk(expired).held);
  EXPECT_FALSE(store_->commit_chunk(expired, chunk_row(1, 10, 1, "c1")));
}

TEST_P(StoreTest, ARejectedChunkFailsTheJobAndEndsEveryChunkLease) {
  store_->insert_job(chunked_job("j1", 30, 10, 1000));
  const ChunkLease poison = claim_chunk_for(*store_, "w1");
  const ChunkLease other = claim_chunk_for(*store_, "w2");
  EXPECT_TRUE(store_->fail_job(poison, "rows 0-9 failed 3 times: boom"));
  EXPECT_EQ(store_->get_job("j1")->status, JobStatus::kFailed);
  EXPECT_EQ(store_->get_job("j1")->error, "rows 0-9 failed 3 times: boom");
  EXPECT_FALSE(store_->commit_chunk(other, chunk_row(1, 10, 1, "c1")));
  EXPECT_FALSE(store_->fail_job(other, "again"));
  EXPECT_FALSE(store_->claim_chunk("w3", 60000).has_value());
  EXPECT_FALSE(store_->claim_job("w3", 60000).has_value());
}

TEST_P(StoreTest, AJobWithoutRowsHasNoChunksAndItsFinalStepIsDueAtOnce) {
  JobRow empty = chunked_job("j0", 0, 10, 1000);
  store_->insert_job(empty);
  EXPECT_EQ(chunk_count(empty), 0);
  EXPECT_EQ(chunk_count(chunked_job("x", 31, 10)), 4);
  EXPECT_EQ(chunk_count(chunked_job("x", 30, 10)), 3);
  EXPECT_FALSE(store_->claim_chunk("w1", 60000).has_value());
  std::optional<JobRow> final_step = store_->claim_job("w1", 60000);
  ASSERT_TRUE(final_step.has_value());
  EXPECT_EQ(final_step->id, "j0");
  EXPECT_GT(final_step->started_us, 0);
}

TEST_P(StoreTest, DeadWorkersFinalStepIsResumedAfterItsLeaseExpires) {
  store_->insert_job(job("j1", "alice", 1000));  // no chunks: the final step is due at once
  auto first = store_->claim_job("w1", -1);
  ASSERT_TRUE(first.has_value());
  auto again = store_->claim_job("w2", 60000);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempts, 2);
  EXPECT_GT(again->lease_generation, first->lease_generation);
  EXPECT_FALSE(store_->finish_job(JobLease{"j1", "w1", first->lease_generation},
                                  JobStatus::kComplete, std::nullopt, ""));
}

TEST_P(StoreTest, ClaimsTakeTheOldestJobAndTheFirstClaimRecordsItsStart) {
  store_->insert_job(job("j2", "alice", 2000));
  store_->insert_job(job("j1", "bob", 1000));
  EXPECT_EQ(store_->get_job("j1")->started_us, 0);  // queued: not started
  const int64_t before_us = now_us();
  std::optional<JobRow> first = store_->claim_job("w1", -1);  // expires at once
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->id, "j1");
  // The store's clock (the database's, for PostgreSQL) on this same machine: near ours.
  EXPECT_NEAR(static_cast<double>(first->started_us), static_cast<double>(before_us), 60e6);
  EXPECT_EQ(store_->get_job("j1")->started_us, first->started_us);
  // A later claim (the first worker died) keeps the first start.
  std::optional<JobRow> again = store_->claim_job("w2", 60000);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->id, "j1");
  EXPECT_EQ(again->started_us, first->started_us);
  EXPECT_EQ(store_->claim_job("w3", 60000)->id, "j2");
  EXPECT_FALSE(store_->claim_job("w4", 60000).has_value());
}

TEST_P(StoreTest, ApiKeysRehashListAndDelete) {
  store_->add_api_key("legacy", "alice", "laptop");
  store_->add_api_key("h-bob", "bob", "ci");
  EXPECT_TRUE(store_->rehash_api_key("legacy", "hmac:1"));
  EXPECT_FALSE(store_->rehash_api_key("legacy", "hmac:1"));  // gone under its old hash
  EXPECT_EQ(store_->owner_for_key_hash("hmac:1"), "alice");
  // A row already under the new hash gives way to the rehashed one.
  store_->add_api_key("legacy2", "carol", "old");
  store_->add_api_key("hmac:2", "carol", "new");
  EXPECT_TRUE(store_->rehash_api_key("legacy2", "hmac:2"));
  EXPECT_EQ(store_->count_api_keys(), 3);
  std::vector<ApiKeyRow> keys = store_->list_api_keys();
  ASSERT_EQ(keys.size(), 3u);
  for (const ApiKeyRow& k : keys) {
    if (k.key_hash == "hmac:2") {
      EXPECT_EQ(k.name, "old");
    }
    EXPECT_GT(k.created_us, 0);
  }
  EXPECT_TRUE(store_->delete_api_key("h-bob"));
  EXPECT_FALSE(store_->delete_api_key("h-bob"));
  EXPECT_FALSE(store_->owner_for_key_hash("h-bob").has_value());
}

TEST_P(StoreTest, ExpiredDatasetsAreThoseNoRunningJobReads) {
  store_->insert_dataset(dataset("old-free", "alice", 1000));
  store_->insert_dataset(dataset("old-read", "alice", 1100));
  store_->insert_dataset(dataset("new", "alice", 9000));
  JobRow j = job("j", "alice", 1200);
  j.input_dataset_id = "old-read";
  store_->insert_job(j);
  EXPECT_EQ(store_->list_expired_datasets(5000, 10), (std::vector<std::string>{"old-free"}));
  auto claimed = store_->claim_job("w", 60000);
  ASSERT_TRUE(claimed.has_value());
  ASSERT_TRUE(store_->finish_job(JobLease{"j", "w", claimed->lease_generation},
                                 JobStatus::kComplete, std::nullopt, ""));
  EXPECT_EQ(store_->list_expired_datasets(5000, 10),
            (std::vector<std::string>{"old-free", "old-read"}));
  EXPECT_EQ(store_->list_expired_datasets(5000, 1).size(), 1u);
}

TEST_P(StoreTest, EveryStatusRoundTripsThroughItsColumn) {
  int n = 0;
  for (JobStatus st : {JobStatus::kProcessing, JobStatus::kCancelling, JobStatus::kCancelled,
                       JobStatus::kComplete, JobStatus::kFailed}) {
    JobRow j = job("j" + std::to_string(n), "alice", 1000 + n);
    j.status = st;
    store_->insert_job(j);
    EXPECT_EQ(store_->get_job(j.id)->status, st);
    EXPECT_EQ(parse_job_status(status_name(st)), st);
    ++n;
  }
  for (DatasetStatus st : {DatasetStatus::kQueued, DatasetStatus::kProcessing,
                           DatasetStatus::kValidated, DatasetStatus::kFailed}) {
    DatasetRow d = dataset("d" + std::to_string(n), "alice", 1000 + n);
    d.status = st;
    store_->insert_dataset(d);
    EXPECT_EQ(store_->get_dataset(d.id)->status, st);
    DatasetFilter f;
    f.status = st;
    ASSERT_EQ(store_->list_datasets("alice", f).size(), 1u);
    EXPECT_EQ(parse_dataset_status(status_name(st)), st);
    ++n;
  }
  EXPECT_EQ(parse_job_status("done"), std::nullopt);
  EXPECT_EQ(parse_dataset_status(""), std::nullopt);
}

TEST_P(StoreTest, StateSurvivesReopen) {
  store_->insert_job(chunked_job("j1", 30, 10, 1000));
  const ChunkLease c0 = claim_chunk_for(*store_, "w1");
  const ChunkLease c1 = claim_chunk_for(*store_, "w1");
  ASSERT_TRUE(store_->commit_chunk(c0, ChunkRow{0, 0, 10, 7, 1, "x"}));
  reopen();
  EXPECT_EQ(store_->get_job("j1")->rows_done, 10);
  EXPECT_EQ(store_->get_job("j1")->chunk_rows, 10);
  EXPECT_EQ(store_->list_chunks("j1")[0].tokens, 7);
  // The chunk lease and the chunks handed out survive too: c1 is still held, chunk 2 is next.
  EXPECT_TRUE(store_->commit_chunk(c1, ChunkRow{1, 10, 10, 7, 1, "y"}));
  EXPECT_EQ(claim_chunk_for(*store_, "w2").chunk_index, 2);
}

EJ_STORE_SUITE(StoreTest);

}  // namespace
}  // namespace ej::store
