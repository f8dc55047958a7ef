// Tests for src/service/avro_parts.{h,cpp}: generic write -> read back, the embed-result fast
// path, atomic publish (.tmp), and conversions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "common/error.h"
#include "service/avro_parts.h"

namespace ej::service {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ej_avro_test_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (!p) std::abort();
    path_ = p;
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<json> read_all(const std::string& path, std::string* schema = nullptr) {
  AvroPartReader r(path);
  if (schema) *schema = r.schema_json();
  std::vector<json> rows;
  json row;
  while (r.next(&row)) rows.push_back(row);
  return rows;
}

const char* kGenericSchema = R"({
  "type": "record", "name": "row", "namespace": "embedjobs",
  "fields": [
    {"name": "text", "type": "string"},
    {"name": "n", "type": "long"},
    {"name": "x", "type": "double"},
    {"name": "ok", "type": "boolean"},
    {"name": "maybe", "type": ["null", "string"]},
    {"name": "tags", "type": {"type": "array", "items": "long"}},
    {"name": "inner", "type": {"type": "record", "name": "inner", "fields": [
        {"name": "a", "type": "int"}, {"name": "f", "type": ["null", {"type": "array", "items": "float"}]}]}},
    {"name": "attrs", "type": {"type": "map", "values": "string"}}
  ]})";

class AvroCodecTest : public ::testing::TestWithParam<const char*> {};

TEST_P(AvroCodecTest, GenericRoundTrip) {
  TempDir dir;
  std::string path = dir.file("p.avro");
  std::vector<json> rows;
  for (int i = 0; i < 50; ++i) {
    json r = {{"text", "row " + std::to_string(i) + " \xC3\xA9\xE2\x82\xAC"},
              {"n", int64_t(i) * 1000000007LL - 3000000000LL},
              {"x", i * 0.25 - 3},
              {"ok", i % 2 == 0},
              {"tags", json::array()},
              {"inner", {{"a", -i}, {"f", nullptr}}},
              {"attrs", json::object()}};
    if (i % 3 == 0)
      r["maybe"] = "m" + std::to_string(i);
    else if (i % 3 == 1)
      r["maybe"] = nullptr;
    // i % 3 == 2: missing -> null
    for (int k = 0; k < i % 4; ++k) r["tags"].push_back(k * i);
    if (i % 5 == 0) r["inner"]["f"] = json::array({0.5, -1.25, 3.0});
    if (i % 2 == 1) r["attrs"] = {{"k", "v" + std::to_string(i)}};
    rows.push_back(r);
  }
  uint64_t size;
  {
    AvroPartWriter w(path, kGenericSchema, GetParam());
    for (const auto& r : rows) w.append(r);
    EXPECT_EQ(w.num_rows(), 50);
    size = w.close();
  }
  EXPECT_EQ(size, fs::file_size(path));
  std::string schema;
  auto got = read_all(path, &schema);
  ASSERT_EQ(got.size(), rows.size());
  EXPECT_NE(schema.find("embedjobs"), std::string::npos);
  for (size_t i = 0; i < rows.size(); ++i) {
    json want = rows[i];
    if (!want.contains("maybe")) want["maybe"] = nullptr;
    EXPECT_EQ(got[i], want) << "row " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, AvroCodecTest, ::testing::Values("deflate", "null"));

TEST(AvroPartWriter, TmpFileUntilClose) {
  TempDir dir;
  std::string path = dir.file("a.avro");
  {
    AvroPartWriter w(path,
                     R"({"type":"record","name":"r","fields":[{"name":"text","type":"string"}]})");
    w.append(json{{"text", "hello"}});
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists(w.tmp_path()));
    EXPECT_EQ(fs::path(w.tmp_path()).parent_path(), fs::path(path).parent_path());
    w.close();
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(fs::exists(w.tmp_path()));
    EXPECT_EQ(w.close(), fs::file_size(path));  // idempotent
  }
  EXPECT_TRUE(fs::exists(path));
  std::string path2 = dir.file("b.avro");
  {
    AvroPartWriter w(path2,
                     R"({"type":"record","name":"r","fields":[{"name":"text","type":"string"}]})");
    w.append(json{{"text", "never published"}});
  }  // destroyed without close
  EXPECT_FALSE(fs::exists(path2));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(AvroPartWriter, EmptyFileIsReadable) {
  TempDir dir;
  std::string path = dir.file("e.avro");
  AvroPartWriter w(path,
                   R"({"type":"record","name":"r","fields":[{"name":"text","type":"string"}]})");
  w.close();
  auto rows = read_all(path);
  EXPECT_TRUE(rows.empty());
}

TEST(AvroPartWriter, Conversions) {
  TempDir dir;
  std::string path = dir.file("c.avro");
  const char* schema = R"({"type":"record","name":"r","fields":[
      {"name":"s","type":"string"},{"name":"l","type":["null","long"]},
      {"name":"d","type":["null","double"]},{"name":"ms","type":["null","string"]}]})";
  AvroPartWriter w(path, schema, "null");
  w.append(json{{"s", json{{"a", 1}}}, {"l", 3.0}, {"d", 7}, {"ms", 12}});
  w.append(json{{"s", json::array({1, "x"})}, {"l", -5}, {"d", 2.5}, {"ms", json{{"k", true}}}});
  EXPECT_THROW(w.append(json{{"s", "x"}, {"l", "not a number"}}), ej::Error);
  EXPECT_THROW(w.append(json{{"s", "x"}, {"l", 2.5}}), ej::Error);
  EXPECT_THROW(w.append(json{{"l", 1}}), ej::Error);  // s missing, not nullable
  EXPECT_THROW(w.append(json{{"s", nullptr}}), ej::Error);
  w.close();
  auto rows = read_all(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["s"], "{\"a\":1}");
  EXPECT_EQ(rows[0]["l"], 3);
  EXPECT_EQ(rows[0]["d"], 7.0);
  EXPECT_EQ(rows[0]["ms"], "12");
  EXPECT_EQ(rows[1]["s"], "[1,\"x\"]");
  EXPECT_EQ(rows[1]["l"], -5);
  EXPECT_EQ(rows[1]["ms"], "{\"k\":true}");
}

