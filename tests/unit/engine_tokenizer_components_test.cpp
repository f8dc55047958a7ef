// Unit tests of the tokenizer building blocks: ByteTrie, SimpleRegex, base64, the precompiled
// charsmap of the xlmr-tiny fixture, Unicode helpers, and small hand-written tokenizer.json
// files for components the fixtures do not use.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "engine/tokenizer/byte_trie.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/simple_regex.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine {
namespace {

using tok::ByteTrie;
using tok::SimpleRegex;

TEST(ByteTrie, PrefixesShortestFirstAndLastDuplicateWins) {
  ByteTrie t({{"a", 1}, {"ab", 2}, {"abc", 3}, {"b", 4}, {"ab", 5}, {"", 9}});
  std::vector<std::pair<size_t, int32_t>> got;
  t.common_prefixes("abcd", [&](size_t len, int32_t v) { got.emplace_back(len, v); });
  EXPECT_EQ(got, (std::vector<std::pair<size_t, int32_t>>{{1, 1}, {2, 5}, {3, 3}}));
  int32_t v = -1;
  EXPECT_EQ(t.longest_prefix("abx", &v), 2u);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(t.longest_prefix("xyz", &v), 0u);
  // Many children under one node (binary search path).
  std::vector<std::pair<std::string, int32_t>> many;
  for (int c = 0; c < 200; ++c) many.emplace_back(std::string("x") + static_cast<char>(c + 30), c);
  ByteTrie wide(many);
  for (int c = 0; c < 200; ++c) {
    EXPECT_EQ(wide.longest_prefix(std::string("x") + static_cast<char>(c + 30) + "z", &v), 2u);
    EXPECT_EQ(v, c);
  }
}

TEST(SimpleRegex, Quantifiers) {
  auto spans = [](const char* pattern, const std::string& s) {
    return SimpleRegex(pattern).find_all(s);
  };
  using V = std::vector<std::pair<size_t, size_t>>;
  EXPECT_EQ(spans(" {2,}", "a  b c   d"), (V{{1, 3}, {6, 9}}));
  EXPECT_EQ(spans("\\s+", "a \t\nb"), (V{{1, 4}}));
  EXPECT_EQ(spans("[0-9]+", "ab12c345"), (V{{2, 4}, {5, 8}}));
  EXPECT_EQ(spans("[^a-z]", "ab1c"), (V{{2, 3}}));
  EXPECT_EQ(spans("a.c", "abcaxc"), (V{{0, 3}, {3, 6}}));
  EXPECT_EQ(spans("ab?c", "acabcabbc"), (V{{0, 2}, {2, 5}}));
  EXPECT_EQ(spans("x{2}", "xxxxx"), (V{{0, 2}, {2, 4}}));
  EXPECT_EQ(spans("\\w+", "héllo wörld"), (V{{0, 6}, {7, 13}}));
  EXPECT_EQ(spans("\u2581+", "a\u2581\u2581b"), (V{{1, 7}}));
  EXPECT_THROW(SimpleRegex("(a|b)"), Error);
  EXPECT_THROW(SimpleRegex("a+?"), Error);
}

TEST(Unicode, Helpers) {
  size_t i = 0;
  EXPECT_EQ(tok::decode_utf8("\xE2\x96\x81", &i), 0x2581u);
  EXPECT_EQ(i, 3u);
  EXPECT_EQ(tok::sanitize_utf8("a\xC3(b"), "a\xEF\xBF\xBD(b");
  EXPECT_EQ(tok::sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(tok::is_whitespace(0x3000));
  EXPECT_FALSE(tok::is_whitespace(0x200B));
  EXPECT_TRUE(tok::is_bert_punctuation('$'));
  EXPECT_TRUE(tok::is_bert_punctuation(0x3002));
  EXPECT_FALSE(tok::is_bert_punctuation(0x20AC));  // euro sign is a symbol
  EXPECT_FALSE(tok::is_bert_punctuation(0x2E50));  // punctuation only since Unicode 13
  std::string lower;
  tok::append_lowercase(&lower, 0x130);
  EXPECT_EQ(lower, "i\xCC\x87");
  EXPECT_EQ(tok::normalize_form("e\xCC\x81", tok::NormForm::kNfc), "\xC3\xA9");
  EXPECT_EQ(tok::normalize_form("x\xEF\xAC\x81y", tok::NormForm::kNfkc), "xfiy");
  std::vector<std::string> clusters;
  tok::GraphemeIterator g("a\xCC\x88\xCC\x81\r\nb\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA");
  std::string_view c;
  while (g.next(&c)) clusters.emplace_back(c);
  EXPECT_EQ(clusters, (std::vector<std::string>{"a\xCC\x88\xCC\x81", "\r\n", "b",
                                                "\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA"}));
}

TEST(Precompiled, XlmrCharsmapPerGrapheme) {
  std::ifstream in(std::string(EJ_TEST_DATA_DIR) + "/xlmr-tiny/tokenizer.json");
  nlohmann::json j = nlohmann::json::parse(in);
  const auto& seq = j.at("normalizer").at("normalizers");
  tok::PrecompiledCharsmap map(
      tok::base64_decode(seq.at(0).at("precompiled_charsmap").get<std::string>()));
  auto norm = [&](std::string s) {
    map.normalize(&s);
    return s;
  };
  EXPECT_EQ(norm("abc"), "abc");
  EXPECT_EQ(norm("\xEF\xBC\xA1"), "A");              // fullwidth A (NFKC)
  EXPECT_EQ(norm("a\xCC\x88\xCC\x81"), "\xC3\xA4");  // a + diaeresis + acute -> ä
  EXPECT_EQ(norm("\xEF\xAC\x81"), "fi");             // ligature
}

TEST(Base64, Decode) {
  EXPECT_EQ(tok::base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(tok::base64_decode("aGVsbG8gd29ybGQ"), "hello world");
}

std::string wordpiece_json(const std::string& normalizer, const std::string& pre_tokenizer,
                           const std::string& added = "[]") {
  return R"({"added_tokens": )" + added + R"(, "normalizer": )" + normalizer +
         R"(, "pre_tokenizer": )" + pre_tokenizer +
         R"(, "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]},
       "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                 "max_input_chars_per_word": 5,
                 "vocab": {"<s>": 0, "[UNK]": 1, "</s>": 2, "a": 3, "b": 4, "ab": 5, "##b": 6,
                           "##c": 7, "!": 8, "1": 9, "2": 10, "12": 11, "hello": 12}}})";
}

