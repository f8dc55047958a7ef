#include "engine/tokenizer/simple_regex.h"

#include <string>

#include <utf8proc.h>
#include "common/error.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine::tok {

namespace {

[[noreturn]] void unsupported(std::string_view pattern, std::string_view why) {
  throw Error(ErrorCode::kNotImplemented, "tokenizer.json: regex pattern '" + std::string(pattern) +
                                              "' is not supported (" + std::string(why) + ")");
}

}  // namespace

SimpleRegex::SimpleRegex(std::string_view pattern) {
  size_t i = 0;
  auto escape_kind = [&](char32_t e, Kind* kind, char32_t* ch) {
    switch (e) {
      case 's':
        *kind = Kind::kSpace;
        return;
      case 'S':
        *kind = Kind::kNotSpace;
        return;
      case 'd':
        *kind = Kind::kDigit;
        return;
      case 'D':
        *kind = Kind::kNotDigit;
        return;
      case 'w':
        *kind = Kind::kWord;
        return;
      case 'W':
        *kind = Kind::kNotWord;
        return;
      case 't':
        *kind = Kind::kChar;
        *ch = '\t';
        return;
      case 'n':
        *kind = Kind::kChar;
        *ch = '\n';
        return;
      case 'r':
        *kind = Kind::kChar;
        *ch = '\r';
        return;
      case 'f':
        *kind = Kind::kChar;
        *ch = '\f';
        return;
      case 'v':
        *kind = Kind::kChar;
        *ch = '\v';
        return;
      default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
          unsupported(pattern, "escape");
        }
        *kind = Kind::kChar;
        *ch = e;
    }
  };
  while (i < pattern.size()) {
    char32_t c = decode_utf8(pattern, &i);
    Atom atom;
    switch (c) {
      case '(':
      case ')':
      case '|':
      case '^':
      case '$':
        unsupported(pattern, "groups, alternation and anchors");
      case '*':
      case '+':
      case '?':
      case '{':
        unsupported(pattern, "quantifier without an atom");
      case '.':
        atom.kind = Kind::kAny;
        break;
      case '\\': {
        if (i >= pattern.size()) unsupported(pattern, "trailing backslash");
        char32_t e = decode_utf8(pattern, &i);
        escape_kind(e, &atom.kind, &atom.ch);
        break;
      }
      case '[': {
        atom.kind = Kind::kClass;
        if (i < pattern.size() && pattern[i] == '^') {
          atom.negated = true;
          ++i;
        }
        bool first = true;
        while (true) {
          if (i >= pattern.size()) unsupported(pattern, "unterminated class");
          char32_t x = decode_utf8(pattern, &i);
          if (x == ']' && !first) break;
          first = false;
          ClassItem item{x, x, Kind::kChar};
          if (x == '\\') {
            if (i >= pattern.size()) unsupported(pattern, "trailing backslash");
            char32_t e = decode_utf8(pattern, &i);
            char32_t ch = 0;
            escape_kind(e, &item.kind, &ch);
            item.lo = item.hi = ch;
          } else if (x == '[') {
            unsupported(pattern, "nested classes");
          }
          if (item.kind == Kind::kChar && i + 1 < pattern.size() && pattern[i] == '-' &&
              pattern[i + 1] != ']') {
            ++i;
            char32_t y = decode_utf8(pattern, &i);
            if (y == '\\') {
              if (i >= pattern.size()) unsupported(pattern, "trailing backslash");
              char32_t e = decode_utf8(pattern, &i);
              Kind k = Kind::kChar;
              escape_kind(e, &k, &y);
              if (k != Kind::kChar) unsupported(pattern, "class range");
            }
            item.hi = y;
          }
          atom.items.push_back(item);
        }
        break;
      }
      default:
        atom.kind = Kind::kChar;
        atom.ch = c;
    }
    // Quantifier.
    if (i < pattern.size()) {
      char q = pattern[i];
      if (q == '*' || q == '+' || q == '?') {
        ++i;
        atom.min = q == '+' ? 1 : 0;
        atom.max = q == '?' ? 1 : -1;
      } else if (q == '{') {
        size_t close = pattern.find('}', i);
        if (close == std::string_view::npos) unsupported(pattern, "unterminated {");
        std::string body(pattern.substr(i + 1, close - i - 1));
        size_t comma = body.find(',');
        try {
          if (comma == std::string::npos) {
            atom.min = atom.max = std::stoi(body);
          } else {
            atom.min = std::stoi(body.substr(0, comma));
            std::string hi = body.substr(comma + 1);
            atom.max = hi.empty() ? -1 : std::stoi(hi);
          }
        } catch (const std::exception&) {
          unsupported(pattern, "bad {n,m}");
        }
        i = close + 1;
      }
      if (i < pattern.size() && (pattern[i] == '?' || pattern[i] == '+')) {
        unsupported(pattern, "lazy or possessive quantifier");
      }
    }
    atoms_.push_back(std::move(atom));
  }
}

