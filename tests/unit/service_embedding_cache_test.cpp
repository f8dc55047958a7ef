// EmbeddingCache on its own (hits, LRU eviction by bytes, key isolation, reopen, corrupt files)
// and inside EmbeddingService (repeats cost no engine work, cached tokens, per owner, bulk).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/ids.h"
#include "fake_embedder.h"
#include "service/embedding_cache.h"
#include "service/embedding_service.h"

namespace ej::service {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() : path_((fs::temp_directory_path() / ("ej-cache-" + random_alnum(10))).string()) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

EmbeddingCacheKey key_for(std::string_view text, std::string_view owner = "alice") {
  EmbeddingCacheKey k;
  k.owner = owner;
  k.model = "m";
  k.model_identity = "sha256:abc";
  k.dtype = "fp32";
  k.text = text;
  return k;
}

std::vector<float> vec_of(float seed, int dims = 4) {
  std::vector<float> v(static_cast<size_t>(dims));
  for (int i = 0; i < dims; ++i) v[static_cast<size_t>(i)] = seed + 0.001f * static_cast<float>(i);
  return v;
}

void put(EmbeddingCache& c, const std::string& digest, const std::vector<float>& v, int tokens) {
  EmbeddingCache::Entry e{&digest, v, tokens};
  c.store(std::span<const EmbeddingCache::Entry>(&e, 1));
}

// The vector of `digest` when it is a hit.
std::optional<std::vector<float>> get(EmbeddingCache& c, const std::string& digest, int dims = 4,
                                      int* tokens = nullptr) {
  std::vector<float> v(static_cast<size_t>(dims), -7.0f);
  auto found = c.lookup(std::span<const std::string>(&digest, 1), dims, v.data());
  if (!found[0].hit) return std::nullopt;
  if (tokens) *tokens = found[0].num_tokens;
  return v;
}

TEST(EmbeddingCache, HitsGiveTheStoredBitsAndTokens) {
  TempDir dir;
  EmbeddingCache c(dir.file("cache.sqlite"), 1 << 20);
  const std::string a = EmbeddingCache::digest(key_for("a")),
                    b = EmbeddingCache::digest(key_for("b")),
                    missing = EmbeddingCache::digest(key_for("never stored"));
  const std::vector<float> va = {0.1f, -0.0f, 1e-38f, 3.4e38f}, vb = vec_of(2);
  put(c, a, va, 5);
  put(c, b, vb, 7);
  std::vector<std::string> digests = {a, missing, b};
  std::vector<float> out(12, -7.0f);
  auto found = c.lookup(digests, 4, out.data());
  ASSERT_EQ(found.size(), 3u);
  EXPECT_TRUE(found[0].hit);
  EXPECT_FALSE(found[1].hit);
  EXPECT_TRUE(found[2].hit);
  EXPECT_EQ(found[0].num_tokens, 5);
  EXPECT_EQ(found[2].num_tokens, 7);
  EXPECT_EQ(std::memcmp(out.data(), va.data(), 16), 0);  // bit for bit, -0.0 included
  EXPECT_EQ(out[4], -7.0f);                              // a miss leaves its slot alone
  EXPECT_EQ(std::memcmp(out.data() + 8, vb.data(), 16), 0);
  EmbeddingCacheStats s = c.stats();
  EXPECT_EQ(s.entries, 2);
  EXPECT_EQ(s.hits, 2);
  EXPECT_EQ(s.misses, 1);
  EXPECT_EQ(s.bytes, 2 * EmbeddingCache::entry_bytes(4));
  // A lookup with other dimensions is a miss, not a wrong-sized read (the row, which cannot
  // belong to that key, is dropped).
  EXPECT_FALSE(get(c, a, 8).has_value());
  EXPECT_EQ(c.stats().entries, 1);
  EXPECT_EQ(c.stats().bytes, EmbeddingCache::entry_bytes(4));
}

TEST(EmbeddingCache, EveryKeyFieldSeparatesEntries) {
  std::set<std::string> digests;
  EmbeddingCacheKey base = key_for("text");
  digests.insert(EmbeddingCache::digest(base));
  auto with = [&](auto change) {
    EmbeddingCacheKey k = base;
    change(k);
    digests.insert(EmbeddingCache::digest(k));
  };
  with([](EmbeddingCacheKey& k) { k.owner = "bob"; });
  with([](EmbeddingCacheKey& k) { k.model = "other"; });
  with([](EmbeddingCacheKey& k) { k.model_identity = "sha256:def"; });
  with([](EmbeddingCacheKey& k) { k.dtype = "bf16"; });
  with([](EmbeddingCacheKey& k) { k.input_type = engine::InputType::kSearchQuery; });
  with([](EmbeddingCacheKey& k) { k.truncate = engine::Truncate::kStart; });
  with([](EmbeddingCacheKey& k) { k.max_tokens = 16; });
  with([](EmbeddingCacheKey& k) { k.output_dimension = 256; });
  with([](EmbeddingCacheKey& k) { k.text = "text "; });
  // Field boundaries count: ("ab", "c") is not ("a", "bc").
  with([](EmbeddingCacheKey& k) {
    k.model = "mf";
    k.model_identity = "p32";
  });
  EXPECT_EQ(digests.size(), 11u);
  EXPECT_EQ(EmbeddingCache::digest(base), EmbeddingCache::digest(key_for("text")));

  TempDir dir;
  EmbeddingCache c(dir.file("cache.sqlite"), 1 << 20);
  put(c, EmbeddingCache::digest(key_for("t", "alice")), vec_of(1), 3);
  EXPECT_TRUE(get(c, EmbeddingCache::digest(key_for("t", "alice"))).has_value());
  EXPECT_FALSE(get(c, EmbeddingCache::digest(key_for("t", "bob"))).has_value());
}

TEST(EmbeddingCache, EvictsTheLeastRecentlyUsedByBytes) {
  TempDir dir;
  const int64_t one = EmbeddingCache::entry_bytes(4);
  EmbeddingCache c(dir.file("cache.sqlite"), 3 * one);
  std::vector<std::string> d;
  for (const char* t : {"a", "b", "c", "d", "e"}) d.push_back(EmbeddingCache::digest(key_for(t)));
  put(c, d[0], vec_of(0), 1);
  put(c, d[1], vec_of(1), 1);
  put(c, d[2], vec_of(2), 1);
  EXPECT_TRUE(get(c, d[0]).has_value());  // a is now the most recently used
  put(c, d[3], vec_of(3), 1);             // over the limit: b (least recently used) goes
  EXPECT_FALSE(get(c, d[1]).has_value());
  EXPECT_TRUE(get(c, d[0]).has_value());
  EXPECT_TRUE(get(c, d[2]).has_value());
  EXPECT_TRUE(get(c, d[3]).has_value());
  EmbeddingCacheStats s = c.stats();
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.bytes, 3 * one);
  EXPECT_EQ(s.evicted, 1);
  // Bigger vectors count more: one 12-float entry takes the room of several small ones.
  const std::string big = EmbeddingCache::digest(key_for("big"));
  put(c, big, vec_of(9, 12), 1);
  EXPECT_LE(c.stats().bytes, 3 * one);
  EXPECT_TRUE(get(c, big, 12).has_value());
  EXPECT_FALSE(get(c, d[0]).has_value());  // the oldest left first
  // Replacing an entry does not count it twice.
  put(c, big, vec_of(8, 12), 1);
  EXPECT_EQ(c.stats().bytes, EmbeddingCache::entry_bytes(12) + (c.stats().entries - 1) * one);
  EXPECT_EQ((*get(c, big, 12))[0], 8.0f);
}

