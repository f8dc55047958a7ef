// SimpleRegex: the small regex subset that tokenizer.json Replace / Split patterns use in
// practice: a sequence of atoms (literal character, `.`, escapes \s \S \d \D \w \W \t \n \r and
// escaped punctuation, character classes [...] with ranges and negation), each with an optional
// greedy quantifier (*, +, ?, {n}, {n,}, {n,m}). Alternation, groups and anchors are rejected at
// construction (ej::Error kNotImplemented). Matches on code points with Oniguruma's Unicode
// semantics for \s \d \w. Immutable after construction; safe to use from several threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ej::engine::tok {

class SimpleRegex {
 public:
  explicit SimpleRegex(std::string_view pattern);

  // All leftmost non-overlapping, non-empty matches as byte ranges [begin, end) of s.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const;

 private:
  enum class Kind { kChar, kAny, kSpace, kNotSpace, kDigit, kNotDigit, kWord, kNotWord, kClass };
  struct ClassItem {
    char32_t lo, hi;
    Kind kind;  // kChar for a range, else a class escape
  };
  struct Atom {
    Kind kind = Kind::kChar;
    char32_t ch = 0;
    bool negated = false;
    std::vector<ClassItem> items;
    int min = 1;
    int max = 1;  // -1 = unbounded
  };
  static bool kind_matches(Kind kind, char32_t c);
  bool atom_matches(const Atom& a, char32_t c) const;
  // Returns the end of a match of atoms[k..] starting at byte pos, or npos.
  size_t match_from(std::string_view s, size_t k, size_t pos) const;

  std::vector<Atom> atoms_;
};

}  // namespace ej::engine::tok
