#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "engine/tokenizer/byte_trie.h"
#include "engine/tokenizer/decoder.h"
#include "engine/tokenizer/model.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/unicode_util.h"

namespace ej::engine {

namespace {

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument, "tokenizer.json: " + message);
}

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  return tok::is_regex_word(tok::decode_utf8(s, &i));
}

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return tok::is_regex_word(tok::decode_utf8(s, &start));
}

// Special ids of a post-processor, before and after the single sequence.
void parse_post_processor(const nlohmann::json& j, std::vector<int32_t>* prefix,
                          std::vector<int32_t>* suffix) {
  if (j.is_null()) return;
  const std::string type = j.value("type", std::string());
  if (type == "TemplateProcessing") {
    const auto& specials = j.value("special_tokens", nlohmann::json::object());
    bool seen_sequence = false;
    for (const auto& piece : j.at("single")) {
      if (piece.contains("Sequence")) {
        if (seen_sequence) bad("TemplateProcessing with more than one sequence in 'single'");
        seen_sequence = true;
        continue;
      }
      if (!piece.contains("SpecialToken")) bad("TemplateProcessing: unknown template piece");
      const std::string id = piece.at("SpecialToken").at("id").get<std::string>();
      if (!specials.contains(id)) bad("TemplateProcessing: special token '" + id + "' not defined");
      for (const auto& v : specials.at(id).at("ids")) {
        (seen_sequence ? suffix : prefix)->push_back(v.get<int32_t>());
      }
    }
    if (!seen_sequence) bad("TemplateProcessing without $A in 'single'");
    return;
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    prefix->push_back(j.at("cls").at(1).get<int32_t>());
    suffix->push_back(j.at("sep").at(1).get<int32_t>());
    return;
  }
  if (type == "ByteLevel") return;  // only adjusts offsets
  if (type == "Sequence") {
    for (const auto& p : j.at("processors")) parse_post_processor(p, prefix, suffix);
    return;
  }
  throw Error(ErrorCode::kNotImplemented,
              "tokenizer.json: post_processor type '" + type + "' is not supported");
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_not_found("tokenizer file not found: " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  try {
    return from_json(buffer.str());
  } catch (const Error& e) {
    throw Error(e.code(), std::string(e.what()) + " (" + path + ")");
  }
}

std::unique_ptr<Tokenizer> Tokenizer::from_json(std::string_view json_text) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->load(json_text);
  return t;
}

void Tokenizer::load(std::string_view json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
    normalizer_ = tok::make_normalizer(j.value("normalizer", nlohmann::json()));
    pre_tokenizer_ = tok::make_pre_tokenizer(j.value("pre_tokenizer", nlohmann::json()));
    model_ = tok::make_model(j.at("model"));
    decoder_ = tok::make_decoder(j.value("decoder", nlohmann::json()));
    parse_post_processor(j.value("post_processor", nlohmann::json()), &prefix_ids_, &suffix_ids_);
    for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
      AddedToken t;
      t.content = a.at("content").get<std::string>();
      t.id = a.at("id").get<int32_t>();
      t.single_word = a.value("single_word", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      t.special = a.value("special", false);
      t.normalized = a.value("normalized", !t.special);
      added_by_id_[t.id] = added_.size();
      added_ids_[t.content] = t.id;  // a repeated content maps to its last id, as in HF
      if (t.special) special_contents_.insert(t.content);
      added_.push_back(std::move(t));
    }
    const auto& padding = j.value("padding", nlohmann::json());
    if (padding.is_object() && padding.contains("pad_id")) {
      pad_id_ = padding.at("pad_id").get<int32_t>();
    } else if (auto id = token_to_id("[PAD]")) {
      pad_id_ = *id;
    } else if (auto id2 = token_to_id("<pad>")) {
      pad_id_ = *id2;
    }
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("malformed: ") + e.what());
  }
  std::vector<std::pair<std::string, int32_t>> raw;
  std::vector<std::pair<std::string, int32_t>> normalized;
  vocab_size_ = model_->vocab_size();
  for (size_t k = 0; k < added_.size(); ++k) {
    AddedToken& t = added_[k];
    vocab_size_ = std::max(vocab_size_, static_cast<size_t>(t.id) + 1);
    t.token_string = t.content;
    if (t.content.empty()) continue;
    if (t.normalized) {
      std::string content = t.content;
      if (normalizer_) normalizer_->normalize(&content);
      t.token_string = content;  // HF's id_to_token gives the normalized content
      normalized.emplace_back(std::move(content), static_cast<int32_t>(k));
    } else {
      raw.emplace_back(t.content, static_cast<int32_t>(k));
    }
  }
  // HF keeps the first of several tokens with the same content (pattern order, AhoCorasick).
  auto dedupe = [](std::vector<std::pair<std::string, int32_t>>* v) {
    std::reverse(v->begin(), v->end());
  };
  dedupe(&raw);
  dedupe(&normalized);
  raw_trie_ = std::make_unique<tok::ByteTrie>(std::move(raw));
  normalized_trie_ = std::make_unique<tok::ByteTrie>(std::move(normalized));
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = added_ids_.find(token);
  if (it != added_ids_.end()) return it->second;
  return model_ ? model_->token_to_id(token) : std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  auto it = added_by_id_.find(id);
  if (it != added_by_id_.end()) return added_[it->second].token_string;
  if (auto t = model_->id_to_token(id)) return std::string(*t);
  return std::nullopt;
}

