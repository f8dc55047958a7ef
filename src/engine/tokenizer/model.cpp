#include "engine/tokenizer/model.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/error.h"
#include "engine/tokenizer/byte_trie.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine::tok {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "tokenizer.json: " + message);
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using VocabMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// id -> token of a token -> id map (HF vocab_r); the last token of a repeated id wins.
std::vector<std::string> reverse_vocab(const VocabMap& vocab) {
  std::vector<std::string> out;
  for (const auto& [token, id] : vocab) {
    if (id < 0) continue;
    if (static_cast<size_t>(id) >= out.size()) out.resize(static_cast<size_t>(id) + 1);
    out[static_cast<size_t>(id)] = token;
  }
  return out;
}

std::optional<std::string_view> find_id(const std::vector<std::string>& vocab_r, int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= vocab_r.size() ||
      vocab_r[static_cast<size_t>(id)].empty()) {
    return std::nullopt;
  }
  return std::string_view(vocab_r[static_cast<size_t>(id)]);
}

std::optional<int32_t> find_in(const VocabMap& vocab, std::string_view token) {
  auto it = vocab.find(token);
  if (it == vocab.end()) return std::nullopt;
  return it->second;
}

class WordPieceModel final : public Model {
 public:
  explicit WordPieceModel(const nlohmann::json& j) {
    unk_token_ = j.value("unk_token", std::string("[UNK]"));
    prefix_ = j.value("continuing_subword_prefix", std::string("##"));
    max_chars_ = j.value("max_input_chars_per_word", size_t{100});
    std::vector<std::pair<std::string, int32_t>> initial;
    std::vector<std::pair<std::string, int32_t>> continuing;
    for (const auto& [token, id] : j.at("vocab").items()) {
      auto v = id.get<int32_t>();
      vocab_[token] = v;
    }
    for (const auto& [token, id] : vocab_) {
      initial.emplace_back(token, id);
      if (!prefix_.empty() && token.size() > prefix_.size() && token.starts_with(prefix_)) {
        continuing.emplace_back(token.substr(prefix_.size()), id);
      }
    }
    vocab_r_ = reverse_vocab(vocab_);
    initial_ = ByteTrie(std::move(initial));
    continuing_ = ByteTrie(std::move(continuing));
    auto unk = find_in(vocab_, unk_token_);
    if (!unk) bad("WordPiece unk_token '" + unk_token_ + "' is not in the vocabulary");
    unk_id_ = *unk;
  }

  void tokenize(std::string_view word, std::vector<int32_t>* ids) const override {
    if (count_chars(word) > max_chars_) {
      ids->push_back(unk_id_);
      return;
    }
    size_t mark = ids->size();
    size_t start = 0;
    while (start < word.size()) {
      int32_t id = -1;
      size_t len;
      if (start == 0) {
        len = initial_.longest_prefix(word, &id);
      } else if (prefix_.empty()) {
        len = initial_.longest_prefix(word.substr(start), &id);
      } else {
        len = continuing_.longest_prefix(word.substr(start), &id);
        // The prefix itself followed by nothing is never a candidate (HF needs start < end).
      }
      if (len == 0) {
        ids->resize(mark);
        ids->push_back(unk_id_);
        return;
      }
      ids->push_back(id);
      start += len;
    }
  }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    return find_in(vocab_, token);
  }
  std::optional<std::string_view> id_to_token(int32_t id) const override {
    return find_id(vocab_r_, id);
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  VocabMap vocab_;
  std::vector<std::string> vocab_r_;
  ByteTrie initial_;
  ByteTrie continuing_;
  std::string unk_token_;
  std::string prefix_;
  size_t max_chars_ = 100;
  int32_t unk_id_ = 0;
};

