// The one durable-write rule (common/durable_file.h): temporary file beside the destination,
// permissions from the first byte, publish on commit only, nothing left behind otherwise, and the
// start-up sweep of abandoned temporary files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/durable_file.h"
#include "common/error.h"

namespace ej {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ej_durable_test_XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }
  size_t count() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(path_), {}));
  }

 private:
  std::string path_;
};

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

TEST(DurableFile, PublishesOnlyOnCommit) {
  TempDir dir;
  std::string path = dir.file("sub/out.bin");  // the parent is created
  DurableFile f(path);
  f.write("hello ");
  f.write(std::string_view("world"));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::exists(f.tmp_path()));
  EXPECT_EQ(fs::path(f.tmp_path()).parent_path(), fs::path(path).parent_path());
  EXPECT_EQ(f.commit(), 11u);
  EXPECT_EQ(read(path), "hello world");
  EXPECT_FALSE(fs::exists(f.tmp_path()));
  EXPECT_THROW(f.write("late"), Error);
}

TEST(DurableFile, DestroyedWithoutCommitLeavesTheOldFile) {
  TempDir dir;
  std::string path = dir.file("keep.txt");
  write_file_durably(path, "old");
  {
    DurableFile f(path);
    f.write("new, never published");
  }
  EXPECT_EQ(read(path), "old");
  EXPECT_EQ(dir.count(), 1u);
  DurableFile g(path);
  g.abort();
  g.abort();  // idempotent
  EXPECT_EQ(dir.count(), 1u);
}

TEST(DurableFile, SecretsAreNarrowFromTheFirstByte) {
  TempDir dir;
  std::string path = dir.file("secret.key");
  DurableFile f(path, 0600);
  EXPECT_EQ(mode_of(f.tmp_path()), 0600u);  // before a single byte is written
  f.write("s3cr3t");
  f.commit();
  EXPECT_EQ(mode_of(path), 0600u);
  write_file_durably(dir.file("plain.txt"), "x");
  EXPECT_EQ(mode_of(dir.file("plain.txt")), 0644u);
}

TEST(DurableFile, ReplacesAnExistingFile) {
  TempDir dir;
  std::string path = dir.file("f.txt");
  write_file_durably(path, "one");
  write_file_durably(path, "two");
  EXPECT_EQ(read(path), "two");
  EXPECT_EQ(dir.count(), 1u);
}

TEST(DurableFile, RenameDurablyMovesAFile) {
  TempDir dir;
  std::string from = dir.file("a"), to = dir.file("b");
  write_file_durably(from, "data");
  rename_durably(from, to);
  EXPECT_FALSE(fs::exists(from));
  EXPECT_EQ(read(to), "data");
  EXPECT_THROW(rename_durably(dir.file("missing"), to), Error);
}

TEST(DurableFile, CreateFailsClearly) {
  TempDir dir;
  write_file_durably(dir.file("plainfile"), "x");
  // A parent that is a file: the temporary file cannot be created.
  try {
    DurableFile f(dir.file("plainfile/child"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_NE(std::string(e.what()).find("cannot create"), std::string::npos) << e.what();
  }
}

TEST(DurableFile, SweepRemovesOnlyAbandonedTemporaryFiles) {
  TempDir dir;
  fs::create_directories(dir.file("jobs/j1"));
  auto touch = [](const std::string& p) { std::ofstream(p) << "x"; };
  // pid 1 is alive (the init process); a pid above pid_max is not; our own pid at start-up is a
  // previous process's (pids are reused).
  std::string live = dir.file("jobs/j1/chunk-0.avro.tmp-1-3");
  std::string dead = dir.file("jobs/j1/chunk-1.avro.tmp-999999999-1");
  std::string mine = dir.file("part-0.avro.tmp-" + std::to_string(::getpid()) + "-7");
  std::string other = dir.file("notes.tmp-abc");  // not one of ours
  std::string done = dir.file("part-1.avro");
  for (const auto& p : {live, dead, mine, other, done}) touch(p);
  EXPECT_EQ(remove_abandoned_temp_files(dir.path()), 2);
  EXPECT_TRUE(fs::exists(live));
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(done));
}

}  // namespace
}  // namespace ej
