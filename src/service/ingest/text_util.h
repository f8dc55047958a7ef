// Text helpers of dataset ingest: quoting names in messages, ASCII whitespace trimming, the UTF-8
// byte-order mark, UTF-8 validity, Avro names, and locating the top-level key of a JSON object
// text at a byte offset (to name the field that holds bad UTF-8). Owns no state.
//
// Thread-safety: pure functions, callable from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ej::service::ingest {

inline constexpr std::string_view kBom = "\xEF\xBB\xBF";

// `s` in double quotes, for messages: field "text".
std::string quote(std::string_view s);

// ' ', \t, \n, \r, \f, \v.
bool is_space(char c);
std::string_view trim(std::string_view s);
// `s` without a leading UTF-8 byte-order mark.
std::string_view strip_bom(std::string_view s);
// ASCII lowercase.
std::string lower(std::string_view s);

// [A-Za-z_][A-Za-z0-9_]*
bool is_avro_name(std::string_view s);

// Offset of the first byte that is not valid UTF-8 (overlong forms, surrogates and code points
// above U+10FFFF count as invalid), or npos.
size_t first_invalid_utf8(std::string_view s);

// In a JSON object text, the top-level key whose key or value holds byte offset `pos`.
// *in_key is set when pos lies inside the key itself.
std::string top_level_key_at(std::string_view line, size_t pos, bool* in_key);

}  // namespace ej::service::ingest
