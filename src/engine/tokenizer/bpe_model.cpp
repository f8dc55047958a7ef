// BPE model of tokenizer.json, reproducing Hugging Face tokenizers' models/bpe: a word is split
// into characters (continuing_subword_prefix / end_of_word_suffix added, unknown characters
// turned into <0xNN> byte tokens with byte_fallback, else into unk_token, fused with fuse_unk),
// then merged pair by pair, lowest merge rank first and leftmost first among equal ranks, with a
// binary heap over a linked list of symbols (O(n log n) in the word length). ignore_merges emits
// a word that is itself in the vocabulary as one token. Dropout must be null or 0.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "common/error.h"
#include "engine/tokenizer/model.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine::tok {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "tokenizer.json: BPE " + message);
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

class BpeModel final : public Model {
 public:
  explicit BpeModel(const nlohmann::json& j) {
    auto dropout = j.find("dropout");
    if (dropout != j.end() && !dropout->is_null() && dropout->get<double>() != 0.0) {
      throw Error(ErrorCode::kNotImplemented,
                  "tokenizer.json: BPE dropout is not supported (it makes tokenization random)");
    }
    auto opt_string = [&](const char* key) -> std::optional<std::string> {
      auto it = j.find(key);
      if (it == j.end() || it->is_null()) return std::nullopt;
      return it->get<std::string>();
    };
    prefix_ = opt_string("continuing_subword_prefix");
    suffix_ = opt_string("end_of_word_suffix");
    fuse_unk_ = j.value("fuse_unk", false);
    byte_fallback_ = j.value("byte_fallback", false);
    ignore_merges_ = j.value("ignore_merges", false);
    const auto& vocab = j.at("vocab");
    if (!vocab.is_object()) bad("vocab must be an object");
    vocab_.reserve(vocab.size());
    for (const auto& [token, id] : vocab.items()) {
      auto v = id.get<int32_t>();
      if (v < 0) bad("negative id for '" + token + "'");
      vocab_[token] = v;
      if (static_cast<size_t>(v) >= vocab_r_.size()) vocab_r_.resize(static_cast<size_t>(v) + 1);
      vocab_r_[static_cast<size_t>(v)] = token;
    }
    if (auto unk = opt_string("unk_token")) {
      auto it = vocab_.find(*unk);
      // HF fails at tokenization time when it needs an unk token that is not in the vocabulary.
      unk_id_ = it == vocab_.end() ? -2 : it->second;
      unk_token_ = *unk;
    }
    if (byte_fallback_) {
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        auto it = vocab_.find(std::string_view(name));
        byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
      }
    }
    const size_t prefix_len = prefix_ ? prefix_->size() : 0;
    const auto& merges = j.value("merges", nlohmann::json::array());
    merges_.reserve(merges.size());
    uint32_t rank = 0;
    for (const auto& m : merges) {
      std::string a;
      std::string b;
      if (m.is_string()) {
        const std::string& line = m.get_ref<const std::string&>();
        size_t space = line.find(' ');
        if (space == std::string::npos) bad("merge '" + line + "' is not two tokens");
        a = line.substr(0, space);
        b = line.substr(space + 1);
      } else if (m.is_array() && m.size() == 2) {
        a = m.at(0).get<std::string>();
        b = m.at(1).get<std::string>();
      } else {
        bad("merge entries must be \"a b\" or [a, b]");
      }
      auto ia = vocab_.find(a);
      auto ib = vocab_.find(b);
      if (ia == vocab_.end()) bad("merge token '" + a + "' is not in the vocabulary");
      if (ib == vocab_.end()) bad("merge token '" + b + "' is not in the vocabulary");
      if (b.size() < prefix_len) bad("merge token '" + b + "' is shorter than the prefix");
      std::string merged = a + b.substr(prefix_len);
      auto im = vocab_.find(merged);
      if (im == vocab_.end()) bad("merged token '" + merged + "' is not in the vocabulary");
      // A repeated pair keeps its last rank (HF collects the merges into a map).
      merges_[pair_key(ia->second, ib->second)] = Merge{rank, im->second};
      ++rank;
    }
  }

  void tokenize(std::string_view word, std::vector<int32_t>* ids) const override {
    if (word.empty()) return;
    if (ignore_merges_) {
      auto it = vocab_.find(word);
      if (it != vocab_.end()) {
        ids->push_back(it->second);
        return;
      }
    }
    thread_local std::vector<Symbol> symbols;
    symbols.clear();
    split_word(word, &symbols);
    merge_all(&symbols);
    for (const Symbol& s : symbols) {
      if (s.len != 0) ids->push_back(s.id);
    }
  }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string_view> id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= vocab_r_.size()) return std::nullopt;
    const auto& t = vocab_r_[static_cast<size_t>(id)];
    if (!t) return std::nullopt;
    return std::string_view(*t);
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  struct Merge {
    uint32_t rank;
    int32_t new_id;
  };
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    uint32_t len;  // bytes of the word it covers; 0 once merged into its left neighbour
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Merge* find_merge(int32_t a, int32_t b) const {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }
  static void add(std::vector<Symbol>* symbols, int32_t id, size_t len) {
    auto n = static_cast<int32_t>(symbols->size());
    if (n > 0) symbols->back().next = n;
    symbols->push_back(Symbol{id, n - 1, -1, static_cast<uint32_t>(len)});
  }

  // HF BPE::merge_word before merge_all.
  void split_word(std::string_view w, std::vector<Symbol>* symbols) const {
    bool have_unk = false;
    int32_t unk_id = 0;
    size_t unk_len = 0;
    std::string s;
    size_t i = 0;
    while (i < w.size()) {
      const size_t start = i;
      decode_utf8(w, &i);
      const size_t byte_len = i - start;
      const bool is_first = start == 0;
      const bool is_last = i >= w.size();
      std::string_view piece = w.substr(start, byte_len);
      std::string_view key = piece;
      if ((!is_first && prefix_ && !prefix_->empty()) ||
          (is_last && suffix_ && !suffix_->empty())) {
        s.clear();
        if (!is_first && prefix_) s += *prefix_;
        s += piece;
        if (is_last && suffix_) s += *suffix_;
        key = s;
      }
      auto it = vocab_.find(key);
      if (it != vocab_.end()) {
        if (have_unk) {
          add(symbols, unk_id, unk_len);
          have_unk = false;
        }
        add(symbols, it->second, byte_len);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (char ch : key) all = all && byte_ids_[static_cast<unsigned char>(ch)] >= 0;
        if (all) {
          // HF adds the bytes without first flushing a pending unk token.
          for (char ch : key) add(symbols, byte_ids_[static_cast<unsigned char>(ch)], 1);
          continue;
        }
      }
      if (unk_token_) {
        if (unk_id_ < 0) {
          throw Error(ErrorCode::kInvalidArgument, "tokenizer.json: BPE unk_token '" + *unk_token_ +
                                                       "' is not in the vocabulary");
        }
        if (have_unk && fuse_unk_) {
          unk_len += byte_len;
        } else {
          if (have_unk) add(symbols, unk_id, unk_len);
          have_unk = true;
          unk_id = unk_id_;
          unk_len = byte_len;
        }
      }
      // Without unk_token an unknown character is dropped, as HF does.
    }
    if (have_unk) add(symbols, unk_id, unk_len);
  }

  // HF Word::merge_all without dropout.
  void merge_all(std::vector<Symbol>* symbols_ptr) const {
    std::vector<Symbol>& sym = *symbols_ptr;
    struct Item {
      uint32_t rank;
      int32_t pos;
      int32_t new_id;
      bool operator<(const Item& o) const {  // std::priority_queue pops the largest
        if (rank != o.rank) return rank > o.rank;
        return pos > o.pos;
      }
    };
    std::vector<Item> storage;
    for (size_t k = 0; k + 1 < sym.size(); ++k) {
      if (const Merge* m = find_merge(sym[k].id, sym[k + 1].id)) {
        storage.push_back(Item{m->rank, static_cast<int32_t>(k), m->new_id});
      }
    }
    std::priority_queue<Item, std::vector<Item>> queue(std::less<Item>(), std::move(storage));
    while (!queue.empty()) {
      Item top = queue.top();
      queue.pop();
      Symbol& cur = sym[static_cast<size_t>(top.pos)];
      if (cur.len == 0 || cur.next == -1) continue;
      const auto next_pos = static_cast<size_t>(cur.next);
      const Symbol right = sym[next_pos];
      const Merge* m = find_merge(cur.id, right.id);
      if (!m || m->new_id != top.new_id) continue;  // stale entry
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      sym[next_pos].len = 0;
      if (right.next > -1 && static_cast<size_t>(right.next) < sym.size()) {
        sym[static_cast<size_t>(right.next)].prev = top.pos;
      }
      if (cur.prev >= 0) {
        if (const Merge* pm = find_merge(sym[static_cast<size_t>(cur.prev)].id, cur.id)) {
          queue.push(Item{pm->rank, cur.prev, pm->new_id});
        }
      }
      if (cur.next >= 0 && static_cast<size_t>(cur.next) < sym.size()) {
        if (const Merge* nm = find_merge(cur.id, sym[static_cast<size_t>(cur.next)].id)) {
          queue.push(Item{nm->rank, top.pos, nm->new_id});
        }
      }
    }
  }

  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::optional<std::string>> vocab_r_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::optional<std::string> prefix_;
  std::optional<std::string> suffix_;
  std::optional<std::string> unk_token_;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  int32_t byte_ids_[256] = {};
};

}  // namespace

std::unique_ptr<Model> make_bpe_model(const nlohmann::json& j) {
  return std::make_unique<BpeModel>(j);
}

}  // namespace ej::engine::tok
