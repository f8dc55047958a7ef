// Unicode helpers for the tokenizers: UTF-8 decoding/encoding and the character predicates and
// normalization forms exactly as Hugging Face `tokenizers` (Rust) computes them. It uses
// libutf8proc (Unicode 15) plus small correction lists where the Rust crates that HF uses carry
// older Unicode tables (unicode_categories: Unicode 8.0 general categories). Owns no state beyond
// immutable tables; every function is safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ej::engine::tok {

// Decodes the code point at s[*i] and advances *i. Invalid or truncated sequences decode as
// U+FFFD and advance by one byte. Precondition: *i < s.size().
char32_t decode_utf8(std::string_view s, size_t* i);
// Byte length of the UTF-8 sequence starting with lead byte b (1 for invalid lead bytes).
inline size_t utf8_len(unsigned char b) {
  return b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
}
void append_utf8(std::string* out, char32_t c);
// Returns s when it is valid UTF-8, else a copy with each invalid byte replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);
size_t count_chars(std::string_view s);

// Rust `char::is_whitespace` (the White_Space property).
bool is_whitespace(char32_t c);
// `unicode_categories::is_other` (Cc | Cf | Co, Unicode 8.0), used by BertNormalizer clean_text.
bool is_bert_other(char32_t c);
// BertPreTokenizer punctuation: ASCII punctuation or Unicode P* (Unicode 8.0 tables).
bool is_bert_punctuation(char32_t c);
// Marks the StripAccents normalizer removes (Rust is_combining_mark: Mn | Mc | Me).
bool is_strip_accents_mark(char32_t c);
// Marks BertNormalizer strip_accents removes after NFD (Mn, Unicode 8.0 tables).
bool is_bert_nonspacing_mark(char32_t c);
// The CJK ideograph ranges of BertNormalizer handle_chinese_chars.
bool is_cjk_ideograph(char32_t c);
// Oniguruma `\w` as the Whitespace pre-tokenizer's regex sees it.
bool is_regex_word(char32_t c);
// Rust `char::to_lowercase`, appended as UTF-8.
void append_lowercase(std::string* out, char32_t c);
// Unicode general-category punctuation (current tables), for the Punctuation pre-tokenizer.
bool is_unicode_punctuation(char32_t c);

enum class NormForm { kNfc, kNfd, kNfkc, kNfkd };
// Normalizes valid UTF-8 text.
std::string normalize_form(std::string_view s, NormForm form);

// Extended grapheme clusters: calls f(std::string_view cluster) for each cluster of s.
class GraphemeIterator {
 public:
  explicit GraphemeIterator(std::string_view s) : s_(s) {}
  // Returns false at the end; otherwise sets *cluster to the next grapheme cluster.
  bool next(std::string_view* cluster);

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace ej::engine::tok
