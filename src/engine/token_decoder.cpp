#include "engine/token_decoder.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"

namespace ej::engine {

namespace {

void replace_all(std::string* s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s->find(from, pos)) != std::string::npos) {
    s->replace(pos, from.size(), to);
    pos += to.size();
  }
}

// tokenizers' decoders::wordpiece::cleanup.
void cleanup(std::string* s) {
  static const std::pair<const char*, const char*> kPairs[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kPairs) replace_all(s, from, to);
}

void set_token(std::vector<std::string>* tokens, std::vector<bool>* special, int64_t id,
               const std::string& text, bool is_special) {
  if (id < 0 || id > (1 << 24)) throw_invalid("tokenizer.json: token id out of range");
  const size_t i = static_cast<size_t>(id);
  if (tokens->size() <= i) {
    tokens->resize(i + 1);
    special->resize(i + 1, false);
  }
  (*tokens)[i] = text;
  (*special)[i] = is_special;
}

}  // namespace

std::unique_ptr<TokenDecoder> TokenDecoder::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_not_found("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return from_json(buffer.str());
}

std::unique_ptr<TokenDecoder> TokenDecoder::from_json(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw_invalid("tokenizer.json is not a JSON object");
  auto d = std::unique_ptr<TokenDecoder>(new TokenDecoder());
  const nlohmann::json& model = j.value("model", nlohmann::json::object());
  const nlohmann::json& vocab = model.value("vocab", nlohmann::json());
  if (vocab.is_object()) {  // WordPiece, WordLevel, BPE: {"token": id}
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      set_token(&d->tokens_, &d->special_, it.value().get<int64_t>(), it.key(), false);
    }
  } else if (vocab.is_array()) {  // Unigram: [[piece, score], ...], id = position
    for (size_t i = 0; i < vocab.size(); ++i) {
      set_token(&d->tokens_, &d->special_, static_cast<int64_t>(i), vocab[i].at(0), false);
    }
  }
  for (const auto& t : j.value("added_tokens", nlohmann::json::array())) {
    set_token(&d->tokens_, &d->special_, t.at("id").get<int64_t>(), t.at("content"),
              t.value("special", false));
  }
  const nlohmann::json& dec = j.value("decoder", nlohmann::json());
  const std::string type = dec.is_object() ? dec.value("type", "") : "";
  if (type == "WordPiece") {
    d->kind_ = Kind::kWordPiece;
    d->prefix_ = dec.value("prefix", "##");
    d->cleanup_ = dec.value("cleanup", true);
  } else if (type == "Metaspace") {
    d->kind_ = Kind::kMetaspace;
    d->replacement_ = dec.value("replacement", "\xe2\x96\x81");
    if (dec.contains("prepend_scheme")) {
      d->strip_first_space_ = dec.value("prepend_scheme", "always") != "never";
    } else {
      d->strip_first_space_ = dec.value("add_prefix_space", true);
    }
  }
  return d;
}

const std::string& TokenDecoder::token(int32_t id, size_t index) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() ||
      (tokens_[static_cast<size_t>(id)].empty() && !special_[static_cast<size_t>(id)])) {
    throw_invalid("invalid request: tokens[" + std::to_string(index) + "] = " + std::to_string(id) +
                  " is not in the model's vocabulary (0.." + std::to_string(tokens_.size() - 1) +
                  ")");
  }
  return tokens_[static_cast<size_t>(id)];
}

std::string TokenDecoder::decode(std::span<const int32_t> ids) const {
  std::string out;
  size_t n = 0;  // tokens emitted so far
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& t = token(ids[i], i);
    if (special_[static_cast<size_t>(ids[i])]) continue;
    std::string piece = t;
    if (kind_ == Kind::kWordPiece) {
      if (n != 0) {
        if (piece.compare(0, prefix_.size(), prefix_) == 0) {
          piece.erase(0, prefix_.size());
        } else {
          piece.insert(0, " ");
        }
      }
      if (cleanup_) cleanup(&piece);
    } else if (kind_ == Kind::kMetaspace) {
      replace_all(&piece, replacement_, " ");
      if (n == 0 && strip_first_space_ && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    }
    out += piece;
    ++n;
  }
  return out;
}

}  // namespace ej::engine
