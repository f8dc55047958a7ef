// What only the SQLite store does (the contract both stores keep is store_contract_test.cpp):
// a database file made by an older version gains the columns added since, on open.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store_fixture.h"

namespace ej::store {
namespace {

TEST(SqliteStore, ADatabaseFromAnOlderVersionGainsTheNewColumns) {
  SqliteBackend backend("old-version");
  // The jobs table as version 0.1.0 made it (no model_identity, no started_us).
  backend.exec(R"SQL(
      CREATE TABLE jobs (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL, input_dataset_id TEXT NOT NULL,
        output_dataset_id TEXT NOT NULL DEFAULT '', model TEXT NOT NULL, input_type TEXT NOT NULL,
        truncate TEXT NOT NULL, embedding_types TEXT NOT NULL DEFAULT '[]',
        created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,
        total_rows INTEGER NOT NULL DEFAULT 0, rows_done INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
        lease_owner TEXT NOT NULL DEFAULT '', lease_until_ms INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0);
      INSERT INTO jobs(id, owner, status, input_dataset_id, model, input_type, truncate,
        created_us, updated_us, total_rows) VALUES('old', 'alice', 'processing', 'ds', 'm',
        'search_document', 'END', 1, 1, 5);)SQL");
  std::unique_ptr<Store> store = backend.open();
  auto job = store->get_job("old");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->model_identity, "");
  EXPECT_EQ(job->total_rows, 5);
  EXPECT_EQ(job->started_us, 0);
  JobRow j;
  j.id = "new";
  j.owner = "alice";
  j.input_dataset_id = "ds";
  j.model = "m";
  j.created_us = 2;
  j.model_identity = "sha256:abc";
  store->insert_job(j);
  EXPECT_EQ(store->get_job("new")->model_identity, "sha256:abc");
  // The old job runs like any other: its first claim records when it started.
  std::optional<JobRow> claimed = store->claim_job("w", 60000);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->id, "old");
  EXPECT_GT(claimed->started_us, 0);
}

}  // namespace
}  // namespace ej::store
