// Normalizers of tokenizer.json ("normalizer" block), reproducing Hugging Face tokenizers:
// BertNormalizer, Precompiled (SentencePiece charsmap), Strip, StripAccents, Replace (string
// or Oniguruma regex), Prepend, NFC/NFD/NFKC/NFKD, Lowercase, Sequence. Each object owns its
// configuration (and, for Precompiled, the decoded charsmap) and is immutable after construction:
// normalize() is const and safe to call from several threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ej::engine::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Normalizes valid UTF-8 text in place.
  virtual void normalize(std::string* text) const = 0;
};

// Builds the normalizer of a tokenizer.json "normalizer" value; nullptr for JSON null.
// Throws ej::Error for unknown or malformed normalizers.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j);

// The SentencePiece precompiled charsmap: a darts-clone double-array trie over UTF-8 keys whose
// values index NUL-terminated replacement strings.
class PrecompiledCharsmap {
 public:
  // blob: the decoded bytes (u32 trie size in bytes, the trie units, the replacement strings).
  explicit PrecompiledCharsmap(std::string_view blob);
  // The replacement of the shortest key that is a prefix of chunk (what HF's Precompiled uses).
  std::optional<std::string_view> transform(std::string_view chunk) const;
  // HF's Precompiled::normalize: per grapheme cluster; a cluster under 6 bytes is replaced as a
  // whole when a prefix of it is a key, otherwise each character is mapped on its own.
  void normalize(std::string* text) const;

 private:
  std::vector<uint32_t> units_;
  std::string normalized_;
};

std::string base64_decode(std::string_view in);

}  // namespace ej::engine::tok
