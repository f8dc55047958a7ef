// The GPT-2 byte-level alphabet of Hugging Face's ByteLevel pre-tokenizer and decoder: every byte
// maps to one printable code point (printable Latin-1 bytes to themselves, the others to U+0100
// and up, in byte order), plus the GPT-2 split regex. Immutable tables; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ej::engine::tok {

// The regex of ByteLevel(use_regex = true).
inline constexpr std::string_view kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Appends the byte-level form of every byte of s (each byte becomes one code point, UTF-8).
void append_byte_level(std::string* out, std::string_view s);
// The byte a byte-level code point stands for, or -1 when c is not in the alphabet.
int byte_level_byte(char32_t c);

// Rust String::from_utf8_lossy: each maximal invalid subsequence becomes one U+FFFD.
std::string utf8_lossy(std::string_view bytes);

}  // namespace ej::engine::tok
