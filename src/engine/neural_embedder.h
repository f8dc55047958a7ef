// NeuralEmbedder: the neural encoder engine behind the Embedder interface (issue 3): a
// sentence-embedding folder in Hugging Face layout (any architecture of models/registry.h),
// run on the CPU by EncoderModel. Owns the model, the thread count and a pool of per-call
// workspaces. Thread-safety: embed() / embed_ids() may be called from several threads at once; each
// call takes its own workspace from the pool (scratch buffers are never shared between calls).
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/embedder.h"
#include "engine/encoder_model.h"
#include "engine/tokenizer/tokenizer.h"

namespace ej::engine {

class NeuralEmbedder final : public Embedder {
 public:
  // Default token budget of one packed batch (GEMM M dimension); sequences are never split.
  static constexpr int kDefaultBatchTokens = 4096;

  // source: a model folder. Throws ej::Error (kNotFound / kInvalidArgument) with every problem.
  static std::shared_ptr<NeuralEmbedder> open(const std::string& source,
                                              const EngineOptions& options);

  const ModelInfo& info() const override { return info_; }
  void embed(std::span<const std::string_view> texts, InputType input_type, Truncate truncate,
             EmbedOutput* out) override;

  // Lower level: token ids with the special tokens, already truncated (each at most
  // info().max_tokens long) -> embeddings (seqs.size() * dims, input order). Sequences are
  // sorted by length and packed into batches of at most max_batch_tokens() tokens.
  // prompt_tokens (optional, per sequence): leading tokens that pooling skips when the model's
  // Pooling has include_prompt = false.
  void embed_ids(std::span<const std::vector<int32_t>> seqs, std::vector<float>* vectors,
                 ForwardStats* stats = nullptr, std::span<const int32_t> prompt_tokens = {});

  // Text -> token ids as embed() does it: prompt prepended, truncated per `truncate` to
  // info().max_tokens (kNone with an over-long text throws ej::Error(kInvalidArgument) naming
  // `index`). *prompt_tokens gets the count of leading special + prompt tokens.
  std::vector<int32_t> tokenize(std::string_view text, const std::string& prompt, Truncate truncate,
                                size_t index, int32_t* prompt_tokens) const;
  const Tokenizer& tokenizer() const { return *tokenizer_; }

  // The prompt text prepended for an input type ("" when the model has none), see the mapping
  // in neural_embedder.cpp.
  const std::string& prompt_for(InputType input_type) const;

  // Embedder's scheduler path and /v1/tokenize, /v1/detokenize (neural_embedder_tokens.cpp).
  TokenizedInput tokenize_for(std::string_view text, InputType input_type, Truncate truncate,
                              int max_tokens, size_t index) const override;
  void embed_tokens(std::span<const TokenSeq> seqs, std::vector<float>* vectors) override;
  TextTokens tokenize_text(std::string_view text) const override;
  std::string detokenize(std::span<const int32_t> ids) const override;

  const EncoderModel& model() const { return *model_; }
  int threads() const { return threads_; }
  int max_batch_tokens() const override { return max_batch_tokens_; }
  void set_max_batch_tokens(int tokens);  // not thread-safe: call before serving

 private:
  NeuralEmbedder() = default;
  std::unique_ptr<EncoderWorkspace> acquire();
  void release(std::unique_ptr<EncoderWorkspace> ws);
  void calibrate();

  std::unique_ptr<EncoderModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ModelInfo info_;
  int threads_ = 1;
  int max_batch_tokens_ = kDefaultBatchTokens;
  std::string prompts_[5];  // by InputType
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<EncoderWorkspace>> pool_;
};

// Python's str.isspace() for one code point, and str.strip() of UTF-8 text (exposed for tests).
bool py_isspace(uint32_t cp);
std::string_view py_strip(std::string_view s);

// source: a model folder in Hugging Face layout (or, later, a Hub repo id).
std::shared_ptr<Embedder> open_neural_embedder(const std::string& source,
                                               const EngineOptions& options);

}  // namespace ej::engine
