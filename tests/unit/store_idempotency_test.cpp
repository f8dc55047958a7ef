// Idempotency-Key records (the store contract, on every store): first use runs,
// replays get the kept response, another request under the same key is a mismatch, an in-flight
// record blocks until it finishes or its in-flight lease runs out, keys are per owner and expire.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "store/store.h"
#include "store_fixture.h"

namespace ej::store {
namespace {

using State = IdempotencyClaim::State;
constexpr int64_t kDay = 24LL * 3600 * 1000;

class IdempotencyStoreTest : public StoreFixture {
 protected:
};

TEST_P(IdempotencyStoreTest, FirstRunsThenReplaysTheKeptResponse) {
  EXPECT_EQ(store_->begin_idempotent("alice", "k1", "h1", "p1", 60000, kDay).state,
            State::kStarted);
  EXPECT_EQ(store_->begin_idempotent("alice", "k1", "h1", "p2", 60000, kDay).state,
            State::kInFlight);
  EXPECT_EQ(store_->begin_idempotent("alice", "k1", "h2", "p2", 60000, kDay).state,
            State::kMismatch);
  store_->finish_idempotent("alice", "k1", "p2", 200, "{\"wrong\":1}");  // not the holder
  EXPECT_EQ(store_->begin_idempotent("alice", "k1", "h1", "p2", 60000, kDay).state,
            State::kInFlight);
  store_->finish_idempotent("alice", "k1", "p1", 200, "{\"job_id\":\"j\"}");
  IdempotencyClaim replay = store_->begin_idempotent("alice", "k1", "h1", "p3", 60000, kDay);
  EXPECT_EQ(replay.state, State::kDone);
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, "{\"job_id\":\"j\"}");
  EXPECT_EQ(store_->begin_idempotent("alice", "k1", "h2", "p3", 60000, kDay).state,
            State::kMismatch);
  // Survives a restart.
  reopen();
  EXPECT_EQ(store_->begin_idempotent("alice", "k1", "h1", "p4", 60000, kDay).body,
            "{\"job_id\":\"j\"}");
}

TEST_P(IdempotencyStoreTest, KeysAreScopedToTheirOwner) {
  ASSERT_EQ(store_->begin_idempotent("alice", "k", "h", "p", 60000, kDay).state, State::kStarted);
  store_->finish_idempotent("alice", "k", "p", 200, "alice's");
  EXPECT_EQ(store_->begin_idempotent("bob", "k", "other", "p", 60000, kDay).state, State::kStarted);
}

TEST_P(IdempotencyStoreTest, AnAbandonedRequestRunsAgain) {
  ASSERT_EQ(store_->begin_idempotent("alice", "k", "h", "p1", 60000, kDay).state, State::kStarted);
  store_->abandon_idempotent("alice", "k", "p1");  // it failed with a 5xx: nothing happened
  EXPECT_EQ(store_->begin_idempotent("alice", "k", "h2", "p2", 60000, kDay).state, State::kStarted);
}

TEST_P(IdempotencyStoreTest, AnInFlightRecordWhoseHolderDiedIsTakenOverAfterItsLease) {
  ASSERT_EQ(store_->begin_idempotent("alice", "k", "h", "dead", 20, kDay).state, State::kStarted);
  EXPECT_EQ(store_->begin_idempotent("alice", "k", "h", "p2", 20, kDay).state, State::kInFlight);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  EXPECT_EQ(store_->begin_idempotent("alice", "k", "h", "p2", 60000, kDay).state, State::kStarted);
  store_->finish_idempotent("alice", "k", "dead", 200, "late");  // the old holder: ignored
  store_->finish_idempotent("alice", "k", "p2", 200, "mine");
  EXPECT_EQ(store_->begin_idempotent("alice", "k", "h", "p3", 60000, kDay).body, "mine");
}

TEST_P(IdempotencyStoreTest, ExpiredKeysAreForgottenAndSwept) {
  ASSERT_EQ(store_->begin_idempotent("alice", "old", "h", "p", 60000, 20).state, State::kStarted);
  store_->finish_idempotent("alice", "old", "p", 200, "first");
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  // Expired: the same key runs again, even with another request.
  EXPECT_EQ(store_->begin_idempotent("alice", "old", "h2", "p", 60000, kDay).state,
            State::kStarted);
  // And an expired key nobody asks for again is swept by the next begin.
  ASSERT_EQ(store_->begin_idempotent("alice", "gone", "h", "p", 60000, 20).state, State::kStarted);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  store_->begin_idempotent("alice", "other", "h", "p", 60000, kDay);
  // Read the table directly: the swept record is gone ("old" and "other" remain).
  std::vector<std::string> keys =
      backend_->column("SELECT idem_key FROM idempotency_keys ORDER BY idem_key");
  EXPECT_EQ(keys, (std::vector<std::string>{"old", "other"}));
}

EJ_STORE_SUITE(IdempotencyStoreTest);

}  // namespace
}  // namespace ej::store
