// What only the PostgreSQL store does (the contract both stores keep is store_contract_test.cpp
// and the other store_* suites): its versioned schema (migrations recorded, applied once, an
// older database migrated forward, a newer one refused), leases and timestamps on the
// DATABASE's clock, and a pool that recovers from dropped connections. Skipped, saying so, when
// EMBEDJOBS_TEST_PG is unset (store_fixture.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "store/pg_connection.h"
#include "store/pg_schema.h"
#include "store/store.h"
#include "store_fixture.h"

namespace ej::store {
namespace {

class PostgresStore : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string server = test_pg_server();
    if (server.empty()) GTEST_SKIP() << kNoPostgresMessage;
    db_ = std::make_unique<PostgresBackend>(server);
  }
  std::vector<std::string> versions() {
    return db_->column("SELECT version FROM schema_migrations ORDER BY version");
  }
  std::unique_ptr<PostgresBackend> db_;
};

TEST_F(PostgresStore, OpeningAppliesEveryMigrationOnceAndRecordsIt) {
  std::vector<std::string> all;
  for (const pg::Migration& m : pg::migrations()) all.push_back(std::to_string(m.version));
  ASSERT_GE(all.size(), 2u);
  std::unique_ptr<Store> store = db_->open();
  EXPECT_EQ(versions(), all);
  store.reset();
  store = db_->open();  // a second start: nothing to do
  EXPECT_EQ(versions(), all);
}

TEST_F(PostgresStore, MigrateReportsWhatItDid) {
  const std::string last = std::to_string(pg::migrations().back().version);
  EXPECT_EQ(migrate_store(db_->url(), ""), "postgres: schema migrated from version 0 to " + last);
  EXPECT_EQ(migrate_store(db_->url(), ""), "postgres: schema up to date (version " + last + ")");
  EXPECT_EQ(versions().size(), pg::migrations().size());
}

TEST_F(PostgresStore, ADatabaseAtAnOlderVersionIsMigratedForward) {
  // The schema as version 1 left it (no jobs.started_us), with a job in it.
  {
    pg::Connection c(db_->conninfo());
    c.exec(pg::migrations()[0].sql);
    c.exec(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
        "applied_us BIGINT NOT NULL); INSERT INTO schema_migrations VALUES (1, 'v1', 0); "
        "INSERT INTO jobs(id, owner, status, input_dataset_id, model, input_type, truncate, "
        "created_us, updated_us, total_rows) VALUES('old', 'alice', 'processing', 'ds', 'm', "
        "'search_document', 'END', 1, 1, 5)");
  }
  std::unique_ptr<Store> store = db_->open();
  EXPECT_EQ(versions().back(), std::to_string(pg::migrations().back().version));
  std::optional<JobRow> old = store->get_job("old");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->total_rows, 5);
  EXPECT_EQ(old->started_us, 0);
  std::optional<JobRow> claimed = store->claim_job("w", 60000);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_GT(claimed->started_us, 0);
}

