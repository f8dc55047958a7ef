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
  // ids = indices of the kept words (the last kMaxTokens with START, the first with END).
  TokenizedInput tokenize_for(std::string_view text, InputType input_type, Truncate truncate,
                              int max_tokens, size_t index) const override;
  void embed_tokens(std::span<const TokenSeq> seqs, std::vector<float>* vectors) override;
  int max_batch_tokens() const override { return 8192; }
  // ids: a 31-bit hash of each lower-cased word; strings: the words.
  TextTokens tokenize_text(std::string_view text) const override;
  std::string detokenize(std::span<const int32_t> ids) const override;  // always throws

  // Words of a text: runs of letters/digits (any byte >= 0x80 counts as a letter), ASCII
  // lower-cased. Exposed for tests.
  static std::vector<std::string_view> words(std::string_view text);

 private:
  // Adds the features of one word to v (kDims floats).
  static void add_word(std::string_view word, float* v, std::string* scratch);
  ModelInfo info_;
};

}  // namespace ej::engine
