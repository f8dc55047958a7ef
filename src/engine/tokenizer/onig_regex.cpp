#include "engine/tokenizer/onig_regex.h"

#include <oniguruma.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/error.h"

namespace ej::engine::tok {

namespace {

void init_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    static OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

std::string onig_message(int code, OnigErrorInfo* info) {
  OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
  int n = info ? onig_error_code_to_str(buf, code, info) : onig_error_code_to_str(buf, code);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n > 0 ? n : 0));
}

struct RegionDeleter {
  void operator()(OnigRegion* r) const { onig_region_free(r, 1); }
};

}  // namespace

OnigRegex::OnigRegex(std::string_view pattern) {
  init_oniguruma();
  regex_t* reg = nullptr;
  OnigErrorInfo info;
  const auto* begin = reinterpret_cast<const OnigUChar*>(pattern.data());
  int r = onig_new(&reg, begin, begin + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                   ONIG_SYNTAX_DEFAULT, &info);
  if (r != ONIG_NORMAL) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "tokenizer.json: invalid regex '" + std::string(pattern) + "': " + onig_message(r, &info));
  }
  regex_ = reg;
}

OnigRegex::~OnigRegex() {
  if (regex_) onig_free(static_cast<regex_t*>(regex_));
}

std::vector<std::pair<size_t, size_t>> OnigRegex::find_all(std::string_view s) const {
  std::vector<std::pair<size_t, size_t>> out;
  auto* reg = static_cast<regex_t*>(regex_);
  std::unique_ptr<OnigRegion, RegionDeleter> region(onig_region_new());
  const auto* str = reinterpret_cast<const OnigUChar*>(s.data());
  const OnigUChar* end = str + s.size();
  size_t last_end = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (last_end <= s.size()) {
    onig_region_clear(region.get());
    int r = onig_search(reg, str, end, str + last_end, end, region.get(), ONIG_OPTION_NONE);
    if (r == ONIG_MISMATCH) break;
    if (r < 0) {
      throw Error(ErrorCode::kInvalidArgument, "regex search failed: " + onig_message(r, nullptr));
    }
    auto b = static_cast<size_t>(region->beg[0]);
    auto e = static_cast<size_t>(region->end[0]);
    if (e == b && have_last && last_match_end == e) {
      // Skip one character so an empty match cannot repeat forever.
      if (last_end < s.size()) {
        auto lead = static_cast<unsigned char>(s[last_end]);
        size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : 4;
        last_end += n;
      } else {
        last_end += 1;
      }
      continue;
    }
    last_end = e;
    have_last = true;
    last_match_end = e;
    out.emplace_back(b, e);
  }
  return out;
}

}  // namespace ej::engine::tok