TEST(AvroPartWriter, RejectsBadSchemaAndCodec) {
  TempDir dir;
  EXPECT_THROW(AvroPartWriter(dir.file("x.avro"), "{not json", "null"), ej::Error);
  EXPECT_THROW(
      AvroPartWriter(dir.file("x.avro"), R"({"type":"record","name":"r","fields":[]})", "snappy"),
      ej::Error);
  EXPECT_THROW(AvroPartWriter(dir.file("x.avro"), R"("nosuchtype")", "null"), ej::Error);
  EXPECT_TRUE(fs::is_empty(dir.path()));  // no temporary file left behind
}

TEST(AvroPartWriter, ManyRowsAcrossBlocksKeepOrder) {
  TempDir dir;
  std::string path = dir.file("m.avro");
  const char* schema =
      R"({"type":"record","name":"r","fields":[{"name":"text","type":"string"},{"name":"i","type":"long"}]})";
  AvroPartWriter w(path, schema);
  std::string big(300000, 'z');  // larger than one 256 KiB block
  for (int i = 0; i < 5000; ++i) {
    w.append(json{{"text", i == 2500 ? big : "t" + std::to_string(i)}, {"i", i}});
  }
  w.close();
  AvroPartReader r(path);
  json row;
  int i = 0;
  while (r.next(&row)) {
    ASSERT_EQ(row["i"], i);
    if (i == 2500) {
      EXPECT_EQ(row["text"].get<std::string>().size(), big.size());
    }
    ++i;
  }
  EXPECT_EQ(i, 5000);
}

TEST(AvroPartReader, MissingOrCorruptFileThrows) {
  TempDir dir;
  EXPECT_THROW(AvroPartReader(dir.file("nope.avro")), ej::Error);
  std::string bad = dir.file("bad.avro");
  FILE* f = std::fopen(bad.c_str(), "wb");
  std::fputs("this is not avro", f);
  std::fclose(f);
  EXPECT_THROW(AvroPartReader r(bad), ej::Error);
}

// ---- embed-result ----------------------------------------------------------------------------

TEST(EmbedResultSchema, Shape) {
  json kept = json::array({json{{"name", "id"}, {"type", "long"}},
                           json{{"name", "lang"}, {"type", json::array({"null", "string"})}}});
  json s = json::parse(embed_result_schema_json(kept));
  EXPECT_EQ(s["name"], "embed_result");
  EXPECT_EQ(s["namespace"], "embedjobs");
  ASSERT_EQ(s["fields"].size(), 4u);
  EXPECT_EQ(s["fields"][0]["name"], "text");
  EXPECT_EQ(s["fields"][1]["name"], "embeddings");
  EXPECT_EQ(s["fields"][2]["name"], "id");
  EXPECT_EQ(s["fields"][3]["name"], "lang");
  const json& emb = s["fields"][1]["type"];
  EXPECT_EQ(emb["name"], "embeddings");
  std::vector<std::string> names;
  for (const auto& f : emb["fields"]) {
    names.push_back(f["name"]);
    EXPECT_EQ(f["type"][0], "null");
    EXPECT_EQ(f["type"][1]["type"], "array");
    EXPECT_EQ(f["type"][1]["items"], names.back() == "float" ? "float" : "int");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"float", "int8", "uint8", "binary", "ubinary"}));
}

