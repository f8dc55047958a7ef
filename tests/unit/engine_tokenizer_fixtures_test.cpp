// Token-for-token fidelity of the C++ tokenizers on the fixtures in tests/data (ids made by
// Hugging Face tokenizers 0.23.2): every case of each expected.json (its input_text where the
// fixture has one, else prompt + text; the token strings too where it lists them), plus the two
// XLM-R tokenizer.json variants. Fixtures: BERT, XLM-R (Unigram), Qwen3 and ModernBERT
// (byte-level BPE), Gemma3 (SentencePiece-style BPE with byte fallback), nomic-bert and MPNet
// (WordPiece with TemplateProcessing).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "engine/tokenizer/tokenizer.h"

namespace ej::engine {
namespace {

const std::string kData = EJ_TEST_DATA_DIR;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

void check_fixture(const std::string& name) {
  auto tokenizer = Tokenizer::from_file(kData + "/" + name + "/tokenizer.json");
  nlohmann::json expected = read_json(kData + "/" + name + "/expected.json");
  int checked = 0;
  for (const auto& c : expected.at("cases")) {
    // input_text: the exact string given to the tokenizer ((prompt + text).strip(), see README).
    std::string text = c.contains("input_text")
                           ? c.at("input_text").get<std::string>()
                           : c.at("prompt").get<std::string>() + c.at("text").get<std::string>();
    Truncate dir =
        c.at("truncate").get<std::string>() == "START" ? Truncate::kStart : Truncate::kEnd;
    Encoding e = tokenizer->encode(text, c.at("max_length").get<int>(), dir);
    auto want = c.at("input_ids").get<std::vector<int32_t>>();
    EXPECT_EQ(e.ids, want) << name << " case " << c.at("index") << " (" << c.at("name") << ")";
    if (c.contains("tokens")) {
      // The fixture lists HF Encoding.tokens: the vocabulary string of each id, except that an
      // unknown piece shows its source text and an lstrip/rstrip added token its stripped spaces.
      auto tokens = c.at("tokens").get<std::vector<std::string>>();
      auto ours = tokenizer->token_strings(e.ids);
      ASSERT_EQ(ours.size(), tokens.size());
      for (size_t k = 0; k < ours.size(); ++k) {
        if (ours[k] == "<unk>" || ours[k] == "[UNK]") continue;
        std::string want = tokens[k];
        if (want != ours[k]) want.erase(0, want.find_first_not_of(' '));
        EXPECT_EQ(ours[k], want) << name << " case " << c.at("index") << " token " << k;
      }
    }
    EXPECT_EQ(e.num_tokens_untruncated, c.at("num_tokens_untruncated").get<int>())
        << name << " case " << c.at("index") << " (" << c.at("name") << ")";
    ++checked;
  }
  EXPECT_EQ(checked, expected.at("num_cases").get<int>());
}

TEST(TokenizerFixtures, BertTiny) {
  check_fixture("bert-tiny");
}
TEST(TokenizerFixtures, BertTinyClsF16) {
  check_fixture("bert-tiny-cls-f16");
}
TEST(TokenizerFixtures, XlmrTiny) {
  check_fixture("xlmr-tiny");
}
TEST(TokenizerFixtures, Qwen3Tiny) {
  check_fixture("qwen3-tiny");
}
TEST(TokenizerFixtures, Gemma3EmbTiny) {
  check_fixture("gemma3-emb-tiny");
}
TEST(TokenizerFixtures, ModernbertTiny) {
  check_fixture("modernbert-tiny");
}
TEST(TokenizerFixtures, NomicBertTiny) {
  check_fixture("nomic-bert-tiny");
}
TEST(TokenizerFixtures, MpnetTiny) {
  check_fixture("mpnet-tiny");
}

TEST(TokenizerFixtures, XlmrVariants) {
  const std::string dir = kData + "/xlmr-tiny/tokenizer_variants";
  nlohmann::json variants = read_json(dir + "/expected_ids.json").at("variants");
  nlohmann::json cases = read_json(kData + "/xlmr-tiny/expected.json").at("cases");
  ASSERT_EQ(variants.size(), 2u);
  for (const auto& [name, v] : variants.items()) {
    auto tokenizer = Tokenizer::from_file(dir + "/" + v.at("tokenizer").get<std::string>());
    ASSERT_EQ(v.at("cases").size(), cases.size());
    for (const auto& vc : v.at("cases")) {
      const auto& c = cases.at(vc.at("index").get<size_t>());
      std::string text = c.at("prompt").get<std::string>() + c.at("text").get<std::string>();
      Truncate d =
          c.at("truncate").get<std::string>() == "START" ? Truncate::kStart : Truncate::kEnd;
      Encoding e = tokenizer->encode(text, c.at("max_length").get<int>(), d);
      EXPECT_EQ(e.ids, vc.at("input_ids").get<std::vector<int32_t>>())
          << name << " case " << vc.at("index") << " (" << c.at("name") << ")";
      EXPECT_EQ(e.num_tokens_untruncated, vc.at("num_tokens_untruncated").get<int>())
          << name << " case " << vc.at("index");
    }
  }
}

TEST(TokenizerApi, SpecialsPadAndNoSpecials) {
  auto bert = Tokenizer::from_file(kData + "/bert-tiny/tokenizer.json");
  EXPECT_EQ(bert->pad_id(), 0);
  EXPECT_EQ(bert->num_special_tokens(), 2);
  EXPECT_EQ(bert->prefix_ids(), std::vector<int32_t>{101});
  EXPECT_EQ(bert->suffix_ids(), std::vector<int32_t>{102});
  EXPECT_EQ(bert->token_to_id("[MASK]"), std::optional<int32_t>(103));
  auto ids = bert->encode_ids_no_specials("hello [SEP] world");
  Encoding full = bert->encode("hello [SEP] world", 0, Truncate::kNone);
  ASSERT_EQ(full.ids.size(), ids.size() + 2);
  EXPECT_TRUE(std::equal(ids.begin(), ids.end(), full.ids.begin() + 1));
  EXPECT_NE(std::find(ids.begin(), ids.end(), 102), ids.end());

  auto xlmr = Tokenizer::from_file(kData + "/xlmr-tiny/tokenizer.json");
  EXPECT_EQ(xlmr->pad_id(), 1);
  EXPECT_EQ(xlmr->prefix_ids(), std::vector<int32_t>{0});
  EXPECT_EQ(xlmr->suffix_ids(), std::vector<int32_t>{2});
  EXPECT_EQ(xlmr->vocab_size(), 4002u);
}

TEST(TokenizerApi, TruncationKeepsSpecials) {
  auto bert = Tokenizer::from_file(kData + "/bert-tiny/tokenizer.json");
  const std::string text = "one two three four five six seven eight nine ten";
  Encoding all = bert->encode(text, 0, Truncate::kEnd);
  ASSERT_GT(all.ids.size(), 6u);
  Encoding end = bert->encode(text, 5, Truncate::kEnd);
  Encoding start = bert->encode(text, 5, Truncate::kStart);
  Encoding none = bert->encode(text, 5, Truncate::kNone);
  EXPECT_EQ(end.ids, (std::vector<int32_t>{101, all.ids[1], all.ids[2], all.ids[3], 102}));
  size_t n = all.ids.size();
  EXPECT_EQ(start.ids,
            (std::vector<int32_t>{101, all.ids[n - 4], all.ids[n - 3], all.ids[n - 2], 102}));
  EXPECT_EQ(none.ids, all.ids);
  EXPECT_EQ(end.num_tokens_untruncated, static_cast<int>(n));
  Encoding tiny = bert->encode(text, 1, Truncate::kEnd);
  EXPECT_EQ(tiny.ids, (std::vector<int32_t>{101, 102}));
}

TEST(TokenizerApi, Errors) {
  EXPECT_THROW(Tokenizer::from_file(kData + "/no-such/tokenizer.json"), Error);
  EXPECT_THROW(Tokenizer::from_json("{not json"), Error);
  EXPECT_THROW(
      Tokenizer::from_json(R"({"model": {"type": "BPE", "vocab": {}, "merges": ["a b"]}})"), Error);
}

TEST(TokenizerApi, InvalidUtf8IsReplaced) {
  auto bert = Tokenizer::from_file(kData + "/bert-tiny/tokenizer.json");
  // U+FFFD is removed by clean_text, so the invalid byte vanishes.
  EXPECT_EQ(bert->encode("ab\xff"
                         "cd")
                .ids,
            bert->encode("abcd").ids);
}

TEST(TokenizerApi, BpeSpecialsAndDecodeRoundTrip) {
  auto qwen = Tokenizer::from_file(kData + "/qwen3-tiny/tokenizer.json");
  EXPECT_TRUE(qwen->prefix_ids().empty());
  EXPECT_EQ(qwen->suffix_ids(), std::vector<int32_t>{4000});  // <|endoftext|> appended
  EXPECT_TRUE(qwen->is_special_id(4000));
  EXPECT_EQ(qwen->id_to_token(4001), std::optional<std::string>("<|im_start|>"));
  EXPECT_EQ(qwen->id_to_token(999999), std::nullopt);
  // Byte-level BPE is lossless: decoding gives the (NFC) text back.
  const std::string text = "Hello, wörld! 日本語 🙂  spaces\n\ttabs 12345 it's";
  Encoding e = qwen->encode(text);
  EXPECT_EQ(qwen->decode(e.ids, /*skip_special_tokens=*/true), text);
  EXPECT_EQ(qwen->decode(e.ids, false), text + "<|endoftext|>");

  auto gemma = Tokenizer::from_file(kData + "/gemma3-emb-tiny/tokenizer.json");
  EXPECT_EQ(gemma->prefix_ids(), std::vector<int32_t>{2});  // <bos>
  EXPECT_EQ(gemma->suffix_ids(), std::vector<int32_t>{1});  // <eos>
  Encoding g = gemma->encode(text);
  EXPECT_EQ(gemma->decode(g.ids, true), text);  // byte fallback covers what the vocab lacks
  EXPECT_EQ(gemma->decode(g.ids, false), "<bos>" + text + "<eos>");
}

TEST(TokenizerApi, ConcurrentEncodeMatchesSerial) {
  for (const char* name : {"bert-tiny", "xlmr-tiny", "qwen3-tiny", "gemma3-emb-tiny"}) {
    auto t = Tokenizer::from_file(kData + "/" + std::string(name) + "/tokenizer.json");
    nlohmann::json cases =
        read_json(kData + "/" + std::string(name) + "/expected.json").at("cases");
    std::vector<std::string> texts;
    for (const auto& c : cases)
      texts.push_back(c.at("prompt").get<std::string>() + c.at("text").get<std::string>());
    std::vector<std::vector<int32_t>> serial;
    for (const auto& text : texts) serial.push_back(t->encode(text).ids);
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k) {
      threads.emplace_back([&, k] {
        for (int rep = 0; rep < 5; ++rep) {
          for (size_t i = 0; i < texts.size(); ++i) {
            size_t j = (i * 7 + static_cast<size_t>(k)) % texts.size();
            if (t->encode(texts[j]).ids != serial[j]) ++failures[static_cast<size_t>(k)];
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int f : failures) EXPECT_EQ(f, 0) << name;
  }
}

// Microseconds of one encode(text).
double encode_us(const Tokenizer& t, const std::string& text) {
  auto t0 = std::chrono::steady_clock::now();
  size_t n = t.encode(text).ids.size();
  double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  if (n == 0) ADD_FAILURE() << "no tokens";
  return us;
}

std::string repeat_to(const std::vector<std::string>& pieces, size_t bytes, size_t stride) {
  std::string out;
  for (size_t i = 0; out.size() < bytes; ++i) out += pieces[(i * stride + i / 3) % pieces.size()];
  return out;
}

// Not a timed test: it checks how the cost grows. Encoding 4x the input must cost under 10x,
// well below the 16x that quadratic work would (one long word for BPE merges and WordPiece, and a
// long mixed-script text for the pre-tokenizer regexes and normalizers).
TEST(TokenizerSpeed, CostGrowsLinearlyWithTheInput) {
  const std::vector<std::string> words = {"The ",    "quick ",    "brown ",   "fox, ",  "jumps ",
                                          "über ",   "den ",      "faulen ",  "Hund. ", "Привет ",
                                          "мир! ",   "中文字符 ", "emoji 😀 ", "naïve ", "café ",
                                          "123.45 ", "don't ",    "(x+y) "};
  const std::vector<std::string> letters = {"a", "b", "c", "é", "d", "e", "ß", "f"};
  for (const char* name : {"bert-tiny", "xlmr-tiny", "qwen3-tiny", "gemma3-emb-tiny"}) {
    auto t = Tokenizer::from_file(kData + "/" + std::string(name) + "/tokenizer.json");
    for (bool one_word : {true, false}) {
      const auto& pieces = one_word ? letters : words;
      const size_t stride = one_word ? 7 : 1;
      std::string small = repeat_to(pieces, 10000, stride);
      std::string large = repeat_to(pieces, 40000, stride);
      // The fastest of 15 runs of each, the two sizes taken in turn so that both see the same
      // load: load only ever adds time, so the fastest run is what the code itself costs.
      double small_us = 1e300, large_us = 1e300;
      for (int rep = 0; rep < 15; ++rep) {
        small_us = std::min(small_us, encode_us(*t, small));
        large_us = std::min(large_us, encode_us(*t, large));
      }
      double growth = large_us / std::max(small_us, 1.0);
      std::printf("%s: %s %zu bytes in %.0f us, %zu bytes in %.0f us: %.1fx\n", name,
                  one_word ? "one word of" : "text of", small.size(), small_us, large.size(),
                  large_us, growth);
      EXPECT_LT(growth, 10.0) << name << (one_word ? " one word" : " text");
    }
  }
}

}  // namespace
}  // namespace ej::engine
