#include "engine/tokenizer/normalizer.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/tokenizer/onig_regex.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine::tok {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "tokenizer.json: " + message);
}

bool is_ascii(std::string_view s) {
  for (char ch : s) {
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  }
  return true;
}

void lowercase_in_place(std::string* s) {
  if (is_ascii(*s)) {
    for (char& ch : *s) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    }
    return;
  }
  std::string out;
  out.reserve(s->size());
  size_t i = 0;
  while (i < s->size()) append_lowercase(&out, decode_utf8(*s, &i));
  *s = std::move(out);
}

template <typename Pred>
void remove_chars(std::string* s, Pred&& pred) {
  if (is_ascii(*s)) return;
  std::string out;
  out.reserve(s->size());
  size_t i = 0;
  while (i < s->size()) {
    size_t before = i;
    char32_t c = decode_utf8(*s, &i);
    if (!pred(c)) out.append(*s, before, i - before);
  }
  *s = std::move(out);
}

class BertNormalizer final : public Normalizer {
 public:
  explicit BertNormalizer(const nlohmann::json& j) {
    clean_text_ = j.value("clean_text", true);
    chinese_ = j.value("handle_chinese_chars", true);
    lowercase_ = j.value("lowercase", true);
    auto it = j.find("strip_accents");
    strip_accents_ = (it == j.end() || it->is_null()) ? lowercase_ : it->get<bool>();
  }
  void normalize(std::string* text) const override {
    if (clean_text_ || chinese_) {
      std::string out;
      out.reserve(text->size() + 16);
      size_t i = 0;
      const std::string& s = *text;
      while (i < s.size()) {
        auto b = static_cast<unsigned char>(s[i]);
        if (b >= 0x20 && b < 0x7F) {  // printable ASCII: unchanged by every step here
          out.push_back(static_cast<char>(b));
          ++i;
          continue;
        }
        char32_t c = decode_utf8(s, &i);
        if (clean_text_) {
          if (c == 0 || c == 0xFFFD || (is_bert_other(c) && c != '\t' && c != '\n' && c != '\r')) {
            continue;
          }
          if (is_whitespace(c)) c = ' ';
        }
        if (chinese_ && is_cjk_ideograph(c)) {
          out.push_back(' ');
          append_utf8(&out, c);
          out.push_back(' ');
        } else {
          append_utf8(&out, c);
        }
      }
      *text = std::move(out);
    }
    if (strip_accents_ && !is_ascii(*text)) {
      *text = normalize_form(*text, NormForm::kNfd);
      remove_chars(text, is_bert_nonspacing_mark);
    }
    if (lowercase_) lowercase_in_place(text);
  }

 private:
  bool clean_text_ = true;
  bool chinese_ = true;
  bool strip_accents_ = true;
  bool lowercase_ = true;
};

class PrecompiledNormalizer final : public Normalizer {
 public:
  explicit PrecompiledNormalizer(const nlohmann::json& j) {
    auto it = j.find("precompiled_charsmap");
    if (it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      map_.emplace(base64_decode(it->get_ref<const std::string&>()));
    }
  }
  void normalize(std::string* text) const override {
    if (map_) map_->normalize(text);
  }

 private:
  std::optional<PrecompiledCharsmap> map_;  // absent: identity (charsmap null or empty)
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string* text) const override {
    const std::string& s = *text;
    size_t begin = 0;
    size_t end = s.size();
    if (left_) {
      while (begin < end) {
        size_t i = begin;
        if (!is_whitespace(decode_utf8(s, &i))) break;
        begin = i;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!is_whitespace(decode_utf8(s, &i))) break;
        end = start;
      }
    }
    if (begin != 0 || end != s.size()) *text = s.substr(begin, end - begin);
  }

 private:
  bool left_;
  bool right_;
};

class StripAccentsNormalizer final : public Normalizer {
 public:
  void normalize(std::string* text) const override { remove_chars(text, is_strip_accents_mark); }
};

class FormNormalizer final : public Normalizer {
 public:
  explicit FormNormalizer(NormForm form) : form_(form) {}
  void normalize(std::string* text) const override { *text = normalize_form(*text, form_); }

