#include "engine/tokenizer/pre_tokenizer.h"

#include <utf8proc.h>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/error.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/onig_regex.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine::tok {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "tokenizer.json: " + message);
}

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior parse_behavior(const std::string& s) {
  if (s == "Removed") return Behavior::kRemoved;
  if (s == "Isolated") return Behavior::kIsolated;
  if (s == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::kMergedWithNext;
  if (s == "Contiguous") return Behavior::kContiguous;
  bad("unknown split behavior '" + s + "'");
}

struct Span {
  size_t begin, end;
  bool is_match;
};

// HF NormalizedString::split: spans cover the text; apply the behavior, drop removed and empty
// pieces, append the rest to out.
void emit_splits(const Piece& piece, std::vector<Span> spans, Behavior behavior,
                 std::vector<Piece>* out) {
  std::vector<Span> result;
  result.reserve(spans.size());
  switch (behavior) {
    case Behavior::kRemoved:
      result = std::move(spans);
      break;
    case Behavior::kIsolated:
      for (Span s : spans) result.push_back({s.begin, s.end, false});
      break;
    case Behavior::kContiguous: {
      bool previous = false;
      for (Span s : spans) {
        if (s.is_match == previous && !result.empty()) {
          result.back().end = s.end;
        } else {
          result.push_back({s.begin, s.end, false});
        }
        previous = s.is_match;
      }
      break;
    }
    case Behavior::kMergedWithPrevious: {
      bool previous = false;
      for (Span s : spans) {
        if (s.is_match && !previous && !result.empty()) {
          result.back().end = s.end;
        } else {
          result.push_back({s.begin, s.end, false});
        }
        previous = s.is_match;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool previous = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous && !result.empty()) {
          result.back().begin = it->begin;
        } else {
          result.push_back({it->begin, it->end, false});
        }
        previous = it->is_match;
      }
      std::reverse(result.begin(), result.end());
      break;
    }
  }
  for (const Span& s : result) {
    if (s.is_match || s.end <= s.begin) continue;
    out->push_back(
        Piece{piece.text.substr(s.begin, s.end - s.begin), piece.at_start && s.begin == 0});
  }
}

// Spans where every character satisfying pred is its own match.
template <typename Pred>
std::vector<Span> char_spans(const std::string& s, Pred&& pred) {
  std::vector<Span> spans;
  size_t run = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t before = i;
    char32_t c = decode_utf8(s, &i);
    if (pred(c)) {
      if (run < before) spans.push_back({run, before, false});
      spans.push_back({before, i, true});
      run = i;
    }
  }
  if (run < s.size() || spans.empty()) spans.push_back({run, s.size(), false});
  return spans;
}

template <typename Pred>
void split_chars(std::vector<Piece>* pieces, Behavior behavior, Pred&& pred) {
  std::vector<Piece> out;
  out.reserve(pieces->size() * 2);
  for (const Piece& p : *pieces) emit_splits(p, char_spans(p.text, pred), behavior, &out);
  *pieces = std::move(out);
}

class BertPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    std::vector<Piece> out;
    out.reserve(pieces->size() * 8);
    for (const Piece& p : *pieces) {
      // One pass: whitespace removed, punctuation isolated.
      const std::string& s = p.text;
      size_t word = 0;
      size_t i = 0;
      auto flush = [&](size_t end) {
        if (end > word) out.push_back(Piece{s.substr(word, end - word), p.at_start && word == 0});
      };
      while (i < s.size()) {
        size_t before = i;
        auto b = static_cast<unsigned char>(s[i]);
        char32_t c;
        if (b < 0x80) {
          c = b;
          ++i;
          if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z')) continue;
        } else {
          c = decode_utf8(s, &i);
        }
        if (is_whitespace(c)) {
          flush(before);
          word = i;
        } else if (is_bert_punctuation(c)) {
          flush(before);
          out.push_back(Piece{s.substr(before, i - before), p.at_start && before == 0});
          word = i;
        }
      }
      flush(s.size());
    }
    *pieces = std::move(out);
  }
};

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    split_chars(pieces, Behavior::kRemoved, [](char32_t c) { return is_whitespace(c); });
  }
};

