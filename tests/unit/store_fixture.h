// The fixture every store test shares: a fresh SQLite store in its own temp folder per test,
// removed afterwards. (When the PostgreSQL store arrives, this is where a test picks its store.)
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace ej::store {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("ej-store-" + std::to_string(getpid()) + "-" + t->test_suite_name() + "-" + t->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = open_sqlite_store((dir_ / "t.db").string());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace ej::store
