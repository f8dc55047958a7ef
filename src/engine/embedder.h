// Embedder: the one interface between the serving code (jobs, sync embed) and a model.
// Implementations: LexicalEmbedder (built-in, offline, deterministic) and the neural encoder
// engine (Hugging Face BERT / XLM-RoBERTa folders). Implementations are thread-safe: embed()
// may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ej::engine {

enum class InputType { kSearchDocument, kSearchQuery, kClassification, kClustering, kImage };
// How to cut an input longer than the model's context: drop its start, its end, or refuse.
enum class Truncate { kNone, kStart, kEnd };

struct ModelInfo {
  std::string kind;    // "lexical", or the model_type ("bert", "xlm-roberta", "qwen3", ...)
  std::string source;  // what --model pointed at
  int dims = 0;        // embedding dimensions
  int max_tokens = 0;  // context length, special tokens included
  // Matryoshka sizes the model declares (ascending; empty = none): a vector's first d
  // components, re-normalized, are a valid d-dimensional embedding (for output_dimension).
  std::vector<int> matryoshka_dims;
  // int8/uint8 calibration: x in [calib_lo, calib_hi] maps linearly onto 0..255 (see quantize.h).
  float calib_lo = -1.0f;
  float calib_hi = 1.0f;
};

struct EmbedOutput {
  std::vector<float> vectors;   // texts.size() * dims, row-major, in input order
  std::vector<int> num_tokens;  // tokens embedded per text (after truncation, specials included)
};

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual const ModelInfo& info() const = 0;
  // Embeds every text. Throws ej::Error(kInvalidArgument) naming the input index when
  // truncate == kNone and an input is longer than max_tokens.
  virtual void embed(std::span<const std::string_view> texts, InputType input_type,
                     Truncate truncate, EmbedOutput* out) = 0;
};

struct EngineOptions {
  int threads = 0;  // 0 = all cores
};

// "lexical" (or "builtin:lexical") -> the built-in lexical model; anything else is a model
// folder / Hugging Face repo id for the neural engine. Throws ej::Error with a clear message.
std::shared_ptr<Embedder> open_embedder(const std::string& source, const EngineOptions& options);

}  // namespace ej::engine
