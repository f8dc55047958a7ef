#include "engine/tokenizer/unicode_util.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace ej::engine::tok {

namespace {

struct Range {
  char32_t lo;
  char32_t hi;  // inclusive
};

template <size_t N>
bool in_ranges(const Range (&ranges)[N], char32_t c) {
  const Range* it = std::upper_bound(std::begin(ranges), std::end(ranges), c,
                                     [](char32_t v, const Range& r) { return v < r.lo; });
  if (it == std::begin(ranges)) return false;
  --it;
  return c >= it->lo && c <= it->hi;
}

utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

// The Rust crate `unicode_categories` (used by BertNormalizer and BertPreTokenizer) carries
// Unicode 8.0 tables; utf8proc carries Unicode 15.0. These lists are the code points whose
// membership differs, found by probing HF tokenizers over every code point (the cross-check
// test tests/tokenizer re-checks them all).

// Cc|Cf|Co now, but not in the Unicode 8.0 tables (assigned later).
constexpr Range kOtherNotIn8[] = {
    {0x0890, 0x0891},
    {0x08E2, 0x08E2},
    {0x110CD, 0x110CD},
    {0x13430, 0x1343F},
};
// P* now, not P* in Unicode 8.0.
constexpr Range kPunctNotIn8[] = {
    {0x061D, 0x061D},   {0x09FD, 0x09FD},   {0x0A76, 0x0A76},   {0x0C77, 0x0C77},
    {0x0C84, 0x0C84},   {0x1B7D, 0x1B7E},   {0x2E43, 0x2E5D},   {0x10EAD, 0x10EAD},
    {0x10F55, 0x10F59}, {0x10F86, 0x10F89}, {0x1144B, 0x1144F}, {0x1145A, 0x1145B},
    {0x1145D, 0x1145D}, {0x11660, 0x1166C}, {0x116B9, 0x116B9}, {0x1183B, 0x1183B},
    {0x11944, 0x11946}, {0x119E2, 0x119E2}, {0x11A3F, 0x11A46}, {0x11A9A, 0x11A9C},
    {0x11A9E, 0x11AA2}, {0x11B00, 0x11B09}, {0x11C41, 0x11C45}, {0x11C70, 0x11C71},
    {0x11EF7, 0x11EF8}, {0x11F43, 0x11F4F}, {0x11FFF, 0x11FFF}, {0x12FF1, 0x12FF2},
    {0x16E97, 0x16E9A}, {0x16FE2, 0x16FE2}, {0x1E95E, 0x1E95F},
};
// P* in Unicode 8.0 but not any more.
constexpr Range kPunctOnlyIn8[] = {
    {0x166D, 0x166D},
    {0x111C9, 0x111C9},
};
// Mn now, not Mn in Unicode 8.0 (BertNormalizer strip_accents removes Mn only).
constexpr Range kNonspacingNotIn8[] = {
    {0x07FD, 0x07FD},   {0x0898, 0x089F},   {0x08CA, 0x08E1},   {0x09FE, 0x09FE},
    {0x0AFA, 0x0AFF},   {0x0B55, 0x0B55},   {0x0C04, 0x0C04},   {0x0C3C, 0x0C3C},
    {0x0D00, 0x0D00},   {0x0D3B, 0x0D3C},   {0x0D81, 0x0D81},   {0x0EBA, 0x0EBA},
    {0x0ECE, 0x0ECE},   {0x180F, 0x180F},   {0x1885, 0x1886},   {0x1ABF, 0x1ACE},
    {0x1DF6, 0x1DFB},   {0xA82C, 0xA82C},   {0xA8C5, 0xA8C5},   {0xA8FF, 0xA8FF},
    {0xA9BD, 0xA9BD},   {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF},
    {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x11073, 0x11074},
    {0x110C2, 0x110C2}, {0x111C9, 0x111C9}, {0x111CF, 0x111CF}, {0x1123E, 0x1123E},
    {0x11241, 0x11241}, {0x1133B, 0x1133B}, {0x11438, 0x1143F}, {0x11442, 0x11444},
    {0x11446, 0x11446}, {0x1145E, 0x1145E}, {0x1182F, 0x11837}, {0x11839, 0x1183A},
    {0x1193B, 0x1193C}, {0x1193E, 0x1193E}, {0x11943, 0x11943}, {0x119D4, 0x119D7},
    {0x119DA, 0x119DB}, {0x119E0, 0x119E0}, {0x11A01, 0x11A0A}, {0x11A33, 0x11A38},
    {0x11A3B, 0x11A3E}, {0x11A47, 0x11A47}, {0x11A51, 0x11A56}, {0x11A59, 0x11A5B},
    {0x11A8A, 0x11A96}, {0x11A98, 0x11A99}, {0x11C30, 0x11C36}, {0x11C38, 0x11C3D},
    {0x11C3F, 0x11C3F}, {0x11C92, 0x11CA7}, {0x11CAA, 0x11CB0}, {0x11CB2, 0x11CB3},
    {0x11CB5, 0x11CB6}, {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D},
    {0x11D3F, 0x11D45}, {0x11D47, 0x11D47}, {0x11D90, 0x11D91}, {0x11D95, 0x11D95},
    {0x11D97, 0x11D97}, {0x11EF3, 0x11EF4}, {0x11F00, 0x11F01}, {0x11F36, 0x11F3A},
    {0x11F40, 0x11F40}, {0x11F42, 0x11F42}, {0x13440, 0x13440}, {0x13447, 0x13455},
    {0x16F4F, 0x16F4F}, {0x16FE4, 0x16FE4}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46},
    {0x1E000, 0x1E006}, {0x1E008, 0x1E018}, {0x1E01B, 0x1E021}, {0x1E023, 0x1E024},
    {0x1E026, 0x1E02A}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE},
    {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF}, {0x1E944, 0x1E94A},
};
// M* now, but not a combining mark for the StripAccents normalizer's (older) tables.
constexpr Range kMarkNotIn8[] = {
    {0x07FD, 0x07FD},   {0x0898, 0x089F},   {0x08CA, 0x08D3},   {0x09FE, 0x09FE},
    {0x0AFA, 0x0AFF},   {0x0B55, 0x0B55},   {0x0C04, 0x0C04},   {0x0C3C, 0x0C3C},
    {0x0CF3, 0x0CF3},   {0x0D00, 0x0D00},   {0x0D3B, 0x0D3C},   {0x0D81, 0x0D81},
    {0x0EBA, 0x0EBA},   {0x0ECE, 0x0ECE},   {0x1715, 0x1715},   {0x180F, 0x180F},
    {0x1ABF, 0x1ACE},   {0x1CF7, 0x1CF7},   {0x1DF6, 0x1DFA},   {0xA82C, 0xA82C},
    {0xA8FF, 0xA8FF},   {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF},
    {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x11073, 0x11074},
    {0x110C2, 0x110C2}, {0x11145, 0x11146}, {0x111C9, 0x111C9}, {0x111CE, 0x111CF},
    {0x11241, 0x11241}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x1182C, 0x1183A},
    {0x11930, 0x11935}, {0x11937, 0x11938}, {0x1193B, 0x1193E}, {0x11940, 0x11940},
    {0x11942, 0x11943}, {0x119D1, 0x119D7}, {0x119DA, 0x119E0}, {0x119E4, 0x119E4},
    {0x11A01, 0x11A0A}, {0x11A33, 0x11A39}, {0x11A3B, 0x11A3E}, {0x11A47, 0x11A47},
    {0x11A51, 0x11A5B}, {0x11A8A, 0x11A99}, {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A},
    {0x11D3C, 0x11D3D}, {0x11D3F, 0x11D45}, {0x11D47, 0x11D47}, {0x11D8A, 0x11D8E},
    {0x11D90, 0x11D91}, {0x11D93, 0x11D97}, {0x11EF3, 0x11EF6}, {0x11F00, 0x11F01},
    {0x11F03, 0x11F03}, {0x11F34, 0x11F3A}, {0x11F3E, 0x11F42}, {0x13440, 0x13440},
    {0x13447, 0x13455}, {0x16F4F, 0x16F4F}, {0x16F7F, 0x16F87}, {0x16FE4, 0x16FE4},
    {0x16FF0, 0x16FF1}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46}, {0x1E08F, 0x1E08F},
    {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
};
// Combining marks for the StripAccents normalizer that are not M* any more.
constexpr Range kMarkOnlyIn8[] = {
    {0x1CF2, 0x1CF3},
};

