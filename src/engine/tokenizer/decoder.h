// Decoders of tokenizer.json ("decoder" block), reproducing Hugging Face tokenizers'
// decode_chain: ByteLevel, WordPiece (prefix, cleanup), Metaspace, ByteFallback, Fuse, Strip,
// Replace, BPEDecoder (suffix) and Sequence. Each object owns its configuration and is immutable
// after construction: decode_chain() is const and safe to call from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ej::engine::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the token strings in place; the decoded text is their concatenation.
  virtual void decode_chain(std::vector<std::string>* tokens) const = 0;
};

// nullptr for JSON null. Throws ej::Error for unknown or malformed decoders.
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j);

// HF WordPiece decoder cleanup (" ." -> "." and the like).
std::string wordpiece_cleanup(std::string s);

}  // namespace ej::engine::tok