TEST(EmbeddingCache, SurvivesReopenWithItsRecency) {
  TempDir dir;
  const int64_t one = EmbeddingCache::entry_bytes(4);
  const std::string a = EmbeddingCache::digest(key_for("a")),
                    b = EmbeddingCache::digest(key_for("b")),
                    c3 = EmbeddingCache::digest(key_for("c"));
  {
    EmbeddingCache c(dir.file("cache.sqlite"), 2 * one);
    put(c, a, vec_of(1), 4);
    put(c, b, vec_of(2), 5);
    EXPECT_TRUE(get(c, a).has_value());  // b is now the least recently used
  }
  EmbeddingCache c(dir.file("cache.sqlite"), 2 * one);
  EXPECT_EQ(c.stats().entries, 2);
  EXPECT_EQ(c.stats().bytes, 2 * one);
  int tokens = 0;
  auto v = get(c, b, 4, &tokens);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, vec_of(2));
  EXPECT_EQ(tokens, 5);
  put(c, c3, vec_of(3), 1);  // a was used before b (this run): a goes
  EXPECT_FALSE(get(c, a).has_value());
  EXPECT_TRUE(get(c, b).has_value());
}

TEST(EmbeddingCache, ALowerLimitEvictsAtOpen) {
  TempDir dir;
  const int64_t one = EmbeddingCache::entry_bytes(4);
  {
    EmbeddingCache c(dir.file("cache.sqlite"), 10 * one);
    for (int i = 0; i < 10; ++i)
      put(c, EmbeddingCache::digest(key_for(std::to_string(i))), vec_of(1), 1);
  }
  EmbeddingCache c(dir.file("cache.sqlite"), 4 * one);
  EXPECT_EQ(c.stats().entries, 4);
  EXPECT_TRUE(get(c, EmbeddingCache::digest(key_for("9"))).has_value());
  EXPECT_FALSE(get(c, EmbeddingCache::digest(key_for("0"))).has_value());
}

