#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/lexical_embedder.h"
#include "engine/quantize.h"

namespace ej::engine {
namespace {

TEST(Quantize, BinaryPacksMsbFirstPositiveIsOne) {
  std::vector<float> v = {0.5f,  -1.0f, 0.0f, 2.0f, -0.1f, 0.1f, 0.0f, 1.0f,  // 1 0 0 1 0 1 0 1
                          -1.0f, 3.0f};                                       // 0 1 (padded)
  std::vector<uint8_t> u = pack_ubinary(v);
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0], 0b10010101);
  EXPECT_EQ(u[1], 0b01000000);
  std::vector<int8_t> b = pack_binary(v);
  EXPECT_EQ(b[0], static_cast<int>(0b10010101) - 128);
  EXPECT_EQ(b[1], 64 - 128);
}

TEST(Quantize, BinaryMatchesUbinaryMinus128OnRandomVectors) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d;
  for (int t = 0; t < 50; ++t) {
    std::vector<float> v(384);
    for (float& x : v) x = d(rng);
    auto u = pack_ubinary(v);
    auto b = pack_binary(v);
    ASSERT_EQ(u.size(), 48u);
    for (size_t i = 0; i < u.size(); ++i) {
      EXPECT_EQ(static_cast<int>(b[i]), static_cast<int>(u[i]) - 128);
      for (int bit = 0; bit < 8; ++bit) {
        bool set = (u[i] >> (7 - bit)) & 1;
        EXPECT_EQ(set, v[i * 8 + static_cast<size_t>(bit)] > 0.0f);
      }
    }
  }
}

TEST(Quantize, Uint8AndInt8UseTheCalibrationRange) {
  std::vector<float> v = {-0.5f, 0.5f, 0.0f, -10.0f, 10.0f, 0.25f, NAN};
  auto u = quantize_uint8(v, -0.5f, 0.5f);
  EXPECT_EQ(u[0], 0);
  EXPECT_EQ(u[1], 255);
  EXPECT_EQ(u[2], 128);  // 127.5 rounds to even: 128
  EXPECT_EQ(u[3], 0);    // clamped
  EXPECT_EQ(u[4], 255);  // clamped
  EXPECT_EQ(u[5], 191);  // 191.25
  EXPECT_EQ(u[6], 0);    // NaN -> 0
  auto i8 = quantize_int8(v, -0.5f, 0.5f);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(i8[i], static_cast<int>(u[i]) - 128);
}

TEST(LexicalEmbedder, DeterministicNormalizedAndLexical) {
  LexicalEmbedder m;
  std::vector<std::string_view> texts = {"The quick brown fox", "the QUICK brown fox!",
                                         "completely unrelated words here", ""};
  EmbedOutput out;
  m.embed(texts, InputType::kSearchDocument, Truncate::kEnd, &out);
  ASSERT_EQ(out.vectors.size(), 4u * 384);
  auto row = [&](size_t i) { return out.vectors.data() + i * 384; };
  auto dot = [&](size_t a, size_t b) {
    double s = 0;
    for (int k = 0; k < 384; ++k) s += row(a)[k] * row(b)[k];
    return s;
  };
  EXPECT_NEAR(dot(0, 0), 1.0, 1e-5);
  EXPECT_NEAR(dot(0, 1), 1.0, 1e-5);  // case and punctuation do not matter
  EXPECT_LT(dot(0, 2), 0.5);
  EXPECT_EQ(dot(3, 3), 0.0);  // empty text: zero vector
  EXPECT_EQ(out.num_tokens[0], 4);
  EmbedOutput again;
  m.embed(texts, InputType::kSearchQuery, Truncate::kEnd, &again);
  EXPECT_EQ(out.vectors, again.vectors);
}

TEST(LexicalEmbedder, TruncationAndNone) {
  LexicalEmbedder m;
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "w" + std::to_string(i) + " ";
  std::vector<std::string_view> texts = {long_text};
  EmbedOutput out;
  m.embed(texts, InputType::kSearchDocument, Truncate::kEnd, &out);
  EXPECT_EQ(out.num_tokens[0], 512);
  EmbedOutput start;
  m.embed(texts, InputType::kSearchDocument, Truncate::kStart, &start);
  EXPECT_NE(out.vectors, start.vectors);
  EXPECT_THROW(m.embed(texts, InputType::kSearchDocument, Truncate::kNone, &out), std::exception);
}

}  // namespace
}  // namespace ej::engine
