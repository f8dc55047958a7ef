// Tokenizer: a Hugging Face `tokenizer.json` tokenizer reimplemented in C++, token for token:
// added/special tokens matched on the raw text (lstrip/rstrip/single_word/normalized honoured),
// then normalizer -> pre-tokenizer -> model (WordPiece, Unigram, WordLevel or BPE, byte-level or
// SentencePiece-style with byte fallback) -> truncation that keeps the special tokens ->
// post-processor (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel). decode()
// runs the file's decoder as HF's tokenizer.decode does. Unsupported components (BPE dropout,
// unknown types) are rejected at load with ej::Error(kNotImplemented). Owns the whole pipeline;
// immutable after from_file()/from_json(): every const method is safe to call from several threads
// at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/embedder.h"

namespace ej::engine {

namespace tok {
class Normalizer;
class PreTokenizer;
class Model;
class Decoder;
class ByteTrie;
}  // namespace tok

struct Encoding {
  // Token ids including the special tokens (e.g. [CLS] ... [SEP] or <s> ... </s>), truncated.
  std::vector<int32_t> ids;
  // The length the ids would have without truncation (special tokens included).
  int num_tokens_untruncated = 0;
};

class Tokenizer {
 public:
  // Loads tokenizer.json. Throws ej::Error (kNotFound for a missing file, kInvalidArgument for
  // a malformed one, kNotImplemented for unsupported components).
  static std::unique_ptr<Tokenizer> from_file(const std::string& path);
  static std::unique_ptr<Tokenizer> from_json(std::string_view json_text);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Tokenizes one text and adds the special tokens. max_length counts the special tokens;
  // 0 = no limit. direction kEnd keeps the first tokens, kStart keeps the last ones (the special
  // tokens always stay); kNone never truncates. Invalid UTF-8 bytes read as U+FFFD.
  Encoding encode(std::string_view text, int max_length = 0,
                  Truncate direction = Truncate::kEnd) const;
  // The content ids of a text: no special tokens, no truncation.
  std::vector<int32_t> encode_ids_no_specials(std::string_view text) const;
  // How many special tokens the post-processor adds to one sequence (2 for BERT and XLM-R).
  int num_special_tokens() const {
    return static_cast<int>(prefix_ids_.size() + suffix_ids_.size());
  }
  // Special ids placed before / after the content of a single sequence.
  const std::vector<int32_t>& prefix_ids() const { return prefix_ids_; }
  const std::vector<int32_t>& suffix_ids() const { return suffix_ids_; }

  // The padding id: tokenizer.json's padding.pad_id, else the id of [PAD] / <pad>, else 0.
  int32_t pad_id() const { return pad_id_; }
  // Id of a token (added tokens first, then the model vocabulary).
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // Model vocabulary size plus added tokens outside it (max id + 1).
  size_t vocab_size() const { return vocab_size_; }

  // The token string of an id as HF's id_to_token gives it (added tokens first, then the model
  // vocabulary; raw vocabulary form, e.g. "Ġworld" or "##ing"); nullopt for unknown ids.
  std::optional<std::string> id_to_token(int32_t id) const;
  // id_to_token of every id; unknown ids give "".
  std::vector<std::string> token_strings(std::span<const int32_t> ids) const;
  // True for ids of added tokens marked "special" (what skip_special_tokens drops).
  bool is_special_id(int32_t id) const;
  // The text of ids, as HF's tokenizer.decode(ids, skip_special_tokens): unknown ids are
  // skipped, then the decoder runs (no decoder: the tokens joined by spaces). Invalid UTF-8
  // left by byte-level tokens becomes U+FFFD.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

 private:
  struct AddedToken {
    std::string content;
    int32_t id = 0;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = false;
    bool special = false;
    std::string token_string;  // what id_to_token gives: content, normalized when `normalized`
  };
  struct Split {
    size_t begin, end;
    int32_t token;  // index into added_, or -1 for plain text
  };
  Tokenizer();
  void load(std::string_view json_text);
  // HF AddedVocabulary::find_matches over one string with one trie.
  void find_added(std::string_view s, const tok::ByteTrie& trie, std::vector<Split>* out) const;
  void encode_content(std::string_view text, std::vector<int32_t>* ids) const;

  std::unique_ptr<tok::Normalizer> normalizer_;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<tok::Model> model_;
  std::unique_ptr<tok::Decoder> decoder_;
  std::vector<AddedToken> added_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> added_ids_;  // content
  std::unordered_map<int32_t, size_t> added_by_id_;   // id -> index into added_ (last wins)
  std::unordered_set<std::string> special_contents_;  // contents of the special added tokens
  std::unique_ptr<tok::ByteTrie> raw_trie_;           // added tokens with normalized == false
  std::unique_ptr<tok::ByteTrie> normalized_trie_;    // added tokens with normalized == true
  std::vector<int32_t> prefix_ids_;
  std::vector<int32_t> suffix_ids_;
  int32_t pad_id_ = 0;
  size_t vocab_size_ = 0;
};

}  // namespace ej::engine