TEST(EmbedResultSchema, KeptFieldEntriesFromInputSchema) {
  std::string input = R"({"type":"record","name":"embed_input","namespace":"embedjobs","fields":[
      {"name":"text","type":"string"},{"name":"id","type":"long"},{"name":"t","type":["null","string"]}]})";
  json kept = kept_field_entries(input);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]["name"], "id");
  EXPECT_EQ(kept[1]["type"], json::array({"null", "string"}));
  EXPECT_TRUE(kept_field_entries("").empty());
  EXPECT_THROW(kept_field_entries("[1,2]"), ej::Error);
}

struct Vecs {
  std::vector<float> f;
  std::vector<int8_t> i8;
  std::vector<uint8_t> u8;
  std::vector<int8_t> bin;
  std::vector<uint8_t> ubin;
};

Vecs make_vecs(int dims, int packed, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uf(-1, 1);
  Vecs v;
  for (int i = 0; i < dims; ++i) {
    v.f.push_back(uf(rng));
    v.i8.push_back(static_cast<int8_t>(int(rng() % 256) - 128));
    v.u8.push_back(static_cast<uint8_t>(rng() % 256));
  }
  for (int i = 0; i < packed; ++i) {
    v.bin.push_back(static_cast<int8_t>(int(rng() % 256) - 128));
    v.ubin.push_back(static_cast<uint8_t>(rng() % 256));
  }
  return v;
}

template <typename T>
json to_json_array(const std::vector<T>& v) {
  json a = json::array();
  for (T x : v)
    a.push_back(static_cast<std::conditional_t<std::is_floating_point_v<T>, double, int>>(x));
  return a;
}

TEST(EmbedResultWriter, FastPathRoundTripAndMatchesGeneric) {
  TempDir dir;
  json kept_entries =
      json::array({json{{"name", "id"}, {"type", "long"}},
                   json{{"name", "lang"}, {"type", json::array({"null", "string"})}}});
  const int dims = 384, packed = 48;
  std::vector<Vecs> vecs;
  std::vector<json> kept;
  for (int i = 0; i < 20; ++i) {
    vecs.push_back(make_vecs(dims, packed, 100 + i));
    kept.push_back(i % 2 ? json{{"id", i}} : json{{"id", i}, {"lang", "en"}});
  }
  // Every binary value -128..127 and ubinary 0..255 appear in one extra row.
  Vecs all = make_vecs(2048, 256, 7);
  for (int i = 0; i < 256; ++i) {
    all.bin[i] = static_cast<int8_t>(i - 128);
    all.ubin[i] = static_cast<uint8_t>(i);
    all.i8[i] = static_cast<int8_t>(i - 128);
    all.u8[i] = static_cast<uint8_t>(i);
  }
  std::string fast = dir.file("fast.avro"), generic = dir.file("generic.avro");
  std::vector<json> expected;
  {
    EmbedResultWriter w(fast, kept_entries);
    AvroPartWriter g(generic, embed_result_schema_json(kept_entries));
    for (int i = 0; i < 21; ++i) {
      const Vecs& v = i < 20 ? vecs[i] : all;
      json k = i < 20 ? kept[i] : json{{"id", 999}, {"lang", nullptr}};
      int d = i < 20 ? dims : 2048, p = i < 20 ? packed : 256;
      EmbedResultRow row;
      std::string text = "text " + std::to_string(i);
      row.text = text;
      row.dims = d;
      row.packed_len = p;
      row.kept_fields = &k;
      json emb = {{"float", nullptr},
                  {"int8", nullptr},
                  {"uint8", nullptr},
                  {"binary", nullptr},
                  {"ubinary", nullptr}};
      // vary which types are present; row 3 has none at all
      if (i % 4 != 3) {
        row.float_values = v.f.data();
        emb["float"] = to_json_array(v.f);
      }
      if (i % 2 == 0) {
        row.int8_values = v.i8.data();
        emb["int8"] = to_json_array(v.i8);
        row.binary_values = v.bin.data();
        emb["binary"] = to_json_array(v.bin);
      }
      if (i % 3 == 0 || i == 20) {
        row.uint8_values = v.u8.data();
        emb["uint8"] = to_json_array(v.u8);
        row.ubinary_values = v.ubin.data();
        emb["ubinary"] = to_json_array(v.ubin);
      }
      if (i == 3) {
        row.float_values = nullptr;
        row.int8_values = nullptr;
        row.binary_values = nullptr;
        row.uint8_values = nullptr;
        row.ubinary_values = nullptr;
        emb = {{"float", nullptr},
               {"int8", nullptr},
               {"uint8", nullptr},
               {"binary", nullptr},
               {"ubinary", nullptr}};
      }
      w.append_result(row);
      json rec = {{"text", text},
                  {"embeddings", emb},
                  {"id", k["id"]},
                  {"lang", k.value("lang", json(nullptr))}};
      g.append(rec);
      expected.push_back(rec);
    }
    w.close();
    g.close();
  }
  std::string schema;
  auto got_fast = read_all(fast, &schema);
  auto got_generic = read_all(generic);
  ASSERT_EQ(got_fast.size(), 21u);
  ASSERT_EQ(got_generic.size(), 21u);
  EXPECT_NE(schema.find("embed_result"), std::string::npos);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(got_fast[i], expected[i]) << "row " << i;
    EXPECT_EQ(got_fast[i], got_generic[i]) << "row " << i;
  }
  // Spot checks that do not depend on the JSON helpers above.
  EXPECT_EQ(got_fast[20]["embeddings"]["binary"][0], -128);
  EXPECT_EQ(got_fast[20]["embeddings"]["binary"][255], 127);
  EXPECT_EQ(got_fast[20]["embeddings"]["ubinary"][255], 255);
  EXPECT_EQ(got_fast[0]["embeddings"]["float"].size(), 384u);
  EXPECT_EQ(got_fast[0]["embeddings"]["float"][5].get<float>(), vecs[0].f[5]);
  EXPECT_TRUE(got_fast[1]["embeddings"]["int8"].is_null());
  EXPECT_TRUE(got_fast[3]["embeddings"]["float"].is_null());
  EXPECT_TRUE(got_fast[1]["lang"].is_null());
  EXPECT_EQ(got_fast[0]["lang"], "en");
}