// Regex \w+|[^\w\s]+ : keeps runs of word characters and runs of other non-space characters.
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    std::vector<Piece> out;
    for (const Piece& p : *pieces) {
      const std::string& s = p.text;
      size_t i = 0;
      int run_class = 0;  // 0 none, 1 word, 2 other
      size_t run_start = 0;
      while (i <= s.size()) {
        size_t before = i;
        int cls = 0;
        if (i < s.size()) {
          char32_t c = decode_utf8(s, &i);
          cls = is_regex_word(c) ? 1 : is_whitespace(c) ? 0 : 2;
        } else {
          i = s.size() + 1;
        }
        if (cls != run_class) {
          if (run_class != 0) {
            out.push_back(
                Piece{s.substr(run_start, before - run_start), p.at_start && run_start == 0});
          }
          run_class = cls;
          run_start = before;
        }
      }
    }
    *pieces = std::move(out);
  }
};

class PunctuationPreTokenizer final : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(Behavior behavior) : behavior_(behavior) {}
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    split_chars(pieces, behavior_, [](char32_t c) { return is_bert_punctuation(c); });
  }

 private:
  Behavior behavior_;
};

class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    split_chars(pieces, individual_ ? Behavior::kIsolated : Behavior::kContiguous, [](char32_t c) {
      if (c < 0x80) return c >= '0' && c <= '9';
      auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
      return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
             cat == UTF8PROC_CATEGORY_NO;
    });
  }

 private:
  bool individual_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  explicit SplitPreTokenizer(const nlohmann::json& j) {
    const nlohmann::json& pattern = j.at("pattern");
    if (pattern.contains("String")) {
      literal_ = pattern.at("String").get<std::string>();
    } else if (pattern.contains("Regex")) {
      regex_.emplace(pattern.at("Regex").get<std::string>());
    } else {
      bad("Split pattern must be String or Regex");
    }
    behavior_ = parse_behavior(j.value("behavior", std::string("Isolated")));
    invert_ = j.value("invert", false);
  }
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    std::vector<Piece> out;
    for (const Piece& p : *pieces) {
      std::vector<std::pair<size_t, size_t>> matches;
      if (regex_) {
        matches = regex_->find_all(p.text);
      } else if (!literal_.empty()) {
        for (size_t pos = p.text.find(literal_); pos != std::string::npos;
             pos = p.text.find(literal_, pos + literal_.size())) {
          matches.emplace_back(pos, pos + literal_.size());
        }
      }
      std::vector<Span> spans;
      size_t last = 0;
      for (auto [b, e] : matches) {
        if (last < b) spans.push_back({last, b, invert_});
        spans.push_back({b, e, !invert_});
        last = e;
      }
      if (last < p.text.size() || spans.empty()) spans.push_back({last, p.text.size(), invert_});
      emit_splits(p, std::move(spans), behavior_, &out);
    }
    *pieces = std::move(out);
  }

 private:
  std::string literal_;
  std::optional<OnigRegex> regex_;
  Behavior behavior_ = Behavior::kIsolated;
  bool invert_ = false;
};

// ByteLevel: optional prefix space, optional GPT-2 regex split (Isolated), then every byte of
// every piece becomes its byte-level code point.
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  explicit ByteLevelPreTokenizer(const nlohmann::json& j) {
    add_prefix_space_ = j.value("add_prefix_space", true);
    if (j.value("use_regex", true)) regex_.emplace(kByteLevelPattern);
  }
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    std::vector<Piece> out;
    out.reserve(pieces->size() * 4);
    std::string text;
    for (const Piece& p : *pieces) {
      std::string_view view = p.text;
      if (add_prefix_space_ && !view.starts_with(' ')) {
        text = " " + p.text;
        view = text;
      }
      auto emit = [&](size_t b, size_t e) {
        if (e <= b) return;
        Piece piece;
        piece.at_start = p.at_start && b == 0;
        append_byte_level(&piece.text, view.substr(b, e - b));
        out.push_back(std::move(piece));
      };
      if (!regex_) {
        emit(0, view.size());
        continue;
      }
      size_t last = 0;
      for (auto [b, e] : regex_->find_all(view)) {
        emit(last, b);
        emit(b, e);
        last = e;
      }
      emit(last, view.size());
    }
    *pieces = std::move(out);
  }

 private:
  bool add_prefix_space_ = true;
  std::optional<OnigRegex> regex_;
};

