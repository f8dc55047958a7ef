// TokenDecoder: ids -> text for /v1/detokenize and ids -> vocabulary strings for /v1/tokenize,
// read from the same tokenizer.json as Tokenizer (which only encodes). Reproduces Hugging Face
// tokenizers' decode(ids, skip_special_tokens=True) for the decoders of the models we load:
// WordPiece (prefix + cleanup) and Metaspace; any other decoder (ByteLevel comes with the BPE
// work) joins the tokens as they are. Immutable after load; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ej::engine {

class TokenDecoder {
 public:
  // Throws ej::Error(kInvalidArgument) for a malformed file.
  static std::unique_ptr<TokenDecoder> from_file(const std::string& path);
  static std::unique_ptr<TokenDecoder> from_json(std::string_view json_text);

  // The vocabulary entry of an id; throws ej::Error(kInvalidArgument) naming `index` when the
  // id is outside the vocabulary.
  const std::string& token(int32_t id, size_t index) const;
  // Decoded text; special (added, special: true) tokens are skipped.
  std::string decode(std::span<const int32_t> ids) const;
  size_t vocab_size() const { return tokens_.size(); }

 private:
  enum class Kind { kJoin, kWordPiece, kMetaspace };
  std::vector<std::string> tokens_;  // by id ("" where no token has that id)
  std::vector<bool> special_;        // by id
  Kind kind_ = Kind::kJoin;
  std::string prefix_ = "##";                 // WordPiece continuing-subword prefix
  bool cleanup_ = true;                       // WordPiece: " ." -> "." and the like
  std::string replacement_ = "\xe2\x96\x81";  // Metaspace: U+2581
  bool strip_first_space_ = true;             // Metaspace: prepend_scheme != never
};

}  // namespace ej::engine