TEST_F(PostgresStore, ADatabaseANewerVersionMigratedIsRefused) {
  db_->open().reset();
  db_->exec("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)");
  try {
    db_->open();
    FAIL() << "opened a database at schema version 999";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("version 999, newer than this embedjobs knows"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(PostgresStore, StoresStartingAtOnceMigrateOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      try {
        db_->open();
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(versions().size(), pg::migrations().size());
}

TEST_F(PostgresStore, LeasesAndTimestampsRunOnTheDatabasesClock) {
  // The database's clock runs an hour ahead of this machine's: clock_timestamp() is shadowed,
  // for the store's connections only, by one that adds an hour (a schema searched before
  // pg_catalog). A store on the local clock fails every check below.
  db_->exec(
      "CREATE SCHEMA skew; CREATE FUNCTION skew.clock_timestamp() RETURNS timestamptz "
      "LANGUAGE sql AS $$ SELECT pg_catalog.clock_timestamp() + interval '1 hour' $$");
  std::unique_ptr<Store> store = open_postgres_store(
      pg::conninfo_with(db_->conninfo(), "options", "-csearch_path=public,skew,pg_catalog"));
  constexpr int64_t kHourUs = 3600LL * 1000 * 1000;
  const int64_t local_us = now_us();

  store->insert_job(chunked_job("j1", 20, 10));  // two chunks: only the first is claimed
  std::optional<ChunkClaim> claimed = store->claim_chunk("w1", 60000);
  ASSERT_TRUE(claimed.has_value());
  // started: database time
  EXPECT_GT(store->get_job("j1")->started_us, local_us + kHourUs - 60'000'000);
  // The chunk lease runs to database time + 60 s.
  const int64_t until_ms =
      std::stoll(db_->column("SELECT lease_until_ms FROM job_chunk_leases")[0]);
  EXPECT_GT(until_ms, (local_us + kHourUs) / 1000);
  ASSERT_TRUE(store->commit_chunk(claimed->lease("w1"), ChunkRow{0, 0, 10, 1, 1, "c"}));
  EXPECT_GT(store->get_job("j1")->updated_us, local_us + kHourUs - 60'000'000);
  // A chunk lease that this machine's clock calls live for 10 more minutes expired 50 minutes
  // ago on the database's clock: another worker takes the chunk.
  ASSERT_TRUE(store->claim_chunk("w1", 60000).has_value());
  db_->exec("UPDATE job_chunk_leases SET lease_until_ms = " +
            std::to_string(now_ms() + 10 * 60 * 1000));
  std::optional<ChunkClaim> reclaimed = store->claim_chunk("w3", 60000);
  ASSERT_TRUE(reclaimed.has_value());
  EXPECT_EQ(reclaimed->chunk_index, 1);
  EXPECT_EQ(reclaimed->generation, 2);

  // A lease that this machine's clock calls live for 10 more minutes expired 50 minutes ago on
  // the database's clock: another worker takes the job.
  store->insert_job(test_job("j2"));
  db_->exec("UPDATE jobs SET lease_owner = 'ghost', lease_until_ms = " +
            std::to_string(now_ms() + 10 * 60 * 1000) + " WHERE id = 'j2'");
  std::optional<JobRow> taken = store->claim_job("w2", 60000);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->id, "j2");

  // A dataset's validation lease and an Idempotency-Key's in-flight lease: the same.
  DatasetRow d;
  d.id = "d";
  d.owner = "alice";
  d.name = "d";
  d.dataset_type = "embed-input";
  d.status = DatasetStatus::kProcessing;
  store->insert_dataset(d);
  db_->exec("UPDATE datasets SET lease_owner = 'ghost', lease_until_ms = " +
            std::to_string(now_ms() + 10 * 60 * 1000));
  EXPECT_TRUE(store->claim_dataset_validation("v", 60000).has_value());
  ASSERT_EQ(store->begin_idempotent("alice", "k", "h", "p1", 60000, 86400000).state,
            IdempotencyClaim::State::kStarted);
  db_->exec("UPDATE idempotency_keys SET in_flight_until_ms = " +
            std::to_string(now_ms() + 10 * 60 * 1000));
  EXPECT_EQ(store->begin_idempotent("alice", "k", "h", "p2", 60000, 86400000).state,
            IdempotencyClaim::State::kStarted);
}

TEST_F(PostgresStore, AWorkersChunkCostsOneStatementPerStoreCall) {
  // What a worker asks per committed chunk (service/job_service.cpp): claim the chunk, begin it,
  // commit it; a batch also puts its failed rows; a chunk longer than lease_ms / 3 renews. Each
  // is ONE statement (one round trip, one transaction): docs/postgres.md's cost of a cluster is
  // computed from these counts.
  std::unique_ptr<Store> store = db_->open();
  constexpr int kChunks = 10;
  store->insert_job(chunked_job("j", 10 * kChunks, 10));
  const int64_t before = pg::Connection::statements_sent();
  for (int k = 0; k < kChunks; ++k) {
    const int64_t at_claim = pg::Connection::statements_sent();
    std::optional<ChunkClaim> c = store->claim_chunk("w", 60000);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(pg::Connection::statements_sent() - at_claim, 1);
    const ChunkLease lease = c->lease("w");
    JobStatus status = JobStatus::kFailed;
    ASSERT_TRUE(store->renew_chunk_lease(lease, 60000, &status));
    ASSERT_TRUE(store->begin_chunk(lease).held);
    ASSERT_TRUE(store->put_chunk_failures(lease, 0));
    ASSERT_TRUE(store->commit_chunk(lease, ChunkRow{k, k * 10, 10, 1, 1, "c"}));
  }
  EXPECT_EQ(pg::Connection::statements_sent() - before, 5 * kChunks);
  EXPECT_EQ(store->get_job("j")->rows_done, 10 * kChunks);
}

TEST_F(PostgresStore, TheStoreReconnectsAfterTheServerDropsItsConnections) {
  std::unique_ptr<Store> store = db_->open();
  store->add_api_key("h", "alice", "k");
  ASSERT_EQ(store->count_api_keys(), 1);
  // The server ends every session on the test database but the one asking (a restart, a
  // failover, an idle timeout in a proxy).
  db_->exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
      "AND pid <> pg_backend_pid()");
  // The connection that was dropped fails the call that finds out; the pool closes it and the
  // next call gets a new one.
  int failed = 0;
  int64_t count = -1;
  for (int i = 0; i < 3 && count < 0; ++i) {
    try {
      count = store->count_api_keys();
    } catch (const Error&) {
      ++failed;
    }
  }
  EXPECT_EQ(count, 1);
  EXPECT_LE(failed, 1);
}

TEST_F(PostgresStore, TextItCannotKeepIsRefusedNotCutShort) {
  // SQLite keeps any bytes; PostgreSQL text holds neither NUL characters nor invalid UTF-8. Such
  // a value is a 400 that says so, never a silently shortened name nor a 500.
  std::unique_ptr<Store> store = db_->open();
  JobRow nul = test_job("nul");
  nul.name = std::string("before\0after", 12);
  JobRow latin1 = test_job("latin1");
  latin1.name = "caf\xe9";
  for (const JobRow& j : {nul, latin1}) {
    try {
      store->insert_job(j);
      ADD_FAILURE() << j.id << ": stored";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_EQ(std::string(e.what()).find("INSERT"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(store->get_job(j.id).has_value());
  }
  JobRow fine = test_job("utf8");
  fine.name = "caf\xc3\xa9 \xe2\x9c\x93";
  store->insert_job(fine);
  EXPECT_EQ(store->get_job("utf8")->name, fine.name);
}

TEST_F(PostgresStore, AnUnreachableServerIsAnErrorThatSaysSo) {
  try {
    open_postgres_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
    FAIL() << "connected to port 1";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
}

TEST(StoreUrl, SchemesPickTheStoreAndAnythingElseIsRefused) {
  const std::string dir = ::testing::TempDir() + "ej-store-url-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  EXPECT_NE(open_store("", dir + "/default.db"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir + "/default.db"));
  EXPECT_NE(open_store("sqlite:" + dir + "/named.db", "unused"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir + "/named.db"));
  EXPECT_NE(open_store("sqlite://" + dir + "/slashes.db", "unused"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir + "/slashes.db"));
  EXPECT_EQ(migrate_store("sqlite:" + dir + "/named.db", ""),
            "sqlite " + dir + "/named.db: schema up to date");
  for (const char* bad : {"mysql://u:secret@h/db", "sqlite:", "/just/a/path", "postgres:/x"}) {
    try {
      open_store(bad, "unused");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad;
      EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ej::store