// Lowercase mappings added in Unicode 16 (Rust's std has them, utf8proc 2.8 does not).
char32_t extra_lowercase(char32_t c) {
  switch (c) {
    case 0x1C89:
      return 0x1C8A;
    case 0xA7CB:
      return 0x0264;
    case 0xA7CC:
      return 0xA7CD;
    case 0xA7CE:
      return 0xA7CF;
    case 0xA7D2:
      return 0xA7D3;
    case 0xA7D4:
      return 0xA7D5;
    case 0xA7DA:
      return 0xA7DB;
    case 0xA7DC:
      return 0x019B;
    default:
      break;
  }
  if (c >= 0x10D50 && c <= 0x10D65) return c + 0x20;
  if (c >= 0x16EA0 && c <= 0x16EB8) return c + 0x1B;
  return 0;
}

// Characters whose decomposition is newer than the tables of HF's normalization crate
// (unicode-normalization-alignments); HF leaves them unchanged under every form.
constexpr Range kNoDecomposition[] = {
    {0x32FF, 0x32FF},   {0xA7F2, 0xA7F4},   {0xAB69, 0xAB69},   {0x10781, 0x10785},
    {0x10787, 0x107B0}, {0x107B2, 0x107BA}, {0x11938, 0x11938}, {0x1E030, 0x1E06D},
    {0x1F16C, 0x1F16C}, {0x1FBF0, 0x1FBF9},
};