TEST(EmbeddingCache, AFileThatIsNoDatabaseIsRebuilt) {
  TempDir dir;
  const std::string path = dir.file("cache.sqlite");
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) f.put(static_cast<char>(i * 7 + 3));
  }
  EmbeddingCache c(path, 1 << 20);
  EXPECT_EQ(c.stats().rebuilds, 1);
  EXPECT_EQ(c.stats().entries, 0);
  const std::string a = EmbeddingCache::digest(key_for("a"));
  EXPECT_FALSE(get(c, a).has_value());
  put(c, a, vec_of(1), 2);
  EXPECT_TRUE(get(c, a).has_value());
}

TEST(EmbeddingCache, DamagedPagesNeverServeAWrongVector) {
  TempDir dir;
  const std::string path = dir.file("cache.sqlite");
  std::vector<std::string> digests;
  for (int i = 0; i < 300; ++i)
    digests.push_back(EmbeddingCache::digest(key_for(std::to_string(i))));
  {
    EmbeddingCache c(path, 1 << 22);
    for (int i = 0; i < 300; ++i)
      put(c, digests[static_cast<size_t>(i)], vec_of(static_cast<float>(i), 64), i);
  }
  // Keep the header page, scramble the rest of the file.
  const auto size = fs::file_size(path);
  ASSERT_GT(size, 16384u);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8192);
    for (uint64_t i = 8192; i < size; i += 97) {
      f.seekp(static_cast<std::streamoff>(i));
      f.put(static_cast<char>(i * 31));
    }
  }
  EmbeddingCache c(path, 1 << 22);
  int hits = 0;
  for (int i = 0; i < 300; ++i) {
    auto v = get(c, digests[static_cast<size_t>(i)], 64);
    if (!v) continue;
    ++hits;
    EXPECT_EQ(*v, vec_of(static_cast<float>(i), 64)) << i;
  }
  EXPECT_LT(hits, 300);
  // Whatever happened, the cache works afterwards.
  put(c, digests[0], vec_of(1000, 64), 1);
  auto v = get(c, digests[0], 64);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, vec_of(1000, 64));
}

TEST(EmbeddingCache, ARowWhoseVectorChangedIsAMissAndDropped) {
  TempDir dir;
  const std::string path = dir.file("cache.sqlite");
  const std::string a = EmbeddingCache::digest(key_for("a"));
  EmbeddingCache c(path, 1 << 20);
  put(c, a, vec_of(1), 2);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE vectors SET vec = zeroblob(16)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_FALSE(get(c, a).has_value());
  EXPECT_EQ(c.stats().entries, 0);
}

// ---- inside EmbeddingService -----------------------------------------------------------------

struct Served {
  explicit Served(EmbeddingCache* cache, bool cached = true)
      : fake(std::make_shared<test::FakeEmbedder>(1000)) {
    models.add("m", fake, "test:m").cached = cached;
    EmbeddingServiceOptions o;
    o.cache = cache;
    service = std::make_unique<EmbeddingService>(&models, o);
  }
  size_t embedded() {
    size_t n = 0;
    for (const auto& b : fake->batches()) n += b.size();
    return n;
  }
  EmbedRequest request(std::vector<std::string> texts, std::string owner = "alice") {
    EmbedRequest r;
    r.texts = std::move(texts);
    r.owner = std::move(owner);
    return r;
  }
  std::shared_ptr<test::FakeEmbedder> fake;
  ModelRegistry models;
  std::unique_ptr<EmbeddingService> service;
};

