// The fixture every store test shares, and where a test picks its store: each test of a suite
// built on StoreFixture runs once per store, on a database of its own made for it and removed
// afterwards:
//   .../sqlite    a temp folder with one SQLite file
//   .../postgres  a fresh database (CREATE DATABASE ej_test_<pid>_<n>) on the server that env
//                 EMBEDJOBS_TEST_PG names (a libpq URL or conninfo; scripts/pg_test_server.sh
//                 starts one). Unset: the PostgreSQL variants are SKIPPED, saying so.
// Helpers run on the test's thread (a Store itself is thread-safe).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "store/pg_connection.h"
#include "store/store.h"

namespace ej::store {

enum class StoreKind { kSqlite, kPostgres };

inline void PrintTo(StoreKind k, std::ostream* os) {
  *os << (k == StoreKind::kSqlite ? "sqlite" : "postgres");
}

inline const char* kNoPostgresMessage =
    "PostgreSQL variant not run: set EMBEDJOBS_TEST_PG to a PostgreSQL server URL "
    "(eval \"$(bash scripts/pg_test_server.sh start)\" starts a throwaway one)";

// The server the PostgreSQL variants use; "" when none is set.
inline std::string test_pg_server() {
  const char* v = std::getenv("EMBEDJOBS_TEST_PG");
  return v ? v : "";
}

// One test's database, and Store objects on it (each like another process's).
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  virtual std::unique_ptr<Store> open() = 0;
  // The first column of every row `sql` returns, read beside the store (to look under it).
  virtual std::vector<std::string> column(const std::string& sql) = 0;
  // Runs `sql` beside the store (to set up a state the store cannot make through its methods).
  virtual void exec(const std::string& sql) = 0;
};

