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
  JobRow b = chunked_job("b", 20, 10);
  b.kind = "batch";
  store_->insert_job(b);
  const ChunkLease c0 = claim_chunk_for(*store_, "w");
  const ChunkLease c1 = claim_chunk_for(*store_, "w");
  ASSERT_EQ(c0.chunk_index, 0);
  ASSERT_EQ(c1.chunk_index, 1);
  EXPECT_TRUE(store_->put_chunk_failures(c0, 3));
  EXPECT_TRUE(store_->put_chunk_failures(c0, 3));  // a replayed attempt writes the same count
  EXPECT_TRUE(store_->put_chunk_failures(c1, 2));
  EXPECT_EQ(store_->failed_rows("b"), 0);
  ASSERT_TRUE(store_->commit_chunk(c0, chunk_row(0, 10, 5, "c0")));
  EXPECT_EQ(store_->failed_rows("b"), 3);
  // The commit ended c0's lease: nothing more is written under it.
  EXPECT_FALSE(store_->put_chunk_failures(c0, 7));
  ASSERT_TRUE(store_->commit_chunk(c1, chunk_row(1, 10, 5, "c1")));
  EXPECT_EQ(store_->failed_rows("b"), 5);
  EXPECT_EQ(store_->failed_rows("other"), 0);
}

TEST_P(StoreBatchTest, ChunkFailuresAreFencedByTheLease) {
  JobRow b = chunked_job("b", 10, 10);
  b.kind = "batch";
  store_->insert_job(b);
  const ChunkLease stale = claim_chunk_for(*store_, "w1", -1);  // expires at once
  const ChunkLease current = claim_chunk_for(*store_, "w2");
  ASSERT_EQ(current.chunk_index, stale.chunk_index);
  EXPECT_GT(current.generation, stale.generation);
  EXPECT_TRUE(store_->put_chunk_failures(current, 2));
  ASSERT_TRUE(store_->commit_chunk(current, chunk_row(0, 10, 5, "c0-g2")));
  // The stalled first claim wakes up: its count must not replace the committed one.
  EXPECT_FALSE(store_->put_chunk_failures(stale, 9));
  EXPECT_EQ(store_->failed_rows("b"), 2);
}

EJ_STORE_SUITE(StoreBatchTest);

}  // namespace
}  // namespace ej::store
