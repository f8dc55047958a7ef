#include "engine/lexical_embedder.h"

#include <cmath>
#include <string>

#include "common/error.h"

namespace ej::engine {

namespace {

uint64_t fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // final avalanche (splitmix64) so low bits are well mixed
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

void add_feature(std::string_view feature, uint64_t seed, float weight, float* v) {
  uint64_t h = fnv1a(feature, seed);
  int bucket = static_cast<int>(h % LexicalEmbedder::kDims);
  float sign = (h >> 63) ? -1.0f : 1.0f;
  v[bucket] += sign * weight;
}

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

}  // namespace

LexicalEmbedder::LexicalEmbedder() {
  info_.kind = "lexical";
  info_.source = "lexical";
  info_.dims = kDims;
  info_.max_tokens = kMaxTokens;
  // Components of these L2-normalized sparse vectors rarely leave [-0.5, 0.5].
  info_.calib_lo = -0.5f;
  info_.calib_hi = 0.5f;
}

std::vector<std::string_view> LexicalEmbedder::words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

void LexicalEmbedder::embed(std::span<const std::string_view> texts, InputType /*input_type*/,
                            Truncate truncate, EmbedOutput* out) {
  out->vectors.assign(texts.size() * kDims, 0.0f);
  out->num_tokens.assign(texts.size(), 0);
  std::string lower;
  std::string gram;
  for (size_t t = 0; t < texts.size(); ++t) {
    std::vector<std::string_view> ws = words(texts[t]);
    if (static_cast<int>(ws.size()) > kMaxTokens) {
      if (truncate == Truncate::kNone) {
        throw_invalid("input " + std::to_string(t) + " has " + std::to_string(ws.size()) +
                      " tokens, more than the model's limit of " + std::to_string(kMaxTokens) +
                      " (truncate is NONE)");
      }
      if (truncate == Truncate::kEnd) {
        ws.resize(kMaxTokens);
      } else {
        ws.erase(ws.begin(), ws.end() - kMaxTokens);
      }
    }
    float* v = out->vectors.data() + t * kDims;
    for (std::string_view w : ws) {
      lower.assign(w);
      for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      add_feature(lower, 0x77, 1.0f, v);
      std::string bounded = "<" + lower + ">";
      for (size_t i = 0; i + 3 <= bounded.size(); ++i) {
        add_feature(std::string_view(bounded).substr(i, 3), 0x33, 0.5f, v);
      }
    }
    double norm = 0.0;
    for (int i = 0; i < kDims; ++i) norm += static_cast<double>(v[i]) * v[i];
    if (norm > 0.0) {
      float inv = static_cast<float>(1.0 / std::sqrt(norm));
      for (int i = 0; i < kDims; ++i) v[i] *= inv;
    }
    out->num_tokens[t] = static_cast<int>(ws.size());
  }
}

}  // namespace ej::engine