class SqliteBackend final : public StoreBackend {
 public:
  explicit SqliteBackend(const std::string& name) {
    dir_ = std::filesystem::temp_directory_path() /
           ("ej-store-" + std::to_string(getpid()) + "-" + name);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~SqliteBackend() override { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "t.db").string(); }
  std::unique_ptr<Store> open() override { return open_sqlite_store(path()); }
  std::vector<std::string> column(const std::string& sql) override {
    std::vector<std::string> out;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* v = sqlite3_column_text(st, 0);
      out.push_back(v ? reinterpret_cast<const char*>(v) : "");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  void exec(const std::string& sql) override {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

 private:
  std::filesystem::path dir_;
};

class PostgresBackend final : public StoreBackend {
 public:
  // Creates the database on the server `server` names.
  explicit PostgresBackend(const std::string& server) : server_(server) {
    static std::atomic<int> n{0};
    db_name_ = "ej_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
    pg::Connection admin(server_);
    admin.exec("DROP DATABASE IF EXISTS " + pg::quote_identifier(db_name_));
    admin.exec("CREATE DATABASE " + pg::quote_identifier(db_name_));
    conninfo_ = pg::conninfo_with(server_, "dbname", db_name_);
  }
  ~PostgresBackend() override {
    try {
      pg::Connection admin(server_);
      admin.exec("DROP DATABASE IF EXISTS " + pg::quote_identifier(db_name_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "dropping " << db_name_ << ": " << e.what();
    }
  }
  // The test database's connection string (for a store opened with other settings).
  const std::string& conninfo() const { return conninfo_; }
  // The same as a postgresql:// URL (what --store takes): postgresql:///DB?host=...&port=...
  std::string url() const {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(conninfo_.c_str(), &err);
    EXPECT_NE(opts, nullptr) << (err ? err : "");
    PQfreemem(err);
    std::string query;
    for (PQconninfoOption* o = opts; o && o->keyword; ++o) {
      if (!o->val || std::string(o->keyword) == "dbname") continue;
      query += (query.empty() ? "?" : "&") + std::string(o->keyword) + "=";
      for (unsigned char c : std::string(o->val)) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
          query += static_cast<char>(c);
        } else {
          char hex[4];
          std::snprintf(hex, sizeof hex, "%%%02X", c);
          query += hex;
        }
      }
    }
    PQconninfoFree(opts);
    return "postgresql:///" + db_name_ + query;
  }
  std::unique_ptr<Store> open() override { return open_postgres_store(conninfo_); }
  std::vector<std::string> column(const std::string& sql) override {
    pg::Connection c(conninfo_);
    pg::Result r = c.exec(sql);
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  }
  void exec(const std::string& sql) override { pg::Connection(conninfo_).exec(sql); }

 private:
  std::string server_, db_name_, conninfo_;
};

// A processing embed job of `owner` created at `created_us`: what most store tests insert.
inline JobRow test_job(const std::string& id, const std::string& owner = "alice",
                       int64_t created_us = 1) {
  JobRow j;
  j.id = id;
  j.owner = owner;
  j.status = JobStatus::kProcessing;
  j.input_dataset_id = "ds";
  j.model = "m";
  j.input_type = "search_document";
  j.truncate = "END";
  j.created_us = created_us;
  j.updated_us = created_us;
  j.total_rows = 30;
  return j;
}

// test_job split into chunks of `chunk_rows` rows (store.h "Chunk leases").
inline JobRow chunked_job(const std::string& id, int64_t total_rows, int64_t chunk_rows,
                          int64_t created_us = 1) {
  JobRow j = test_job(id, "alice", created_us);
  j.total_rows = total_rows;
  j.chunk_rows = chunk_rows;
  return j;
}

// Claims a chunk for `worker` (lease_ms -1: a lease that has expired at once); a test failure
// and a lease of generation -1 (which holds nothing) when there is none.
inline ChunkLease claim_chunk_for(Store& store, const std::string& worker,
                                  int64_t lease_ms = 60000) {
  std::optional<ChunkClaim> c = store.claim_chunk(worker, lease_ms);
  EXPECT_TRUE(c.has_value()) << worker << " found no chunk to claim";
  if (!c) return ChunkLease{"", -1, worker, -1};
  return c->lease(worker);
}

// A committed chunk's row for chunk `k` of a job in chunks of `chunk_rows`.
inline ChunkRow chunk_row(int64_t k, int64_t chunk_rows, int64_t tokens, const std::string& file) {
  return ChunkRow{k, k * chunk_rows, chunk_rows, tokens, 1, file};
}

inline std::string store_kind_name(const ::testing::TestParamInfo<StoreKind>& info) {
  return info.param == StoreKind::kSqlite ? "sqlite" : "postgres";
}

// A fresh store per test (store_), on the store GetParam() names; reopen() replaces it by a new
// Store object on the same database, as a restarted process would open it.
class StoreFixture : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    if (GetParam() == StoreKind::kPostgres) {
      const std::string server = test_pg_server();
      if (server.empty()) GTEST_SKIP() << kNoPostgresMessage;
      backend_ = std::make_unique<PostgresBackend>(server);
    } else {
      const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
      std::string name = std::string(t->test_suite_name()) + "-" + t->name();
      for (char& c : name) {
        if (c == '/') c = '_';
      }
      backend_ = std::make_unique<SqliteBackend>(name);
    }
    store_ = backend_->open();
  }
  void TearDown() override {
    store_.reset();
    backend_.reset();
  }
  void reopen() {
    store_.reset();
    store_ = backend_->open();
  }
  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<Store> store_;
};

// Runs every TEST_P of `suite` (a StoreFixture) on each store.
#define EJ_STORE_SUITE(suite)                                                                \
  INSTANTIATE_TEST_SUITE_P(                                                                  \
      Stores, suite,                                                                         \
      ::testing::Values(::ej::store::StoreKind::kSqlite, ::ej::store::StoreKind::kPostgres), \
      ::ej::store::store_kind_name)

}  // namespace ej::store
