// BlobStore: the contract every implementation keeps (one suite, parameterized over store
// factories: the filesystem store now; a PostgreSQL store joins the list). Put a finished local
// file under a key, read it whole or by range, size / exists, fetch as a local file, delete one
// key or a prefix (and nothing else), and refuse keys that could leave the store.
#include <gtest/gtest.h>
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
  std::function<std::unique_ptr<BlobStore>(const fs::path& dir)> open;
};

class BlobStoreTest : public ::testing::TestWithParam<Factory> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ej-blobs-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "local");
    blobs_ = GetParam().open(dir_ / "root");
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
  std::string content(200000, '\0');
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
    ::testing::Values(Factory{
        "filesystem",
        [](const fs::path& dir) { return open_filesystem_blob_store(dir.string()); }}),
    [](const ::testing::TestParamInfo<Factory>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ej::service
