#include "engine/lexical_embedder.h"

#include <algorithm>
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

void LexicalEmbedder::add_word(std::string_view w, float* v, std::string* lower) {
  lower->assign(w);
  for (char& c : *lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  add_feature(*lower, 0x77, 1.0f, v);
  std::string bounded = "<" + *lower + ">";
  for (size_t i = 0; i + 3 <= bounded.size(); ++i) {
    add_feature(std::string_view(bounded).substr(i, 3), 0x33, 0.5f, v);
  }
}

TokenizedInput LexicalEmbedder::tokenize_for(std::string_view text, InputType /*input_type*/,
                                             Truncate truncate, int max_tokens,
                                             size_t index) const {
  const int n = static_cast<int>(words(text).size());
  const int cap = max_tokens > 0 ? std::min(max_tokens, kMaxTokens) : kMaxTokens;
  if (n > cap && truncate == Truncate::kNone) {
    throw_invalid("input " + std::to_string(index) + " has " + std::to_string(n) +
                  " tokens, more than the " + (cap < kMaxTokens ? "max_tokens" : "model's limit") +
                  " of " + std::to_string(cap) + " (truncate is NONE)");
  }
  const int kept = std::min(n, cap);
  const int first = truncate == Truncate::kStart ? n - kept : 0;
  TokenizedInput in;
  in.ids.resize(static_cast<size_t>(kept));
  for (int i = 0; i < kept; ++i) in.ids[static_cast<size_t>(i)] = first + i;
  return in;
}

void LexicalEmbedder::embed_tokens(std::span<const TokenSeq> seqs, std::vector<float>* vectors) {
  vectors->assign(seqs.size() * kDims, 0.0f);
  std::string lower;
  for (size_t t = 0; t < seqs.size(); ++t) {
    std::vector<std::string_view> ws = words(seqs[t].text);
    float* v = vectors->data() + t * kDims;
    for (int32_t id : seqs[t].ids) {
      if (id < 0 || static_cast<size_t>(id) >= ws.size()) {
        throw Error(ErrorCode::kInternal, "lexical: word index out of range");
      }
      add_word(ws[static_cast<size_t>(id)], v, &lower);
    }
    double norm = 0.0;
    for (int i = 0; i < kDims; ++i) norm += static_cast<double>(v[i]) * v[i];
    if (norm > 0.0) {
      float inv = static_cast<float>(1.0 / std::sqrt(norm));
      for (int i = 0; i < kDims; ++i) v[i] *= inv;
    }
  }
}

void LexicalEmbedder::embed(std::span<const std::string_view> texts, InputType input_type,
                            Truncate truncate, EmbedOutput* out) {
  std::vector<TokenizedInput> inputs(texts.size());
  std::vector<TokenSeq> seqs(texts.size());
  out->num_tokens.assign(texts.size(), 0);
  for (size_t t = 0; t < texts.size(); ++t) {
    inputs[t] = tokenize_for(texts[t], input_type, truncate, 0, t);
    seqs[t] = TokenSeq{inputs[t].ids, 0, texts[t]};
    out->num_tokens[t] = static_cast<int>(inputs[t].ids.size());
  }
  embed_tokens(seqs, &out->vectors);
}

TextTokens LexicalEmbedder::tokenize_text(std::string_view text) const {
  TextTokens t;
  std::string lower;
  for (std::string_view w : words(text)) {
    lower.assign(w);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    t.ids.push_back(static_cast<int32_t>(fnv1a(lower, 0x77) & 0x7fffffffu));
    t.strings.emplace_back(w);
  }
  return t;
}

std::string LexicalEmbedder::detokenize(std::span<const int32_t> /*ids*/) const {
  throw_invalid(
      "invalid request: the lexical model has no vocabulary (its token ids are word hashes), "
      "so it cannot detokenize");
}

}  // namespace ej::engine
