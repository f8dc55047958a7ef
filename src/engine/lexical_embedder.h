// LexicalEmbedder: the built-in offline model. NOT a neural model: it hashes lower-cased words
// and character 3-grams (feature hashing, FNV-1a 64) into 384 signed buckets and L2-normalizes.
// Texts sharing words get similar vectors; synonyms do not. Deterministic across machines.
// A "token" is one word; the context is 512 words (specials not counted, there are none).
#pragma once

#include "engine/embedder.h"

namespace ej::engine {

class LexicalEmbedder final : public Embedder {
 public:
  static constexpr int kDims = 384;
  static constexpr int kMaxTokens = 512;
  LexicalEmbedder();
  const ModelInfo& info() const override { return info_; }
  void embed(std::span<const std::string_view> texts, InputType input_type, Truncate truncate,
             EmbedOutput* out) override;

  // Words of a text: runs of letters/digits (any byte >= 0x80 counts as a letter), ASCII
  // lower-cased. Exposed for tests.
  static std::vector<std::string_view> words(std::string_view text);

 private:
  ModelInfo info_;
};

}  // namespace ej::engine