// Word characters of Oniguruma's \\w (Alphabetic | M | Nd | Pc | Join_Control, Unicode 16) that the
// general categories of utf8proc 2.8 miss: alphabetic symbols and Unicode 16 letters.
constexpr Range kWordExtra[] = {
    {0x0897, 0x0897},   {0x1C89, 0x1C8A},   {0x24B6, 0x24E9},   {0xA7CB, 0xA7CD},
    {0xA7DA, 0xA7DC},   {0x105C0, 0x105F3}, {0x10D40, 0x10D65}, {0x10D69, 0x10D6D},
    {0x10D6F, 0x10D85}, {0x10EC2, 0x10EC4}, {0x10EFC, 0x10EFC}, {0x11380, 0x11389},
    {0x1138B, 0x1138B}, {0x1138E, 0x1138E}, {0x11390, 0x113B5}, {0x113B7, 0x113C0},
    {0x113C2, 0x113C2}, {0x113C5, 0x113C5}, {0x113C7, 0x113CA}, {0x113CC, 0x113D3},
    {0x113E1, 0x113E2}, {0x116D0, 0x116E3}, {0x11BC0, 0x11BE0}, {0x11BF0, 0x11BF9},
    {0x11F5A, 0x11F5A}, {0x13460, 0x143FA}, {0x16100, 0x16139}, {0x16D40, 0x16D6C},
    {0x16D70, 0x16D79}, {0x18CFF, 0x18CFF}, {0x1CCF0, 0x1CCF9}, {0x1E5D0, 0x1E5FA},
    {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189}, {0x2EBF0, 0x2EE5D},
};

std::string utf8proc_normalize(std::string_view s, int options) {
  utf8proc_uint8_t* dst = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &dst,
                                    static_cast<utf8proc_option_t>(options));
  if (n < 0) {
    std::free(dst);
    return std::string(s);  // invalid input: leave unchanged (inputs are sanitized earlier)
  }
  std::string out(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
  std::free(dst);
  return out;
}

}  // namespace

char32_t decode_utf8(std::string_view s, size_t* i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t k = *i;
  unsigned char b0 = p[k];
  if (b0 < 0x80) {
    *i = k + 1;
    return b0;
  }
  size_t len = utf8_len(b0);
  if (len == 1 || k + len > n) {
    *i = k + 1;
    return 0xFFFD;
  }
  char32_t c = len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t j = 1; j < len; ++j) {
    unsigned char b = p[k + j];
    if ((b & 0xC0) != 0x80) {
      *i = k + 1;
      return 0xFFFD;
    }
    c = (c << 6) | (b & 0x3F);
  }
  // Reject overlong forms, surrogates and values above U+10FFFF.
  if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
      (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) {
    *i = k + 1;
    return 0xFFFD;
  }
  *i = k + len;
  return c;
}

void append_utf8(std::string* out, char32_t c) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string sanitize_utf8(std::string_view s) {
  size_t i = 0;
  bool valid = true;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t before = i;
    char32_t c = decode_utf8(s, &i);
    if (c == 0xFFFD && i == before + 1) {
      valid = false;
      break;
    }
  }
  if (valid) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  i = 0;
  while (i < s.size()) {
    size_t before = i;
    char32_t c = decode_utf8(s, &i);
    if (c == 0xFFFD && i == before + 1) {
      append_utf8(&out, 0xFFFD);
    } else {
      out.append(s.substr(before, i - before));
    }
  }
  return out;
}

