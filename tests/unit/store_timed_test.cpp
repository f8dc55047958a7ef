// TimedStore forwards every call and counts it: calls and time per Store method, also for a
// call that throws.
#include <gtest/gtest.h>

#include "store/timed_store.h"
#include "store_fixture.h"

namespace ej::store {
namespace {

class TimedStoreTest : public StoreFixture {};
EJ_STORE_SUITE(TimedStoreTest);

TEST_P(TimedStoreTest, ForwardsAndCountsEveryCallByMethod) {
  CallTimings timings;
  std::unique_ptr<Store> timed = make_timed_store(std::move(store_), &timings);
  timed->add_api_key("h1", "alice", "k");
  EXPECT_EQ(timed->owner_for_key_hash("h1"), "alice");
  EXPECT_FALSE(timed->owner_for_key_hash("h2").has_value());
  EXPECT_FALSE(timed->claim_job("w", 1000).has_value());
  auto ops = timings.snapshot();
  EXPECT_EQ(ops["add_api_key"].calls, 1);
  EXPECT_EQ(ops["owner_for_key_hash"].calls, 2);
  EXPECT_EQ(ops["claim_job"].calls, 1);
  EXPECT_EQ(ops.count("insert_job"), 0u);
  EXPECT_GE(ops["claim_job"].total_us, 0);
  EXPECT_NE(timings.summary().find("owner_for_key_hash 2 calls"), std::string::npos)
      << timings.summary();
}

TEST_P(TimedStoreTest, ACallThatThrowsIsCountedToo) {
  CallTimings timings;
  std::unique_ptr<Store> timed = make_timed_store(std::move(store_), &timings);
  DatasetRow d;
  d.id = "ds1";
  d.owner = "alice";
  d.name = "n";
  d.dataset_type = "embed-input";
  timed->insert_dataset(d);
  EXPECT_ANY_THROW(timed->insert_dataset(d));  // the same primary key again
  EXPECT_EQ(timings.snapshot()["insert_dataset"].calls, 2);
}

}  // namespace
}  // namespace ej::store
