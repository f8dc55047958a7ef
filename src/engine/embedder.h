// Embedder: the one interface between the serving code (jobs, sync embed) and a model.
// Implementations: LexicalEmbedder (built-in, offline, deterministic) and the neural encoder
// engine (Hugging Face BERT / XLM-RoBERTa folders). Implementations are thread-safe: embed(),
// tokenize_for(), tokenize_text() and detokenize() may be called from several threads at once;
// embed_tokens() is called by one thread at a time per model (the service's scheduler).
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
// The engine's compute mode for a model's GEMMs (--model NAME=SOURCE,dtype=...): fp32; bf16
// weights and GEMM inputs with f32 accumulation; int8 weights (per-output-channel symmetric
// scales) and int8 GEMM inputs (dynamic per-row scales) with s32 accumulation. Embeddings,
// norms, softmax, attention and pooling stay f32 in every mode.
enum class ComputeDType { kF32, kBF16, kInt8 };
// "fp32" / "bf16" / "int8" (what --model takes and /v1/models reports).
const char* compute_dtype_name(ComputeDType dtype);
// Accepts "fp32" (or "f32", "float32"), "bf16" (or "bfloat16"), "int8"; false otherwise.
bool parse_compute_dtype(std::string_view name, ComputeDType* dtype);

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
  // The model's tokenizer.json ("" when it has none, as the lexical model): /v1/models
  // offers it for download so that clients can tokenize offline.
  std::string tokenizer_file;
  // The compute mode the model runs in: "fp32", "bf16" or "int8" (compute_dtype_name); part of
  // what identifies its output (the embedding cache keys on it; /v1/models reports it).
  std::string dtype = "fp32";
};

// One input as the model will embed it: what tokenize_for() made of a text.
struct TokenizedInput {
  // Neural models: token ids, special tokens included, truncated. Lexical model: the indices of
  // the words kept (in words(text)).
  std::vector<int32_t> ids;
  int32_t prompt_tokens = 0;  // leading special + prompt tokens (pooling may skip them)
};

// A sequence handed to embed_tokens(); the views stay valid for the call.
struct TokenSeq {
  std::span<const int32_t> ids;  // TokenizedInput::ids
  int32_t prompt_tokens = 0;
  std::string_view text;  // the input's text (the lexical model reads its words from it)
};

// A text's tokens as /v1/tokenize shows them: content only (no special tokens, no truncation).
struct TextTokens {
  std::vector<int32_t> ids;
  std::vector<std::string> strings;  // the vocabulary entry of each id ("##ing", "\u2581the")
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

  // ---- The scheduler's path: tokenize on any thread, embed packed batches on one thread ----
  // Text -> what embed_tokens() takes: the prompt for input_type prepended, cut to
  // min(max_tokens, info().max_tokens) tokens (max_tokens 0 = the model's context) per
  // `truncate`; kNone with a longer text throws ej::Error(kInvalidArgument) naming `index`.
  // embed_tokens() of the result equals embed() of the text, bit for bit.
  virtual TokenizedInput tokenize_for(std::string_view text, InputType input_type,
                                      Truncate truncate, int max_tokens, size_t index) const = 0;
  // Embeds the sequences as ONE batch (the caller packs it under max_batch_tokens()) with the
  // engine's fixed thread count; *vectors gets seqs.size() * dims floats in input order. A
  // sequence's vector does not depend on the other sequences of the batch.
  virtual void embed_tokens(std::span<const TokenSeq> seqs, std::vector<float>* vectors) = 0;
  // Token budget of one engine batch (sum of sequence lengths).
  virtual int max_batch_tokens() const = 0;

  // ---- /v1/tokenize and /v1/detokenize ----
  virtual TextTokens tokenize_text(std::string_view text) const = 0;
  // Throws ej::Error(kInvalidArgument) naming the first id outside the vocabulary, or when the
  // model has no vocabulary (lexical).
  virtual std::string detokenize(std::span<const int32_t> ids) const = 0;
};

struct EngineOptions {
  int threads = 0;                          // 0 = all cores
  ComputeDType dtype = ComputeDType::kF32;  // neural models only; the lexical model is exact
};

// "lexical" (or "builtin:lexical") -> the built-in lexical model; anything else is a local model
// folder for the neural engine (a Hub repo id is resolved to a folder by src/hub first). Throws
// ej::Error with a clear message.
// True for the names of built-in models ("lexical", "builtin:lexical"), which need no folder.
bool is_builtin_model(const std::string& source);

std::shared_ptr<Embedder> open_embedder(const std::string& source, const EngineOptions& options);

}  // namespace ej::engine