size_t count_chars(std::string_view s) {
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_bert_other(char32_t c) {
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  utf8proc_category_t cat = category(c);
  if (cat != UTF8PROC_CATEGORY_CC && cat != UTF8PROC_CATEGORY_CF && cat != UTF8PROC_CATEGORY_CO)
    return false;
  return !in_ranges(kOtherNotIn8, c);
}

bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
  }
  utf8proc_category_t cat = category(c);
  bool punct = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
  if (punct) return !in_ranges(kPunctNotIn8, c);
  return in_ranges(kPunctOnlyIn8, c);
}

bool is_strip_accents_mark(char32_t c) {
  if (c < 0x300) return false;
  utf8proc_category_t cat = category(c);
  bool mark = cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME;
  if (mark) return !in_ranges(kMarkNotIn8, c);
  return in_ranges(kMarkOnlyIn8, c);
}

bool is_bert_nonspacing_mark(char32_t c) {
  if (c < 0x300) return false;
  if (category(c) == UTF8PROC_CATEGORY_MN) return !in_ranges(kNonspacingNotIn8, c);
  return c == 0x1734;  // Mn in Unicode 8.0, Mc now
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_regex_word(char32_t c) {
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  switch (category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return c == 0x200C || c == 0x200D || in_ranges(kWordExtra, c);
  }
}

bool is_unicode_punctuation(char32_t c) {
  utf8proc_category_t cat = category(c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

void append_lowercase(std::string* out, char32_t c) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    return;
  }
  if (c == 0x130) {  // the one unconditional multi-char lowercase mapping
    out->push_back('i');
    append_utf8(out, 0x307);
    return;
  }
  if (char32_t extra = extra_lowercase(c)) {
    append_utf8(out, extra);
    return;
  }
  append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

namespace {

// One segment through utf8proc, keeping the characters HF does not decompose out of its hands:
// the runs between them are normalized separately (they are starters, so nothing composes or
// reorders across them).
std::string normalize_segment(std::string_view s, int options) {
  std::string out;
  size_t seg = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t before = i;
    char32_t c = decode_utf8(s, &i);
    if (c >= 0x32FF && in_ranges(kNoDecomposition, c)) {
      out += utf8proc_normalize(s.substr(seg, before - seg), options);
      out.append(s.substr(before, i - before));
      seg = i;
    }
  }
  if (seg == 0) return utf8proc_normalize(s, options);
  out += utf8proc_normalize(s.substr(seg), options);
  return out;
}

}  // namespace

std::string normalize_form(std::string_view s, NormForm form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormForm::kNfc:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormForm::kNfd:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormForm::kNfkc:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormForm::kNfkd:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
  }
  // ASCII characters are starters without decompositions, and no composition pairs an ASCII
  // character with a following one: only the non-ASCII runs (each with the ASCII character
  // before it, which may compose with a following mark) go through utf8proc.
  std::string out;
  out.reserve(s.size() + 16);
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    if (j == s.size()) {
      out.append(s.substr(i));
      break;
    }
    size_t seg_start = j > i ? j - 1 : j;
    out.append(s.substr(i, seg_start - i));
    size_t k = j;
    while (k < s.size() && static_cast<unsigned char>(s[k]) >= 0x80) ++k;
    out += normalize_segment(s.substr(seg_start, k - seg_start), options);
    i = k;
  }
  return out;
}

bool GraphemeIterator::next(std::string_view* cluster) {
  if (pos_ >= s_.size()) return false;
  size_t start = pos_;
  size_t i = pos_;
  char32_t prev = decode_utf8(s_, &i);
  utf8proc_int32_t state = 0;
  while (i < s_.size()) {
    // Fast path: two ASCII characters other than CR LF always break.
    auto b = static_cast<unsigned char>(s_[i]);
    if (prev < 0x80 && b < 0x80 && !(prev == '\r' && b == '\n')) break;
    size_t j = i;
    char32_t c = decode_utf8(s_, &j);
    if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                         static_cast<utf8proc_int32_t>(c), &state))
      break;
    prev = c;
    i = j;
  }
  pos_ = i;
  *cluster = s_.substr(start, i - start);
  return true;
}

}  // namespace ej::engine::tok
