// OnigRegex: a compiled Oniguruma regular expression (UTF-8, Oniguruma's default syntax), the
// regex engine Hugging Face `tokenizers` uses for the Split pre-tokenizer, the ByteLevel
// pre-tokenizer and Replace normalizers/decoders. find_all() reproduces the `onig` crate's
// find_iter (searches over the whole subject from the previous match end; an empty match right
// after the previous match is skipped by one character). Owns the compiled regex; immutable after
// construction and safe to search from several threads at once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ej::engine::tok {

class OnigRegex {
 public:
  // Throws ej::Error(kInvalidArgument) naming the pattern when Oniguruma rejects it.
  explicit OnigRegex(std::string_view pattern);
  ~OnigRegex();
  OnigRegex(const OnigRegex&) = delete;
  OnigRegex& operator=(const OnigRegex&) = delete;

  // All matches over valid UTF-8 text s as byte ranges [begin, end), in order.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const;

 private:
  void* regex_ = nullptr;  // regex_t*
};

}  // namespace ej::engine::tok