TEST(EmbedResultWriter, MissingRequiredKeptFieldThrows) {
  TempDir dir;
  json kept_entries = json::array({json{{"name", "id"}, {"type", "long"}}});
  EmbedResultWriter w(dir.file("k.avro"), kept_entries);
  float f[2] = {1, 2};
  EmbedResultRow row;
  row.text = "x";
  row.dims = 2;
  row.float_values = f;
  EXPECT_THROW(w.append_result(row), ej::Error);  // no kept fields given
  json k = {{"id", 5}};
  row.kept_fields = &k;
  w.append_result(row);
  w.close();
  auto rows = read_all(dir.file("k.avro"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["id"], 5);
  EXPECT_EQ(rows[0]["embeddings"]["float"], json::array({1.0, 2.0}));
}

// Prints the write speed of embed-result rows (384 floats + int8 + binary) for both codecs.
// Vectors rotate over 256 distinct random ones so deflate sees realistic, incompressible floats.
TEST(EmbedResultWriter, WriteSpeed) {
  TempDir dir;
  const int n = 4000, dims = 384, packed = 48;
  std::vector<Vecs> vs;
  for (int i = 0; i < 256; ++i) vs.push_back(make_vecs(dims, packed, 1000 + i));
  json kept = json::array();
  for (const char* codec : {"deflate", "null"}) {
    std::string path = dir.file(std::string("speed-") + codec + ".avro");
    auto t0 = std::chrono::steady_clock::now();
    EmbedResultWriter w(path, kept, codec);
    for (int i = 0; i < n; ++i) {
      const Vecs& v = vs[i % vs.size()];
      std::string text = "the quick brown fox jumps over the lazy dog, row " + std::to_string(i);
      EmbedResultRow row;
      row.text = text;
      row.dims = dims;
      row.packed_len = packed;
      row.float_values = v.f.data();
      row.int8_values = v.i8.data();
      row.binary_values = v.bin.data();
      w.append_result(row);
    }
    uint64_t size = w.close();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[speed] codec=%s rows=%d %.0f rows/s, %.2f MB (%.0f bytes/row)\n", codec, n, n / s,
                size / 1e6, double(size) / n);
    EXPECT_EQ(read_all(path).size(), size_t(n));
  }
}

}  // namespace
}  // namespace ej::service
