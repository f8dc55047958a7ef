#include "engine/tokenizer/byte_level.h"

#include <array>

#include "engine/tokenizer/unicode_util.h"

namespace ej::engine::tok {

namespace {

struct Tables {
  std::array<char32_t, 256> byte_to_char{};
  std::array<std::string, 256> byte_to_utf8{};
  Tables() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      byte_to_char[static_cast<size_t>(b)] =
          keep ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      append_utf8(&byte_to_utf8[static_cast<size_t>(b)], byte_to_char[static_cast<size_t>(b)]);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

void append_byte_level(std::string* out, std::string_view s) {
  const Tables& t = tables();
  for (char ch : s) out->append(t.byte_to_utf8[static_cast<unsigned char>(ch)]);
}

int byte_level_byte(char32_t c) {
  if (c < 0x100) {
    bool keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE);
    return keep ? static_cast<int>(c) : -1;
  }
  if (c >= 0x100 + 68) return -1;  // 68 bytes are remapped
  const Tables& t = tables();
  for (int b = 0; b < 256; ++b) {
    if (t.byte_to_char[static_cast<size_t>(b)] == c) return b;
  }
  return -1;
}

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  const size_t n = s.size();
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < n) {
    unsigned char b = at(i);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    size_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    }
    if (need == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    size_t k = 1;
    bool ok = true;
    for (; k <= need; ++k) {
      if (i + k >= n) {
        ok = false;
        break;
      }
      unsigned char c = at(i + k);
      unsigned char l = k == 1 ? lo : 0x80;
      unsigned char h = k == 1 ? hi : 0xBF;
      if (c < l || c > h) {
        ok = false;
        break;
      }
    }
    if (ok) {
      out.append(s.substr(i, need + 1));
      i += need + 1;
    } else {
      out.append("\xEF\xBF\xBD");
      i += k;  // the valid prefix is one maximal subpart; the failing byte starts over
    }
  }
  return out;
}

}  // namespace ej::engine::tok