 private:
  NormForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(std::string* text) const override { lowercase_in_place(text); }
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  void normalize(std::string* text) const override {
    if (!text->empty()) text->insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  explicit ReplaceNormalizer(const nlohmann::json& j) {
    content_ = j.value("content", std::string());
    const nlohmann::json& pattern = j.at("pattern");
    if (pattern.contains("String")) {
      literal_ = pattern.at("String").get<std::string>();
      if (literal_.empty()) bad("Replace with an empty pattern");
    } else if (pattern.contains("Regex")) {
      regex_.emplace(pattern.at("Regex").get<std::string>());
    } else {
      bad("Replace pattern must be String or Regex");
    }
  }
  void normalize(std::string* text) const override {
    const std::string& s = *text;
    if (regex_) {
      auto matches = regex_->find_all(s);
      if (matches.empty()) return;
      std::string out;
      out.reserve(s.size());
      size_t last = 0;
      for (auto [b, e] : matches) {
        out.append(s, last, b - last);
        out += content_;
        last = e;
      }
      out.append(s, last, std::string::npos);
      *text = std::move(out);
      return;
    }
    size_t pos = s.find(literal_);
    if (pos == std::string::npos) return;
    std::string out;
    out.reserve(s.size());
    size_t last = 0;
    while (pos != std::string::npos) {
      out.append(s, last, pos - last);
      out += content_;
      last = pos + literal_.size();
      pos = s.find(literal_, last);
    }
    out.append(s, last, std::string::npos);
    *text = std::move(out);
  }

 private:
  std::string literal_;
  std::optional<OnigRegex> regex_;
  std::string content_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void normalize(std::string* text) const override {
    for (const auto& p : parts_) p->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::string base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) {
      if (c == '\n' || c == '\r' || c == ' ') continue;
      bad("invalid base64 in precompiled_charsmap");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view blob) {
  if (blob.size() < 4) bad("precompiled_charsmap too short");
  uint32_t trie_bytes = 0;
  for (int k = 0; k < 4; ++k) {
    trie_bytes |= static_cast<uint32_t>(static_cast<unsigned char>(blob[static_cast<size_t>(k)]))
                  << (8 * k);
  }
  if (trie_bytes % 4 != 0 || 4 + static_cast<size_t>(trie_bytes) > blob.size() || trie_bytes == 0)
    bad("precompiled_charsmap: bad trie size");
  units_.resize(trie_bytes / 4);
  for (size_t u = 0; u < units_.size(); ++u) {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      v |= static_cast<uint32_t>(
               static_cast<unsigned char>(blob[4 + u * 4 + static_cast<size_t>(k)]))
           << (8 * k);
    }
    units_[u] = v;
  }
  normalized_ = std::string(blob.substr(4 + trie_bytes));
}

std::optional<std::string_view> PrecompiledCharsmap::transform(std::string_view chunk) const {
  // darts-clone unit layout: label in bits 0-7 (bit 31 set on value units), has_leaf bit 8,
  // offset in bits 10-31 (scaled by 2^8 when bit 9 is set), value in bits 0-30.
  auto offset = [](uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); };
  auto label = [](uint32_t unit) { return unit & ((1u << 31) | 0xFFu); };
  auto has_leaf = [](uint32_t unit) { return ((unit >> 8) & 1u) == 1u; };
  size_t pos = 0;
  uint32_t unit = units_[0];
  pos ^= offset(unit);
  for (char ch : chunk) {
    auto c = static_cast<unsigned char>(ch);
    if (c == 0) break;
    pos ^= c;
    if (pos >= units_.size()) return std::nullopt;
    unit = units_[pos];
    if (label(unit) != c) return std::nullopt;
    pos ^= offset(unit);
    if (pos >= units_.size()) return std::nullopt;
    if (has_leaf(unit)) {
      uint32_t index = units_[pos] & ((1u << 31) - 1);
      if (index >= normalized_.size()) return std::nullopt;
      size_t end = normalized_.find('\0', index);
      if (end == std::string::npos) end = normalized_.size();
      return std::string_view(normalized_).substr(index, end - index);
    }
  }
  return std::nullopt;
}

void PrecompiledCharsmap::normalize(std::string* text) const {
  const std::string& s = *text;
  std::string out;
  out.reserve(s.size() + 16);
  bool modified = false;
  GraphemeIterator graphemes(s);
  std::string_view g;
  while (graphemes.next(&g)) {
    if (g.size() < 6) {
      if (auto norm = transform(g)) {
        out.append(*norm);
        modified = true;
        continue;
      }
    }
    size_t i = 0;
    while (i < g.size()) {
      size_t n = utf8_len(static_cast<unsigned char>(g[i]));
      std::string_view part = g.substr(i, n);
      if (g.size() >= 6 || n != g.size()) {
        if (auto norm = transform(part)) {
          out.append(*norm);
          modified = true;
          i += n;
          continue;
        }
      }
      out.append(part);
      i += n;
    }
  }
  if (modified) *text = std::move(out);
}

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  if (!j.is_object() || !j.contains("type")) bad("normalizer without a type");
  const std::string type = j.at("type").get<std::string>();
  if (type == "BertNormalizer") return std::make_unique<BertNormalizer>(j);
  if (type == "Precompiled") return std::make_unique<PrecompiledNormalizer>(j);
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(j.value("strip_left", false),
                                             j.value("strip_right", true));
  }
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "NFC") return std::make_unique<FormNormalizer>(NormForm::kNfc);
  if (type == "NFD") return std::make_unique<FormNormalizer>(NormForm::kNfd);
  if (type == "NFKC") return std::make_unique<FormNormalizer>(NormForm::kNfkc);
  if (type == "NFKD") return std::make_unique<FormNormalizer>(NormForm::kNfkd);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(j.value("prepend", ""));
  if (type == "Replace") return std::make_unique<ReplaceNormalizer>(j);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const auto& n : j.at("normalizers")) {
      if (auto p = make_normalizer(n)) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  throw Error(ErrorCode::kNotImplemented,
              "tokenizer.json: normalizer type '" + type + "' is not supported");
}

}  // namespace ej::engine::tok
