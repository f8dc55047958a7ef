// BlobStore: the contract every implementation keeps (one suite, parameterized over store
// factories: the filesystem store, and the PostgreSQL store on a database of this binary's own
// on the server EMBEDJOBS_TEST_PG names; unset, that variant is SKIPPED, saying so). Put a finished
// local file under a key, read it whole or by range, size / exists, fetch as a local file, delete
// one key or a prefix (and nothing else), and refuse keys that could leave the store.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "common/error.h"
#include "service/blob_store.h"

namespace ej::service {
namespace {

namespace fs = std::filesystem;

struct Factory {
  const char* name;
  // A fresh, empty store (scratch files under `dir`); nullptr: this variant cannot run here.
  std::function<std::unique_ptr<BlobStore>(const fs::path& dir)> open;
};

// Runs `sql` on `conninfo`; "" or the error.
std::string pg_exec(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string err;
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return err;
}

// The conninfo of this binary's own database on the EMBEDJOBS_TEST_PG server (made at first use,
// dropped at exit); "" when the variable is unset.
std::string test_database() {
  static const std::string conninfo = []() -> std::string {
    const char* server = std::getenv("EMBEDJOBS_TEST_PG");
    if (!server || !*server) return "";
    PGconn* c = PQconnectdb(server);
    if (PQstatus(c) != CONNECTION_OK) {
      ADD_FAILURE() << "EMBEDJOBS_TEST_PG: " << PQerrorMessage(c);
      PQfinish(c);
      return "";
    }
    const std::string db = "ej_blob_test_" + std::to_string(getpid());
    std::string info = std::string("host=") + PQhost(c) + " port=" + PQport(c) +
                       " user=" + PQuser(c) + " dbname=" + db;
    PQfinish(c);
    pg_exec(server, "DROP DATABASE IF EXISTS " + db);
    std::string err = pg_exec(server, "CREATE DATABASE " + db);
    if (!err.empty()) ADD_FAILURE() << "CREATE DATABASE " << db << ": " << err;
    static std::string drop_on = server;
    static std::string drop_db = db;
    std::atexit([] { pg_exec(drop_on, "DROP DATABASE IF EXISTS " + drop_db + " WITH (FORCE)"); });
    return info;
  }();
  return conninfo;
}

class BlobStoreTest : public ::testing::TestWithParam<Factory> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ej-blobs-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "local");
    blobs_ = GetParam().open(dir_ / "root");
    if (!blobs_) {
      GTEST_SKIP() << "PostgreSQL variant not run: set EMBEDJOBS_TEST_PG to a PostgreSQL server "
                      "URL";
    }
  }
  void TearDown() override {
    blobs_.reset();
    fs::remove_all(dir_);
  }
  // A finished local file (outside the store) with `content`.
  std::string local(const std::string& name, const std::string& content) {
    std::string path = (dir_ / "local" / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  // Puts `content` under `key` the way writers do: at the staging path, then put_file.
  void put(const std::string& key, const std::string& content) {
    const std::string staged = blobs_->staging_path(key);
    fs::create_directories(fs::path(staged).parent_path());
    std::ofstream(staged, std::ios::binary) << content;
    blobs_->put_file(key, staged);
  }
  std::string read(const std::string& key) {
    std::unique_ptr<BlobReader> b = blobs_->open(key);
    return b ? read_all(*b) : "<missing>";
  }

  fs::path dir_;
  std::unique_ptr<BlobStore> blobs_;
};

TEST_P(BlobStoreTest, PutReadSizeAndReplace) {
  std::string content((5u << 20) / 2 + 12345, '\0');  // more than two 1 MiB database chunks
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + i / 251);
  put("datasets/ds-1/part-0.avro", content);
  EXPECT_EQ(read("datasets/ds-1/part-0.avro"), content);
  EXPECT_EQ(blobs_->size("datasets/ds-1/part-0.avro"), content.size());
  EXPECT_TRUE(blobs_->exists("datasets/ds-1/part-0.avro"));
  // A file from anywhere (an upload) is moved in; the local file is gone afterwards.
  std::string upload = local("incoming", "text\nhello\n");
  blobs_->put_file("uploads/ds-1.upload", upload);
  EXPECT_FALSE(fs::exists(upload));
  EXPECT_EQ(read("uploads/ds-1.upload"), "text\nhello\n");
  // Putting again replaces.
  blobs_->put_file("uploads/ds-1.upload", local("again", "v2"));
  EXPECT_EQ(read("uploads/ds-1.upload"), "v2");
  // An empty blob is a blob.
  put("jobs/j/empty", "");
  EXPECT_EQ(blobs_->size("jobs/j/empty"), 0u);
  EXPECT_EQ(read("jobs/j/empty"), "");
}