enum class Prepend { kAlways, kFirst, kNever };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  explicit MetaspacePreTokenizer(const nlohmann::json& j) {
    replacement_ = j.value("replacement", std::string("\xE2\x96\x81"));
    if (replacement_.empty() || count_chars(replacement_) != 1)
      bad("Metaspace replacement must be one character");
    split_ = j.value("split", true);
    auto scheme = j.find("prepend_scheme");
    auto legacy = j.find("add_prefix_space");
    if (scheme != j.end() && scheme->is_string()) {
      const std::string s = scheme->get<std::string>();
      if (s == "always") {
        prepend_ = Prepend::kAlways;
      } else if (s == "first") {
        prepend_ = Prepend::kFirst;
      } else if (s == "never") {
        prepend_ = Prepend::kNever;
      } else {
        bad("unknown Metaspace prepend_scheme '" + s + "'");
      }
    } else if (legacy != j.end() && legacy->is_boolean()) {
      prepend_ = legacy->get<bool>() ? Prepend::kAlways : Prepend::kNever;
    }
  }
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    std::vector<Piece> out;
    out.reserve(pieces->size() * 4);
    for (Piece& p : *pieces) {
      std::string text;
      text.reserve(p.text.size() + 16);
      for (char ch : p.text) {
        if (ch == ' ') {
          text += replacement_;
        } else {
          text.push_back(ch);
        }
      }
      bool starts = text.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts && (prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && p.at_start)))
        text.insert(0, replacement_);
      if (!split_) {
        if (!text.empty()) out.push_back(Piece{std::move(text), p.at_start});
        continue;
      }
      // Split before every replacement character (MergedWithNext).
      size_t start = 0;
      size_t pos = text.find(replacement_, 1);
      while (pos != std::string::npos) {
        out.push_back(Piece{text.substr(start, pos - start), p.at_start && start == 0});
        start = pos;
        pos = text.find(replacement_, pos + replacement_.size());
      }
      if (start < text.size()) out.push_back(Piece{text.substr(start), p.at_start && start == 0});
    }
    *pieces = std::move(out);
  }

 private:
  std::string replacement_;
  Prepend prepend_ = Prepend::kAlways;
  bool split_ = true;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>* pieces) const override {
    for (const auto& p : parts_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  if (!j.is_object() || !j.contains("type")) bad("pre_tokenizer without a type");
  const std::string type = j.at("type").get<std::string>();
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
  if (type == "Metaspace") return std::make_unique<MetaspacePreTokenizer>(j);
  if (type == "Punctuation") {
    return std::make_unique<PunctuationPreTokenizer>(
        parse_behavior(j.value("behavior", std::string("Isolated"))));
  }
  if (type == "Digits")
    return std::make_unique<DigitsPreTokenizer>(j.value("individual_digits", false));
  if (type == "Split") return std::make_unique<SplitPreTokenizer>(j);
  if (type == "ByteLevel") return std::make_unique<ByteLevelPreTokenizer>(j);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const auto& p : j.at("pretokenizers")) {
      if (auto made = make_pre_tokenizer(p)) parts.push_back(std::move(made));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  throw Error(ErrorCode::kNotImplemented,
              "tokenizer.json: pre_tokenizer type '" + type + "' is not supported");
}

}  // namespace ej::engine::tok
