// Unit tests of the tokenizer building blocks: ByteTrie, OnigRegex, byte-level tables, base64, the
// precompiled charsmap of the xlmr-tiny fixture, Unicode helpers, and small hand-written
// tokenizer.json files for components the fixtures do not use.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/byte_trie.h"
#include "engine/tokenizer/decoder.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/onig_regex.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine {
namespace {

using tok::ByteTrie;
using tok::OnigRegex;

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

TEST(OnigRegex, FindAllLikeTheOnigCrate) {
  auto spans = [](const char* pattern, const std::string& s) {
    return OnigRegex(pattern).find_all(s);
  };
  using V = std::vector<std::pair<size_t, size_t>>;
  EXPECT_EQ(spans(" {2,}", "a  b c   d"), (V{{1, 3}, {6, 9}}));
  EXPECT_EQ(spans("\\s+", "a \t\nb"), (V{{1, 4}}));
  EXPECT_EQ(spans("[0-9]+", "ab12c345"), (V{{2, 4}, {5, 8}}));
  EXPECT_EQ(spans("\\w+", "héllo wörld"), (V{{0, 6}, {7, 13}}));
  EXPECT_EQ(spans("\u2581+", "a\u2581\u2581b"), (V{{1, 7}}));
  // The lookahead of the GPT-2 pattern: trailing spaces before a word leave one for the word.
  EXPECT_EQ(spans("\\s+(?!\\S)|\\s+", "a   b"), (V{{1, 3}, {3, 4}}));
  EXPECT_EQ(spans("(?i:'s|'t)", "IT'S it's"), (V{{2, 4}, {7, 9}}));
  EXPECT_EQ(spans("\\p{L}+|\\p{N}", "Привет42"), (V{{0, 12}, {12, 13}, {13, 14}}));
  // Empty matches: one per position, none right after the previous match.
  EXPECT_EQ(spans("x*", "ab"), (V{{0, 0}, {1, 1}, {2, 2}}));
  EXPECT_EQ(spans("a|", "ab"), (V{{0, 1}, {2, 2}}));
  EXPECT_THROW(OnigRegex("(a"), Error);
}

TEST(ByteLevel, AlphabetAndLossyUtf8) {
  std::string s;
  tok::append_byte_level(&s, std::string("a \n\xC3\xA9", 5));
  EXPECT_EQ(s, "a\xC4\xA0\xC4\x8A\xC3\x83\xC2\xA9");  // a Ġ Ċ Ã ©
  EXPECT_EQ(tok::byte_level_byte(0x120), ' ');
  EXPECT_EQ(tok::byte_level_byte('a'), 'a');
  EXPECT_EQ(tok::byte_level_byte(0x20), -1);
  EXPECT_EQ(tok::byte_level_byte(0x2581), -1);
  for (int b = 0; b < 256; ++b) {
    std::string one;
    tok::append_byte_level(&one, std::string(1, static_cast<char>(b)));
    size_t i = 0;
    EXPECT_EQ(tok::byte_level_byte(tok::decode_utf8(one, &i)), b);
  }
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(tok::utf8_lossy("ok\xC3\xA9"), "ok\xC3\xA9");
  EXPECT_EQ(tok::utf8_lossy("a\xE2\x96"), "a" + fffd);  // truncated: one U+FFFD
  EXPECT_EQ(tok::utf8_lossy("\xE2\x96x"), fffd + "x");
  EXPECT_EQ(tok::utf8_lossy("\xED\xA0\x80"), fffd + fffd + fffd);  // surrogate
  EXPECT_EQ(tok::utf8_lossy("\xF0\x9F\x98"), fffd);
  EXPECT_EQ(tok::utf8_lossy("\xFF\x80"), fffd + fffd);
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

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  size_t pos = s.find(from);
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

// A byte-level BPE: merges "a b" -> ab, "ab c" -> abc, "Ġ a" -> Ġa; ranks in list order.
std::string bpe_json(const std::string& extra_model = "", const std::string& added = "[]") {
  return R"({"added_tokens": )" + added + R"(, "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "post_processor": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "dropout": null, "unk_token": null)" +
         extra_model + R"(,
      "vocab": {"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "abc": 5, "Ġa": 6, "bc": 7,
                "Ã": 8, "©": 9, "Ã©": 10},
      "merges": ["a b", "ab c", ["Ġ", "a"], "b c", "Ã ©"]}})";
}