TEST_P(BlobStoreTest, RangesReadWhatIsThereAndStopAtTheEnd) {
  put("k/blob", "0123456789");
  std::unique_ptr<BlobReader> b = blobs_->open("k/blob");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->size(), 10u);
  char buf[8];
  EXPECT_EQ(b->read_at(3, buf, 4), 4u);
  EXPECT_EQ(std::string(buf, 4), "3456");
  EXPECT_EQ(b->read_at(7, buf, 8), 3u);  // short at the end
  EXPECT_EQ(std::string(buf, 3), "789");
  EXPECT_EQ(b->read_at(10, buf, 8), 0u);
  EXPECT_EQ(b->read_at(99, buf, 8), 0u);
}

TEST_P(BlobStoreTest, MissingBlobs) {
  EXPECT_EQ(blobs_->open("datasets/none/part-0.avro"), nullptr);
  EXPECT_FALSE(blobs_->size("datasets/none/part-0.avro"));
  EXPECT_FALSE(blobs_->exists("datasets/none/part-0.avro"));
  EXPECT_THROW(blobs_->must_open("datasets/none/part-0.avro"), Error);
  EXPECT_THROW(blobs_->fetch("datasets/none/part-0.avro"), Error);
  blobs_->remove("datasets/none/part-0.avro");  // harmless
  blobs_->remove_prefix("datasets/none");       // harmless
}

TEST_P(BlobStoreTest, FetchGivesALocalFileWithTheBytes) {
  put("uploads/x.upload", "a,b\n1,2\n");
  std::string path;
  {
    std::unique_ptr<LocalBlobFile> f = blobs_->fetch("uploads/x.upload");
    path = f->path();
    std::ifstream in(path, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "a,b\n1,2\n");
  }
  EXPECT_TRUE(blobs_->exists("uploads/x.upload")) << "fetch does not take the blob away";
}

TEST_P(BlobStoreTest, RemoveAndRemovePrefixDeleteOnlyWhatTheyName) {
  put("datasets/a/part-0.avro", "a0");
  put("datasets/a/part-1.avro", "a1");
  put("datasets/ab/part-0.avro", "ab0");  // shares the string prefix "datasets/a"
  put("uploads/a.upload", "up");
  blobs_->remove("datasets/a/part-1.avro");
  EXPECT_FALSE(blobs_->exists("datasets/a/part-1.avro"));
  EXPECT_TRUE(blobs_->exists("datasets/a/part-0.avro"));
  blobs_->remove_prefix("datasets/a");
  EXPECT_FALSE(blobs_->exists("datasets/a/part-0.avro"));
  EXPECT_EQ(read("datasets/ab/part-0.avro"), "ab0");
  EXPECT_EQ(read("uploads/a.upload"), "up");
}

TEST_P(BlobStoreTest, KeysThatCouldLeaveTheStoreAreRefused) {
  for (const char* key : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/"}) {
    EXPECT_THROW(blobs_->open(key), Error) << key;
    EXPECT_THROW(blobs_->put_file(key, local("f", "x")), Error) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Stores, BlobStoreTest,
    ::testing::Values(Factory{"filesystem",
                              [](const fs::path& dir) {
                                return open_filesystem_blob_store(dir.string());
                              }},
                      Factory{"postgres",
                              [](const fs::path& dir) -> std::unique_ptr<BlobStore> {
                                const std::string db = test_database();
                                if (db.empty()) return nullptr;
                                // Each test starts from empty tables.
                                pg_exec(db, "DROP TABLE IF EXISTS ej_blobs, ej_blob_chunks");
                                return open_postgres_blob_store(db, (dir / "scratch").string());
                              }}),
    [](const ::testing::TestParamInfo<Factory>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ej::service
