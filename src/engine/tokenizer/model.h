// Tokenization models of tokenizer.json ("model" block), reproducing Hugging Face tokenizers:
// WordPiece (greedy longest-match-first with a continuing-subword prefix, [UNK] for words that
// fail or exceed max_input_chars_per_word), Unigram (Viterbi over piece scores, unk fusing,
// byte_fallback), WordLevel, and BPE (bpe_model.cpp). Each model owns its vocabulary and tries; it
// is immutable after construction and tokenize() is safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ej::engine::tok {

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of one pre-tokenized word.
  virtual void tokenize(std::string_view word, std::vector<int32_t>* ids) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // The vocabulary string of an id; nullopt for ids outside the vocabulary.
  virtual std::optional<std::string_view> id_to_token(int32_t id) const = 0;
  virtual size_t vocab_size() const = 0;
};

// Throws ej::Error for unknown or malformed models.
std::unique_ptr<Model> make_model(const nlohmann::json& j);
// The BPE model (bpe_model.cpp).
std::unique_ptr<Model> make_bpe_model(const nlohmann::json& j);

}  // namespace ej::engine::tok