TEST(TokenizerJson, BytePairMergesByRankAndDecodes) {
  auto t = Tokenizer::from_json(bpe_json());
  EXPECT_EQ(t->encode("abc").ids, (std::vector<int32_t>{5}));
  EXPECT_EQ(t->encode("bc a").ids, (std::vector<int32_t>{7, 6}));
  // "abbc": a+b (rank 0) first, then b c (rank 3): ab, bc.
  EXPECT_EQ(t->encode("abbc").ids, (std::vector<int32_t>{4, 7}));
  EXPECT_EQ(t->encode("\xC3\xA9").ids, (std::vector<int32_t>{10}));
  // Characters outside the vocabulary are dropped without an unk_token.
  EXPECT_EQ(t->encode("axc").ids, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(t->decode(std::vector<int32_t>{7, 6, 10}), "bc a\xC3\xA9");
  EXPECT_EQ(t->decode(std::vector<int32_t>{7, 8}), "bc\xEF\xBF\xBD");  // half a character
  EXPECT_EQ(t->id_to_token(6), std::optional<std::string>("\xC4\xA0"
                                                          "a"));
  EXPECT_EQ(t->token_strings(std::vector<int32_t>{6, 99}), (std::vector<std::string>{"\xC4\xA0"
                                                                                     "a",
                                                                                     ""}));
}

TEST(TokenizerJson, BytePairIgnoreMergesUnkAndByteFallback) {
  // ignore_merges: a word in the vocabulary is one token even when no merge builds it.
  auto t = Tokenizer::from_json(
      replaced(bpe_json(R"(, "ignore_merges": true)"), R"("bc": 7,)", R"("bc": 7, "ca": 11,)"));
  EXPECT_EQ(t->encode("ca").ids, (std::vector<int32_t>{11}));
  auto spm = Tokenizer::from_json(R"({"added_tokens": [{"id": 0, "content": "<unk>",
      "special": true, "normalized": false, "lstrip": false, "rstrip": false,
      "single_word": false}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null, "post_processor": null,
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
      {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
      "vocab": {"<unk>": 0, "▁": 1, "h": 2, "i": 3, "▁h": 4, "▁hi": 5, "<0xC3>": 6, "<0xA9>": 7},
      "merges": ["▁ h", "▁h i"]}})");
  EXPECT_EQ(spm->encode("hi hi").ids, (std::vector<int32_t>{5, 5}));
  // é is not in the vocabulary: its two bytes; x and y are unknown: one fused <unk>.
  EXPECT_EQ(spm->encode("hi\xC3\xA9xy").ids, (std::vector<int32_t>{5, 6, 7, 0}));
  EXPECT_EQ(spm->decode(std::vector<int32_t>{5, 6, 7, 5}), "hi\xC3\xA9 hi");
  EXPECT_EQ(spm->decode(std::vector<int32_t>{5, 6, 5}), "hi\xEF\xBF\xBD hi");
  EXPECT_EQ(spm->decode(std::vector<int32_t>{0, 5}, true), "hi");
  EXPECT_EQ(spm->decode(std::vector<int32_t>{0, 5}, false), "<unk> hi");
  EXPECT_TRUE(spm->is_special_id(0));
  EXPECT_FALSE(spm->is_special_id(5));
}

TEST(TokenizerJson, WordPieceDecoderCleanup) {
  EXPECT_EQ(tok::wordpiece_cleanup("hello , world . it ' s do not"), "hello, world. it's don't");
  auto t = Tokenizer::from_json(wordpiece_json("null", R"({"type": "BertPreTokenizer"})"));
  // No decoder: tokens joined by spaces.
  EXPECT_EQ(t->decode(std::vector<int32_t>{0, 5, 7, 2}), "<s> ab ##c </s>");
}

TEST(TokenizerJson, BpeDropoutIsRefused) {
  try {
    Tokenizer::from_json(replaced(bpe_json(R"(, "dropout": 0.1)"), R"("dropout": null,)", ""));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented);
    EXPECT_NE(std::string(e.what()).find("dropout"), std::string::npos);
  }
}

TEST(TokenizerJson, UnsupportedComponentsAreReported) {
  try {
    Tokenizer::from_json(wordpiece_json("null", R"({"type": "UnicodeScripts"})"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented);
    EXPECT_NE(std::string(e.what()).find("UnicodeScripts"), std::string::npos);
  }
}

}  // namespace
}  // namespace ej::engine
