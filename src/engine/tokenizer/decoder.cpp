#include "engine/tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine::tok {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "tokenizer.json: decoder " + message);
}

void replace_all(std::string* s, std::string_view from, std::string_view to) {
  size_t pos = s->find(from);
  if (pos == std::string::npos) return;
  std::string out;
  size_t last = 0;
  while (pos != std::string::npos) {
    out.append(*s, last, pos - last);
    out.append(to);
    last = pos + from.size();
    pos = s->find(from, last);
  }
  out.append(*s, last, std::string::npos);
  *s = std::move(out);
}

std::vector<char32_t> to_chars(std::string_view s) {
  std::vector<char32_t> out;
  size_t i = 0;
  while (i < s.size()) out.push_back(decode_utf8(s, &i));
  return out;
}

// One character of a JSON string field (Metaspace replacement, Strip content).
char32_t single_char(const nlohmann::json& j, const char* key, const char* fallback) {
  std::string s = j.value(key, std::string(fallback));
  auto chars = to_chars(s);
  if (chars.size() != 1) bad(std::string("'") + key + "' must be one character");
  return chars[0];
}

class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& t : *tokens) {
      const size_t mark = bytes.size();
      size_t i = 0;
      bool all = true;
      while (i < t.size()) {
        int b = byte_level_byte(decode_utf8(t, &i));
        if (b < 0) {
          all = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!all) {  // a token outside the alphabet (an added token, say) stays as it is
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens->assign(1, utf8_lossy(bytes));
  }
};

class WordPieceDecoder final : public Decoder {
 public:
  explicit WordPieceDecoder(const nlohmann::json& j)
      : prefix_(j.value("prefix", std::string("##"))), cleanup_(j.value("cleanup", true)) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      std::string& t = (*tokens)[i];
      if (i != 0) {
        if (t.starts_with(prefix_)) {
          t.erase(0, prefix_.size());
        } else {
          std::string spaced(1, ' ');
          spaced += t;
          t = std::move(spaced);
        }
      }
      if (cleanup_) t = wordpiece_cleanup(std::move(t));
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class MetaspaceDecoder final : public Decoder {
 public:
  explicit MetaspaceDecoder(const nlohmann::json& j) {
    replacement_ = single_char(j, "replacement", "\xE2\x96\x81");
    auto scheme = j.find("prepend_scheme");
    auto legacy = j.find("add_prefix_space");
    if (scheme != j.end() && scheme->is_string()) {
      prepend_ = scheme->get<std::string>() != "never";
    } else if (legacy != j.end() && legacy->is_boolean()) {
      prepend_ = legacy->get<bool>();
    }
  }
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      std::string& t = (*tokens)[i];
      std::string out;
      out.reserve(t.size());
      size_t k = 0;
      while (k < t.size()) {
        size_t before = k;
        char32_t c = decode_utf8(t, &k);
        if (c == replacement_) {
          if (i == 0 && prepend_) continue;
          out.push_back(' ');
        } else {
          out.append(t, before, k - before);
        }
      }
      t = std::move(out);
    }
  }

 private:
  char32_t replacement_ = 0x2581;
  bool prepend_ = true;
};

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens->size());
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (utf8_lossy(pending) == pending) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& t : *tokens) {
      int byte = parse_byte(t);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    *tokens = std::move(out);
  }

 private:
  // "<0xNN>" -> NN (Rust u8::from_str_radix on the two characters, so "+F" reads as 15).
  static int parse_byte(std::string_view t) {
    if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return -1;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(t[3]);
    int lo = hex(t[4]);
    if (t[3] == '+' && lo >= 0) return lo;
    if (hi < 0 || lo < 0) return -1;
    return hi * 16 + lo;
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>* tokens) const override {
    std::string all;
    for (const std::string& t : *tokens) all += t;
    tokens->assign(1, std::move(all));
  }
};

class StripDecoder final : public Decoder {
 public:
  explicit StripDecoder(const nlohmann::json& j)
      : content_(single_char(j, "content", " ")),
        start_(j.value("start", size_t{0})),
        stop_(j.value("stop", size_t{0})) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) {
      auto chars = to_chars(t);
      size_t begin = 0;
      while (begin < start_ && begin < chars.size() && chars[begin] == content_) ++begin;
      size_t end = chars.size();
      for (size_t k = 0; k < stop_ && end > begin && chars[end - 1] == content_; ++k) --end;
      std::string out;
      for (size_t k = begin; k < end; ++k) append_utf8(&out, chars[k]);
      t = std::move(out);
    }
  }

 private:
  char32_t content_;
  size_t start_;
  size_t stop_;
};

// Replace applies the Replace normalizer's pattern to every token.
class ReplaceDecoder final : public Decoder {
 public:
  explicit ReplaceDecoder(const nlohmann::json& j) : replace_(make_normalizer(j)) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) replace_->normalize(&t);
  }

 private:
  std::unique_ptr<Normalizer> replace_;
};

class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(const nlohmann::json& j) : suffix_(j.value("suffix", std::string("</w>"))) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      replace_all(&(*tokens)[i], suffix_, i + 1 == tokens->size() ? "" : " ");
    }
  }

 private:
  std::string suffix_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
      : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>* tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

}  // namespace

std::string wordpiece_cleanup(std::string s) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) replace_all(&s, from, to);
  return s;
}

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  if (!j.is_object() || !j.contains("type")) bad("without a type");
  const std::string type = j.at("type").get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "WordPiece") return std::make_unique<WordPieceDecoder>(j);
  if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(j);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(j);
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(j);
  if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(j);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const auto& d : j.at("decoders")) {
      if (auto p = make_decoder(d)) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  throw Error(ErrorCode::kNotImplemented,
              "tokenizer.json: decoder type '" + type + "' is not supported");
}

}  // namespace ej::engine::tok