bool SimpleRegex::kind_matches(Kind kind, char32_t c) {
  switch (kind) {
    case Kind::kAny:
      return c != '\n';
    case Kind::kSpace:
      return is_whitespace(c);
    case Kind::kNotSpace:
      return !is_whitespace(c);
    case Kind::kDigit:
      return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
    case Kind::kNotDigit:
      return utf8proc_category(static_cast<utf8proc_int32_t>(c)) != UTF8PROC_CATEGORY_ND;
    case Kind::kWord:
      return is_regex_word(c);
    case Kind::kNotWord:
      return !is_regex_word(c);
    default:
      return false;
  }
}

bool SimpleRegex::atom_matches(const Atom& a, char32_t c) const {
  if (a.kind == Kind::kChar) return c == a.ch;
  if (a.kind != Kind::kClass) return kind_matches(a.kind, c);
  bool in = false;
  for (const ClassItem& item : a.items) {
    if (item.kind == Kind::kChar ? (c >= item.lo && c <= item.hi) : kind_matches(item.kind, c)) {
      in = true;
      break;
    }
  }
  return in != a.negated;
}

size_t SimpleRegex::match_from(std::string_view s, size_t k, size_t pos) const {
  if (k == atoms_.size()) return pos;
  const Atom& a = atoms_[k];
  // Greedy: collect the end positions of up to max repetitions, then back off.
  std::vector<size_t> ends{pos};
  size_t p = pos;
  while ((a.max < 0 || static_cast<int>(ends.size()) - 1 < a.max) && p < s.size()) {
    size_t q = p;
    char32_t c = decode_utf8(s, &q);
    if (!atom_matches(a, c)) break;
    p = q;
    ends.push_back(p);
  }
  for (int n = static_cast<int>(ends.size()) - 1; n >= a.min; --n) {
    size_t end = match_from(s, k + 1, ends[static_cast<size_t>(n)]);
    if (end != std::string_view::npos) return end;
  }
  return std::string_view::npos;
}

std::vector<std::pair<size_t, size_t>> SimpleRegex::find_all(std::string_view s) const {
  std::vector<std::pair<size_t, size_t>> out;
  size_t pos = 0;
  // Prefilter: a pattern that must start with a given ASCII character skips other positions.
  int lead = -1;
  if (!atoms_.empty() && atoms_[0].kind == Kind::kChar && atoms_[0].min >= 1 && atoms_[0].ch < 0x80)
    lead = static_cast<int>(atoms_[0].ch);
  while (pos < s.size()) {
    if (lead >= 0) {
      size_t next = s.find(static_cast<char>(lead), pos);
      if (next == std::string_view::npos) break;
      pos = next;
    }
    size_t end = match_from(s, 0, pos);
    if (end != std::string_view::npos && end > pos) {
      out.emplace_back(pos, end);
      pos = end;
    } else {
      pos += utf8_len(static_cast<unsigned char>(s[pos]));
    }
  }
  return out;
}

}  // namespace ej::engine::tok