TEST(TokenizerJson, WordPieceDetails) {
  auto t = Tokenizer::from_json(wordpiece_json("null", R"({"type": "BertPreTokenizer"})"));
  EXPECT_EQ(t->encode("ab abc a!b").ids, (std::vector<int32_t>{0, 5, 5, 7, 3, 8, 4, 2}));
  EXPECT_EQ(t->encode("abd").ids, (std::vector<int32_t>{0, 1, 2}));     // unmatched -> [UNK]
  EXPECT_EQ(t->encode("abbbbb").ids, (std::vector<int32_t>{0, 1, 2}));  // 6 chars > 5
  EXPECT_EQ(t->encode("abbbb").ids, (std::vector<int32_t>{0, 5, 6, 6, 6, 2}));
}

TEST(TokenizerJson, DigitsAndAddedTokenFlags) {
  auto t = Tokenizer::from_json(wordpiece_json(
      R"({"type": "Lowercase"})",
      R"({"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
          {"type": "Digits", "individual_digits": true}]})",
      R"([{"id": 12, "content": "hello", "single_word": true, "lstrip": false, "rstrip": true,
           "normalized": true, "special": false}])"));
  EXPECT_EQ(t->encode("12").ids, (std::vector<int32_t>{0, 9, 10, 2}));
  // normalized: matched after lowercasing; rstrip swallows the spaces after it.
  EXPECT_EQ(t->encode("HELLO   ab").ids, (std::vector<int32_t>{0, 12, 5, 2}));
  // single_word: not inside a word.
  EXPECT_EQ(t->encode("ahello").ids, (std::vector<int32_t>{0, 1, 2}));
}

TEST(TokenizerJson, UnsupportedComponentsAreReported) {
  try {
    Tokenizer::from_json(wordpiece_json("null", R"({"type": "ByteLevel"})"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented);
    EXPECT_NE(std::string(e.what()).find("ByteLevel"), std::string::npos);
  }
}

}  // namespace
}  // namespace ej::engine