std::vector<std::string> Tokenizer::token_strings(std::span<const int32_t> ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int32_t id : ids) out.push_back(id_to_token(id).value_or(std::string()));
  return out;
}

bool Tokenizer::is_special_id(int32_t id) const {
  auto t = id_to_token(id);
  return t && special_contents_.contains(*t);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    auto t = id_to_token(id);
    if (!t) continue;
    if (skip_special_tokens && special_contents_.contains(*t)) continue;
    tokens.push_back(std::move(*t));
  }
  std::string out;
  if (!decoder_) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out.push_back(' ');
      out += tokens[i];
    }
    return out;
  }
  decoder_->decode_chain(&tokens);
  for (const std::string& t : tokens) out += t;
  return out;
}

void Tokenizer::find_added(std::string_view s, const tok::ByteTrie& trie,
                           std::vector<Split>* out) const {
  size_t start_offset = 0;
  size_t pos = 0;
  if (!trie.empty()) {
    while (pos < s.size()) {
      int32_t k = -1;
      size_t len = trie.longest_prefix(s.substr(pos), &k);
      if (len == 0) {
        ++pos;
        continue;
      }
      size_t start = pos;
      size_t stop = pos + len;
      pos = stop;  // the matcher resumes after this match even when it is skipped below
      const AddedToken& t = added_[static_cast<size_t>(k)];
      if (t.single_word) {
        bool start_space = start == 0 || !ends_with_word(s.substr(0, start));
        bool stop_space = stop == s.size() || !starts_with_word(s.substr(stop));
        if (!start_space || !stop_space) continue;
      }
      if (t.lstrip) {
        size_t new_start = start;
        while (new_start > 0) {
          size_t b = new_start - 1;
          while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
          size_t i = b;
          if (!tok::is_whitespace(tok::decode_utf8(s, &i))) break;
          new_start = b;
        }
        start = std::max(new_start, start_offset);
      }
      if (t.rstrip) {
        while (stop < s.size()) {
          size_t i = stop;
          if (!tok::is_whitespace(tok::decode_utf8(s, &i))) break;
          stop = i;
        }
      }
      if (start_offset < start) out->push_back({start_offset, start, -1});
      out->push_back({start, stop, k});
      start_offset = stop;
    }
  }
  if (start_offset < s.size()) out->push_back({start_offset, s.size(), -1});
}

void Tokenizer::encode_content(std::string_view raw_text, std::vector<int32_t>* ids) const {
  const std::string text = tok::sanitize_utf8(raw_text);
  std::vector<Split> raw_splits;
  find_added(text, *raw_trie_, &raw_splits);
  std::vector<tok::Piece> pieces;
  auto flush = [&]() {
    if (pieces.empty()) return;
    if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(&pieces);
    for (const tok::Piece& p : pieces) model_->tokenize(p.text, ids);
    pieces.clear();
  };
  std::vector<Split> splits;
  for (const Split& rs : raw_splits) {
    if (rs.token >= 0) {
      flush();
      ids->push_back(added_[static_cast<size_t>(rs.token)].id);
      continue;
    }
    std::string normalized = text.substr(rs.begin, rs.end - rs.begin);
    if (normalizer_) normalizer_->normalize(&normalized);
    splits.clear();
    find_added(normalized, *normalized_trie_, &splits);
    for (const Split& ns : splits) {
      if (ns.token >= 0) {
        flush();
        ids->push_back(added_[static_cast<size_t>(ns.token)].id);
        continue;
      }
      if (ns.end <= ns.begin) continue;
      pieces.push_back(tok::Piece{normalized.substr(ns.begin, ns.end - ns.begin),
                                  rs.begin == 0 && ns.begin == 0});
      // Pre-tokenize piece by piece so ids stay in order around added tokens.
      flush();
    }
  }
  flush();
}

std::vector<int32_t> Tokenizer::encode_ids_no_specials(std::string_view text) const {
  std::vector<int32_t> ids;
  encode_content(text, &ids);
  return ids;
}

Encoding Tokenizer::encode(std::string_view text, int max_length, Truncate direction) const {
  std::vector<int32_t> content;
  encode_content(text, &content);
  const int specials = num_special_tokens();
  Encoding e;
  e.num_tokens_untruncated = static_cast<int>(content.size()) + specials;
  size_t keep = content.size();
  if (direction != Truncate::kNone && max_length > 0) {
    keep = std::min(keep, static_cast<size_t>(std::max(0, max_length - specials)));
  }
  e.ids.reserve(keep + static_cast<size_t>(specials));
  e.ids.insert(e.ids.end(), prefix_ids_.begin(), prefix_ids_.end());
  if (direction == Truncate::kStart) {
    e.ids.insert(e.ids.end(), content.end() - static_cast<std::ptrdiff_t>(keep), content.end());
  } else {
    e.ids.insert(e.ids.end(), content.begin(), content.begin() + static_cast<std::ptrdiff_t>(keep));
  }
  e.ids.insert(e.ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return e;
}

}  // namespace ej::engine
