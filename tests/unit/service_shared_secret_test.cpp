// Shared secrets: two processes (two store handles on one database, each with its own data dir)
// get the same URL-signing key and API-key secret, so a key made by one is accepted by the other;
// an older install's secret files seed the store, so its keys and links keep working.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "service/api_keys.h"
#include "service/shared_secret.h"
#include "store/store.h"

namespace ej::service {
namespace {

namespace fs = std::filesystem;

class SharedSecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ej-secret-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "a");
    fs::create_directories(root_ / "b");
    // Two processes on one database: each opens its own handle.
    store_a_ = store::open_sqlite_store((root_ / "shared.db").string());
    store_b_ = store::open_sqlite_store((root_ / "shared.db").string());
  }
  void TearDown() override {
    store_a_.reset();
    store_b_.reset();
    fs::remove_all(root_);
  }
  std::string dir(const char* name) const { return (root_ / name).string(); }
  void write(const std::string& path, const std::string& text) const {
    std::ofstream(path) << text << "\n";
  }

  fs::path root_;
  std::unique_ptr<store::Store> store_a_, store_b_;
};

TEST_F(SharedSecretTest, TwoProcessesShareBothSecretsAndAcceptEachOthersKeys) {
  const std::string url_a = url_signing_secret(store_a_.get(), dir("a"));
  const std::string url_b = url_signing_secret(store_b_.get(), dir("b"));
  EXPECT_GE(url_a.size(), 32u);
  EXPECT_EQ(url_a, url_b);
  const std::string keys_a = api_key_secret(store_a_.get(), dir("a"));
  EXPECT_EQ(keys_a, api_key_secret(store_b_.get(), dir("b")));
  EXPECT_NE(keys_a, url_a) << "one secret per purpose";

  ApiKeys a(store_a_.get(), keys_a);
  ApiKeys b(store_b_.get(), api_key_secret(store_b_.get(), dir("b")));
  auto [key, owner] = a.create("alice", "made on a");
  EXPECT_EQ(b.owner_for_key(key), "alice");
  EXPECT_EQ(b.add_cli_key("cli-key-123"), a.add_cli_key("cli-key-123"))
      << "a --api-key names the same owner on every process";
  // Nothing is written to the data dirs: the store holds the secrets.
  EXPECT_TRUE(fs::is_empty(root_ / "a"));
  EXPECT_TRUE(fs::is_empty(root_ / "b"));
}

TEST_F(SharedSecretTest, AnOlderInstallsSecretFilesSeedTheStore) {
  // What an older version left: keys hashed with api_keys.secret, links signed with
  // url_signing.key.
  const std::string old_keys = "old-hashing-secret";
  const std::string old_url = std::string(40, 'u');
  write(dir("a") + "/api_keys.secret", old_keys);
  write(dir("a") + "/url_signing.key", old_url);
  ApiKeys before(store_a_.get(), old_keys);
  auto [key, owner] = before.create("bob", "old");

  EXPECT_EQ(api_key_secret(store_a_.get(), dir("a")), old_keys);
  EXPECT_EQ(url_signing_secret(store_a_.get(), dir("a")), old_url);
  // Another process without the files gets the same secrets: the old key works there too.
  ApiKeys elsewhere(store_b_.get(), api_key_secret(store_b_.get(), dir("b")));
  EXPECT_EQ(elsewhere.owner_for_key(key), "bob");
  EXPECT_EQ(url_signing_secret(store_b_.get(), dir("b")), old_url);
}

TEST_F(SharedSecretTest, TheStoredSecretWinsOverALaterFile) {
  const std::string first = url_signing_secret(store_a_.get(), dir("a"));
  write(dir("b") + "/url_signing.key", std::string(40, 'x'));
  EXPECT_EQ(url_signing_secret(store_b_.get(), dir("b")), first);
}

TEST_F(SharedSecretTest, ATooShortUrlKeyFileIsNotAdopted) {
  // Older versions replaced a url_signing.key under 32 bytes: it never signed a link.
  write(dir("a") + "/url_signing.key", "short");
  const std::string got = url_signing_secret(store_a_.get(), dir("a"));
  EXPECT_NE(got, "short");
  EXPECT_GE(got.size(), 32u);
}

}  // namespace
}  // namespace ej::service