class UnigramModel final : public Model {
 public:
  explicit UnigramModel(const nlohmann::json& j) {
    const auto& vocab = j.at("vocab");
    scores_.reserve(vocab.size());
    std::vector<std::pair<std::string, int32_t>> entries;
    entries.reserve(vocab.size());
    min_score_ = std::numeric_limits<double>::infinity();
    for (const auto& entry : vocab) {
      auto piece = entry.at(0).get<std::string>();
      double score = entry.at(1).get<double>();
      auto id = static_cast<int32_t>(scores_.size());
      token_to_id_[piece] = id;
      pieces_.push_back(piece);
      entries.emplace_back(piece, id);
      scores_.push_back(score);
      min_score_ = std::min(min_score_, score);
    }
    // A repeated piece maps to its last id in HF's token_to_ids; the trie does the same.
    trie_ = ByteTrie(std::move(entries));
    auto unk = j.find("unk_id");
    if (unk != j.end() && !unk->is_null()) {
      unk_id_ = unk->get<int32_t>();
      if (unk_id_ < 0 || static_cast<size_t>(unk_id_) >= scores_.size())
        bad("Unigram unk_id out of range");
    }
    byte_fallback_ = j.value("byte_fallback", false);
    if (byte_fallback_) {
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        auto id = find_in(token_to_id_, name);
        byte_ids_[b] = id ? *id : -1;
      }
    }
  }

  void tokenize(std::string_view s, std::vector<int32_t>* ids) const override {
    if (s.empty()) return;
    const size_t n = s.size();
    struct Node {
      double score = 0.0;
      int32_t id = -1;
      int32_t starts_at = -1;  // -1: not reached
    };
    thread_local std::vector<Node> best;
    best.assign(n + 1, Node{});
    const double unk_score = min_score_ - 10.0;
    size_t pos = 0;
    while (pos < n) {
      const double here = best[pos].score;
      const size_t mblen = std::min(utf8_len(static_cast<unsigned char>(s[pos])), n - pos);
      bool has_single = false;
      trie_.common_prefixes(s.substr(pos), [&](size_t len, int32_t id) {
        Node& target = best[pos + len];
        double cand = scores_[static_cast<size_t>(id)] + here;
        if (target.starts_at < 0 || cand > target.score) {
          target.score = cand;
          target.starts_at = static_cast<int32_t>(pos);
          target.id = id;
        }
        if (len == mblen) has_single = true;
      });
      if (!has_single) {
        if (unk_id_ < 0) throw Error(ErrorCode::kInvalidArgument, "Unigram model without unk_id");
        Node& target = best[pos + mblen];
        double cand = unk_score + here;
        if (target.starts_at < 0 || cand > target.score) {
          target.score = cand;
          target.starts_at = static_cast<int32_t>(pos);
          target.id = unk_id_;
        }
      }
      pos += mblen;
    }
    // Backtrack; consecutive unknown pieces are fused into one token (HF fuse_unk).
    struct Tok {
      size_t begin, end;
      int32_t id;
      bool unk;
    };
    thread_local std::vector<Tok> toks;
    toks.clear();
    size_t end = n;
    while (end > 0) {
      const Node& node = best[end];
      auto begin = static_cast<size_t>(node.starts_at);
      bool unk = node.id == unk_id_;
      if (unk && !toks.empty() && toks.back().unk) {
        toks.back().begin = begin;
      } else {
        toks.push_back({begin, end, node.id, unk});
      }
      end = begin;
    }
    for (auto it = toks.rbegin(); it != toks.rend(); ++it) {
      std::string_view piece = s.substr(it->begin, it->end - it->begin);
      if (!it->unk) {
        // HF maps the piece string back through token_to_ids; the trie already holds that id.
        ids->push_back(it->id);
        continue;
      }
      if (auto id = find_in(token_to_id_, piece)) {
        ids->push_back(*id);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (char ch : piece) all = all && byte_ids_[static_cast<unsigned char>(ch)] >= 0;
        if (all) {
          for (char ch : piece) ids->push_back(byte_ids_[static_cast<unsigned char>(ch)]);
          continue;
        }
      }
      ids->push_back(unk_id_);
    }
  }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    return find_in(token_to_id_, token);
  }
  std::optional<std::string_view> id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return std::nullopt;
    return std::string_view(pieces_[static_cast<size_t>(id)]);
  }
  size_t vocab_size() const override { return scores_.size(); }

 private:
  std::vector<double> scores_;
  std::vector<std::string> pieces_;
  VocabMap token_to_id_;
  ByteTrie trie_;
  double min_score_ = 0.0;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  int32_t byte_ids_[256] = {};
};

class WordLevelModel final : public Model {
 public:
  explicit WordLevelModel(const nlohmann::json& j) {
    for (const auto& [token, id] : j.at("vocab").items()) vocab_[token] = id.get<int32_t>();
    vocab_r_ = reverse_vocab(vocab_);
    auto unk = find_in(vocab_, j.value("unk_token", std::string("<unk>")));
    unk_id_ = unk ? *unk : -1;
  }
  void tokenize(std::string_view word, std::vector<int32_t>* ids) const override {
    if (auto id = find_in(vocab_, word)) {
      ids->push_back(*id);
    } else if (unk_id_ >= 0) {
      ids->push_back(unk_id_);
    } else {
      throw Error(ErrorCode::kInvalidArgument, "WordLevel: unknown word and no unk_token");
    }
  }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    return find_in(vocab_, token);
  }
  std::optional<std::string_view> id_to_token(int32_t id) const override {
    return find_id(vocab_r_, id);
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  VocabMap vocab_;
  std::vector<std::string> vocab_r_;
  int32_t unk_id_ = -1;
};

}  // namespace

std::unique_ptr<Model> make_model(const nlohmann::json& j) {
  if (!j.is_object()) bad("missing model");
  std::string type = j.value("type", std::string());
  if (type.empty()) {
    // Old files omit the type: infer it from the fields.
    if (j.contains("merges")) {
      type = "BPE";
    } else if (j.contains("continuing_subword_prefix") || j.contains("max_input_chars_per_word")) {
      type = "WordPiece";
    } else if (j.contains("vocab") && j.at("vocab").is_array()) {
      type = "Unigram";
    } else {
      type = "WordLevel";
    }
  }
  if (type == "WordPiece") return std::make_unique<WordPieceModel>(j);
  if (type == "Unigram") return std::make_unique<UnigramModel>(j);
  if (type == "WordLevel") return std::make_unique<WordLevelModel>(j);
  if (type == "BPE") return make_bpe_model(j);
  throw Error(ErrorCode::kNotImplemented,
              "tokenizer.json: model type '" + type + "' is not supported");
}

}  // namespace ej::engine::tok
