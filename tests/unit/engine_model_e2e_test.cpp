// End to end: text -> embedding through open_embedder(folder), i.e. the tokenizer (prompt,
// truncation) + the encoder engine, against the fixtures' expected embeddings; truncate NONE.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/embedder.h"
#include "engine/neural_embedder.h"

namespace ej::engine {
namespace {

std::string data_dir(const std::string& name) {
  return std::string(EJ_TEST_DATA_DIR) + "/" + name;
}

class EndToEndTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EndToEndTest, TextsEmbedLikeTheReference) {
  const std::string dir = data_dir(GetParam());
  std::ifstream in(dir + "/expected.json");
  auto j = nlohmann::json::parse(in);
  std::shared_ptr<Embedder> e = open_embedder(dir, EngineOptions{2});
  const int dims = e->info().dims;
  // Group the cases by (input_type, truncate) and embed each group in one call.
  std::map<std::pair<InputType, Truncate>, std::vector<size_t>> groups;
  for (size_t i = 0; i < j["cases"].size(); ++i) {
    const auto& c = j["cases"][i];
    InputType it = InputType::kClassification;  // no prompt in these fixtures
    if (!c["prompt_name"].is_null()) {
      std::string p = c["prompt_name"].get<std::string>();
      it = p == "query" ? InputType::kSearchQuery : InputType::kSearchDocument;
    }
    Truncate tr = c["truncate"].get<std::string>() == "START" ? Truncate::kStart : Truncate::kEnd;
    groups[{it, tr}].push_back(i);
  }
  int checked = 0;
  float worst = 0;
  for (const auto& [key, idx] : groups) {
    std::vector<std::string> texts;
    for (size_t i : idx) texts.push_back(j["cases"][i]["text"].get<std::string>());
    std::vector<std::string_view> views(texts.begin(), texts.end());
    EmbedOutput out;
    e->embed(views, key.first, key.second, &out);
    ASSERT_EQ(out.vectors.size(), idx.size() * dims);
    for (size_t k = 0; k < idx.size(); ++k) {
      const auto& c = j["cases"][idx[k]];
      const std::string name = c["name"].get<std::string>();
      EXPECT_EQ(out.num_tokens[k], c["num_tokens"].get<int>()) << GetParam() << " " << name;
      auto expected = c["embedding"].get<std::vector<float>>();
      float d = 0;
      for (int x = 0; x < dims; ++x)
        d = std::max(d, std::fabs(out.vectors[k * dims + x] - expected[x]));
      EXPECT_LE(d, 1e-4f) << GetParam() << " case " << idx[k] << " " << name;
      worst = std::max(worst, d);
      ++checked;
    }
  }
  std::printf("[ e2e ] %s: %d texts, max |diff| embedding %.3g\n", GetParam().c_str(), checked,
              worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EndToEndTest,
                         ::testing::Values("bert-tiny", "bert-tiny-cls-f16", "xlmr-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Every case of the fixtures whose tokenizer loads: NeuralEmbedder::tokenize with the case's
// prompt (the strip of prompt + text included) gives the reference ids, and they embed to the
// reference vector.
class TokenizeEmbedTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizeEmbedTest, CaseIdsAndEmbeddingsMatch) {
  const std::string dir = data_dir(GetParam());
  std::ifstream in(dir + "/expected.json");
  auto j = nlohmann::json::parse(in);
  auto e = NeuralEmbedder::open(dir, EngineOptions{2});
  const int dims = e->info().dims;
  std::vector<std::vector<int32_t>> seqs;
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const std::string prompt = c.value("prompt", std::string());
    Truncate tr = c["truncate"].get<std::string>() == "START" ? Truncate::kStart : Truncate::kEnd;
    int32_t prompt_tokens = 0;
    seqs.push_back(e->tokenize(text, prompt, tr, 0, &prompt_tokens));
    EXPECT_EQ(seqs.back(), c["input_ids"].get<std::vector<int32_t>>())
        << GetParam() << " case " << c["index"] << " " << c["name"];
  }
  std::vector<float> v;
  e->embed_ids(seqs, &v);
  float worst = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    auto expected = j["cases"][i]["embedding"].get<std::vector<float>>();
    float d = 0;
    for (int x = 0; x < dims; ++x) d = std::max(d, std::fabs(v[i * dims + x] - expected[x]));
    EXPECT_LE(d, 1e-4f) << GetParam() << " case " << i;
    worst = std::max(worst, d);
  }
  std::printf("[ e2e ] %s: %zu texts tokenized + embedded, max |diff| embedding %.3g\n",
              GetParam().c_str(), seqs.size(), worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizeEmbedTest,
                         ::testing::Values("nomic-bert-tiny", "mpnet-tiny", "qwen3-tiny",
                                           "modernbert-tiny", "gemma3-emb-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(EndToEnd, PythonStripRemovesWhatStrIsspaceRemoves) {
  EXPECT_EQ(py_strip("  a b \t\n"), "a b");
  EXPECT_EQ(py_strip("\x1c\x1fx\x0b\x0c"), "x");      // U+001C..U+001F, VT, FF
  EXPECT_EQ(py_strip("\xc2\xa0x\xe3\x80\x80"), "x");  // NBSP, U+3000
  EXPECT_EQ(py_strip("\xe2\x80\x8bx\xef\xbb\xbf"), "\xe2\x80\x8bx\xef\xbb\xbf");  // ZWSP, BOM kept
  EXPECT_EQ(py_strip(" \xe2\x80\xa8 "), "");                                      // U+2028
  EXPECT_EQ(py_strip(""), "");
}

TEST(EndToEnd, TruncateNoneRejectsOverLongInputNamingIt) {
  std::shared_ptr<Embedder> e = open_embedder(data_dir("bert-tiny-cls-f16"), EngineOptions{1});
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  std::vector<std::string_view> texts{"short text", "another", long_text};
  EmbedOutput out;
  try {
    e->embed(texts, InputType::kSearchDocument, Truncate::kNone, &out);
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(err.what()).find("input 2"), std::string::npos) << err.what();
  }
  // END and START both fit it into max_tokens.
  for (Truncate t : {Truncate::kEnd, Truncate::kStart}) {
    e->embed(texts, InputType::kSearchDocument, t, &out);
    EXPECT_EQ(out.num_tokens[2], e->info().max_tokens);
    EXPECT_EQ(out.vectors.size(), 3u * e->info().dims);
  }
}

TEST(EndToEnd, PromptSurvivesStartTruncation) {
  auto e = NeuralEmbedder::open(data_dir("xlmr-tiny"), EngineOptions{1});
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "hello world ";
  int32_t prompt_tokens = 0;
  auto ids = e->tokenize(long_text, "query: ", Truncate::kStart, 0, &prompt_tokens);
  auto prompt_only = e->tokenize("", "query: ", Truncate::kEnd, 0, &prompt_tokens);
  ASSERT_EQ(static_cast<int>(ids.size()), e->info().max_tokens);
  // <s> + prompt tokens lead, </s> ends.
  for (int32_t k = 0; k < prompt_tokens; ++k) EXPECT_EQ(ids[k], prompt_only[k]) << k;
  EXPECT_EQ(ids.back(), prompt_only.back());
}

}  // namespace
}  // namespace ej::engine