TEST(EmbeddingServiceCache, RepeatsCostNoEngineWorkAndCountAsCachedTokens) {
  TempDir dir;
  EmbeddingCache cache(dir.file("cache.sqlite"), 1 << 20);
  Served s(&cache);
  const ServedModel& m = s.models.get("m");
  EmbedResult first = s.service->embed(m, s.request({"hello", "world!"}));
  EXPECT_EQ(s.embedded(), 2u);
  EXPECT_EQ(first.total_tokens, 11);
  EXPECT_EQ(first.cached_tokens, 0);
  EmbedResult again = s.service->embed(m, s.request({"hello", "world!"}));
  EXPECT_EQ(s.embedded(), 2u);  // nothing reached the engine
  EXPECT_EQ(again.cached_tokens, 11);
  EXPECT_EQ(again.total_tokens, 11);
  EXPECT_EQ(again.num_tokens, first.num_tokens);
  EXPECT_EQ(again.vectors, first.vectors);
  // Partly cached: only the new text is embedded, and every vector lands in its place.
  EmbedResult mixed = s.service->embed(m, s.request({"new text", "hello", "world!"}));
  EXPECT_EQ(s.embedded(), 3u);
  EXPECT_EQ(mixed.cached_tokens, 11);
  EXPECT_EQ(mixed.total_tokens, 19);
  EXPECT_EQ(mixed.vectors[0], static_cast<float>('n'));
  EXPECT_EQ(std::vector<float>(mixed.vectors.begin() + 4, mixed.vectors.end()), first.vectors);
  // Another owner, input type or max_tokens: computed anew.
  s.service->embed(m, s.request({"hello"}, "bob"));
  EXPECT_EQ(s.embedded(), 4u);
  EmbedRequest query = s.request({"hello"});
  query.input_type = engine::InputType::kSearchQuery;
  s.service->embed(m, std::move(query));
  EXPECT_EQ(s.embedded(), 5u);
  EmbedRequest capped = s.request({"hello"});
  capped.max_tokens = 3;
  s.service->embed(m, std::move(capped));
  EXPECT_EQ(s.embedded(), 6u);
  // No owner: not cached at all.
  s.service->embed(m, s.request({"hello"}, ""));
  s.service->embed(m, s.request({"hello"}, ""));
  EXPECT_EQ(s.embedded(), 8u);
}

TEST(EmbeddingServiceCache, BulkTasksSkipHitsAndRememberWhatTheyComputed) {
  TempDir dir;
  EmbeddingCache cache(dir.file("cache.sqlite"), 1 << 20);
  Served s(&cache);
  const ServedModel& m = s.models.get("m");
  auto first = s.service->submit_bulk(m, s.request({"row one", "row two", "row three"}));
  first->wait();
  s.service->remember(m, *first);
  EXPECT_EQ(s.embedded(), 3u);
  EXPECT_EQ(first->cached_tokens, 0);
  auto second = s.service->submit_bulk(m, s.request({"row one", "row two", "row three"}));
  EXPECT_TRUE(second->wait_for(0));  // finished at submit: all of it came from the cache
  second->wait();
  EXPECT_EQ(s.embedded(), 3u);
  EXPECT_EQ(second->vectors, first->vectors);
  EXPECT_EQ(second->num_tokens, first->num_tokens);
  EXPECT_EQ(second->cached_tokens, 7 + 7 + 9);
  // A task that was not remembered leaves nothing behind.
  auto third = s.service->submit_bulk(m, s.request({"row four"}));
  third->wait();
  auto fourth = s.service->submit_bulk(m, s.request({"row four"}));
  fourth->wait();
  EXPECT_EQ(s.embedded(), 5u);
  EXPECT_EQ(fourth->cached_tokens, 0);
}

TEST(EmbeddingServiceCache, WithoutACacheOrForAModelServedUncachedNothingIsCached) {
  TempDir dir;
  EmbeddingCache cache(dir.file("cache.sqlite"), 1 << 20);
  for (bool with_cache : {false, true}) {
    Served s(with_cache ? &cache : nullptr, /*cached=*/!with_cache);
    const ServedModel& m = s.models.get("m");
    s.service->embed(m, s.request({"hello"}));
    EmbedResult again = s.service->embed(m, s.request({"hello"}));
    EXPECT_EQ(s.embedded(), 2u);
    EXPECT_EQ(again.cached_tokens, 0);
  }
  EXPECT_EQ(cache.stats().entries, 0);
  EXPECT_EQ(cache.stats().hits + cache.stats().misses, 0);
}

}  // namespace
}  // namespace ej::service
