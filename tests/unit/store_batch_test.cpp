// The store contract for batches (jobs of kind "batch"), on every store: a job's kind
// round-trips, list_jobs_page orders / pages / filters by kind and owner, and failed rows count
// only for committed chunks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/store.h"
#include "store_fixture.h"

namespace ej::store {
namespace {

class StoreBatchTest : public StoreFixture {
 protected:
  void insert(const std::string& id, const std::string& owner, const std::string& kind,
              int64_t created, int64_t updated) {
    JobRow j;
    j.id = id;
    j.owner = owner;
    j.kind = kind;
    j.input_dataset_id = "ds";
    j.model = "m";
    j.created_us = created;
    j.updated_us = updated;
    store_->insert_job(j);
  }
  std::vector<std::string> page(bool by_updated, bool ascending,
                                const std::optional<JobPageKey>& after, int64_t limit) {
    std::vector<std::string> ids;
    for (const auto& j :
         store_->list_jobs_page("alice", "batch", by_updated, ascending, after, limit)) {
      ids.push_back(j.id);
    }
    return ids;
  }
};

TEST_P(StoreBatchTest, KindRoundTripsAndDefaultsToEmbed) {
  insert("b", "alice", "batch", 1, 1);
  JobRow plain;
  plain.id = "j";
  plain.owner = "alice";
  plain.input_dataset_id = "ds";
  plain.model = "m";
  store_->insert_job(plain);
  EXPECT_EQ(store_->get_job("b")->kind, "batch");
  EXPECT_EQ(store_->get_job("j")->kind, "embed");
}

TEST_P(StoreBatchTest, PagesByCreatedOrUpdatedInBothDirectionsWithTiesById) {
  insert("a", "alice", "batch", 10, 50);
  insert("b", "alice", "batch", 20, 40);
  insert("c", "alice", "batch", 20, 30);  // same created_us as b: ties go by id
  insert("d", "alice", "batch", 30, 20);
  insert("e", "alice", "embed", 40, 60);  // another kind
  insert("f", "bob", "batch", 50, 70);    // another owner
  EXPECT_EQ(page(false, false, std::nullopt, 10), (std::vector<std::string>{"d", "b", "c", "a"}));
  EXPECT_EQ(page(false, true, std::nullopt, 10), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(page(true, false, std::nullopt, 10), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(page(true, true, std::nullopt, 10), (std::vector<std::string>{"d", "c", "b", "a"}));
  // Keyset pages: after (created 20, "b") comes c, then a.
  EXPECT_EQ(page(false, false, JobPageKey{20, "b"}, 10), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(page(false, true, JobPageKey{20, "b"}, 1), (std::vector<std::string>{"c"}));
  EXPECT_EQ(page(true, false, JobPageKey{30, "c"}, 10), (std::vector<std::string>{"d"}));
}

TEST_P(StoreBatchTest, FailedRowsCountOnlyCommittedChunks) {
  insert("b", "alice", "batch", 1, 1);
  std::optional<JobRow> claimed = store_->claim_job("w", 60000);
  ASSERT_TRUE(claimed.has_value());
  const JobLease w{"b", "w", claimed->lease_generation};
  EXPECT_TRUE(store_->put_chunk_failures(w, 0, 3));
  EXPECT_TRUE(store_->put_chunk_failures(w, 1, 2));
  EXPECT_EQ(store_->failed_rows("b"), 0);
  ASSERT_TRUE(store_->commit_chunk(w, ChunkRow{0, 0, 10, 5, 1, "c0"}));
  EXPECT_EQ(store_->failed_rows("b"), 3);
  EXPECT_TRUE(store_->put_chunk_failures(w, 0, 3));  // a replayed chunk writes the same count
  ASSERT_TRUE(store_->commit_chunk(w, ChunkRow{1, 10, 10, 5, 1, "c1"}));
  EXPECT_EQ(store_->failed_rows("b"), 5);
  EXPECT_EQ(store_->failed_rows("other"), 0);
}

TEST_P(StoreBatchTest, ChunkFailuresAreFencedByTheLease) {
  insert("b", "alice", "batch", 1, 1);
  std::optional<JobRow> first = store_->claim_job("w1", -1);  // expires at once
  ASSERT_TRUE(first.has_value());
  std::optional<JobRow> second = store_->claim_job("w2", 60000);
  ASSERT_TRUE(second.has_value());
  const JobLease stale{"b", "w1", first->lease_generation};
  const JobLease current{"b", "w2", second->lease_generation};
  EXPECT_TRUE(store_->put_chunk_failures(current, 0, 2));
  ASSERT_TRUE(store_->commit_chunk(current, ChunkRow{0, 0, 10, 5, 1, "c0-g2"}));
  // The stalled first claim wakes up: its count must not replace the committed one.
  EXPECT_FALSE(store_->put_chunk_failures(stale, 0, 9));
  EXPECT_EQ(store_->failed_rows("b"), 2);
}

EJ_STORE_SUITE(StoreBatchTest);

}  // namespace
}  // namespace ej::store
