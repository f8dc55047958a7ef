// Pre-tokenizers of tokenizer.json ("pre_tokenizer" block), reproducing Hugging Face tokenizers:
// BertPreTokenizer, Metaspace (prepend_scheme always/first/never, split, legacy
// add_prefix_space), WhitespaceSplit, Whitespace, Punctuation, Digits, Split (string or
// Oniguruma regex pattern, every behavior, invert), ByteLevel (add_prefix_space, use_regex) and
// Sequence. Each object owns its configuration and is immutable after
// construction: pre_tokenize() is const and safe to call from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ej::engine::tok {

// A piece of normalized text on its way to the model.
struct Piece {
  std::string text;
  // True when the piece begins at offset 0 of the original input (Metaspace prepend "first").
  bool at_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces *pieces by their splits, in order; empty splits are dropped.
  virtual void pre_tokenize(std::vector<Piece>* pieces) const = 0;
};

// nullptr for JSON null. Throws ej::Error for unknown or malformed pre-tokenizers.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j);

}  // namespace ej::engine::tok
