// ApiKeys: keyed-hash storage, migration of legacy SHA-256 rows, CLI owners.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/ids.h"
#include "service/api_keys.h"
#include "store/store.h"

namespace ej::service {
namespace {

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ej-keys-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = store::open_sqlite_store((dir_ / "t.db").string());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ApiKeysTest, StoresOnlyTheKeyedHash) {
  ApiKeys keys(store_.get(), "secret-one");
  keys.add("k1", "alice", "test");
  EXPECT_EQ(keys.owner_for_key("k1"), "alice");
  EXPECT_FALSE(keys.owner_for_key("k2"));
  EXPECT_FALSE(keys.owner_for_key("k1 "));
  // What is stored is neither the key nor its bare SHA-256, and depends on the secret.
  EXPECT_FALSE(store_->owner_for_key_hash("k1"));
  EXPECT_FALSE(store_->owner_for_key_hash(sha256_hex("k1")));
  EXPECT_EQ(store_->owner_for_key_hash("hmac-sha256:" + hmac_sha256_hex("secret-one", "k1")),
            "alice");
  ApiKeys other(store_.get(), "secret-two");
  EXPECT_FALSE(other.owner_for_key("k1"));
  EXPECT_NE(keys.stored_hash("k1"), other.stored_hash("k1"));
}

TEST_F(ApiKeysTest, LegacySha256RowIsMigratedOnFirstUse) {
  store_->add_api_key(sha256_hex("old-key"), "old-owner", "v1");
  ApiKeys keys(store_.get(), "s");
  EXPECT_EQ(keys.owner_for_key("old-key"), "old-owner");
  EXPECT_FALSE(store_->owner_for_key_hash(sha256_hex("old-key"))) << "the legacy row is gone";
  EXPECT_EQ(store_->owner_for_key_hash(keys.stored_hash("old-key")), "old-owner");
  EXPECT_EQ(keys.owner_for_key("old-key"), "old-owner");
  EXPECT_EQ(keys.count(), 1);
}

TEST_F(ApiKeysTest, CliKeysKeepTheirOwnerAcrossRunsAndMigrations) {
  // A --api-key stored by an older version keeps the owner its data belongs to.
  store_->add_api_key(sha256_hex("cli-old"), "key-0123456789abcdef", "--api-key");
  ApiKeys keys(store_.get(), "s");
  EXPECT_EQ(keys.add_cli_key("cli-old"), "key-0123456789abcdef");
  // A new one gets an owner derived from the keyed hash: stable for the same secret...
  std::string owner = keys.add_cli_key("cli-new");
  EXPECT_EQ(owner.rfind("key-", 0), 0u);
  EXPECT_EQ(keys.add_cli_key("cli-new"), owner);
  EXPECT_EQ(keys.owner_for_key("cli-new"), owner);
  // ...and not the SHA-256 prefix that older versions used.
  EXPECT_NE(owner, "key-" + sha256_hex("cli-new").substr(0, 16));
  EXPECT_EQ(keys.count(), 2);
}

TEST_F(ApiKeysTest, CreatedKeysAreRandomAndWork) {
  ApiKeys keys(store_.get(), "s");
  auto [k1, o1] = keys.create("", "a");
  auto [k2, o2] = keys.create("team", "b");
  EXPECT_NE(k1, k2);
  EXPECT_EQ(o2, "team");
  EXPECT_EQ(keys.owner_for_key(k1), o1);
  EXPECT_EQ(keys.owner_for_key(k2), "team");
}

TEST_F(ApiKeysTest, EmptySecretIsRefused) {
  EXPECT_THROW(ApiKeys(store_.get(), ""), std::exception);
}

}  // namespace
}  // namespace ej::service
