// NeuralEmbedder's scheduler path (tokenize_for / embed_tokens) and the token views of
// /v1/tokenize and /v1/detokenize, on top of tokenize() / embed_ids() of neural_embedder.cpp.
#include <algorithm>

#include "common/error.h"
#include "engine/neural_embedder.h"

namespace ej::engine {

TokenizedInput NeuralEmbedder::tokenize_for(std::string_view text, InputType input_type,
                                            Truncate truncate, int max_tokens, size_t index) const {
  TokenizedInput in;
  in.ids = tokenize(text, prompt_for(input_type), truncate, index, &in.prompt_tokens);
  const size_t pre = tokenizer_->prefix_ids().size(), suf = tokenizer_->suffix_ids().size();
  const size_t cap = std::max(static_cast<size_t>(max_tokens), pre + suf + 1);
  if (max_tokens <= 0 || in.ids.size() <= cap) return in;
  if (truncate == Truncate::kNone) {
    throw Error(ErrorCode::kInvalidArgument,
                "input " + std::to_string(index) + " is " + std::to_string(in.ids.size()) +
                    " tokens long, more than max_tokens " + std::to_string(max_tokens) +
                    " (set truncate to START or END)");
  }
  // The same cut tokenize() makes at the model's context, at `cap` instead: the special tokens
  // stay; END keeps the first content tokens; START keeps the prompt and the last ones.
  std::vector<int32_t> ids;
  ids.reserve(cap);
  const auto b = in.ids.begin();
  const auto content_end = in.ids.end() - static_cast<ptrdiff_t>(suf);
  if (truncate == Truncate::kEnd) {
    ids.assign(b, b + static_cast<ptrdiff_t>(cap - suf));
  } else {
    const size_t prompt = static_cast<size_t>(std::max<int32_t>(in.prompt_tokens, 0));
    const size_t keep_head = std::clamp(prompt, pre, cap - suf);
    ids.assign(b, b + static_cast<ptrdiff_t>(keep_head));
    ids.insert(ids.end(), content_end - static_cast<ptrdiff_t>(cap - suf - keep_head), content_end);
  }
  ids.insert(ids.end(), content_end, in.ids.end());
  in.ids = std::move(ids);
  in.prompt_tokens = std::min(in.prompt_tokens, static_cast<int32_t>(in.ids.size()));
  return in;
}

void NeuralEmbedder::embed_tokens(std::span<const TokenSeq> seqs, std::vector<float>* vectors) {
  std::vector<std::vector<int32_t>> ids(seqs.size());
  std::vector<int32_t> prompts(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) {
    ids[i].assign(seqs[i].ids.begin(), seqs[i].ids.end());
    prompts[i] = seqs[i].prompt_tokens;
  }
  embed_ids(ids, vectors, nullptr, prompts);
}

TextTokens NeuralEmbedder::tokenize_text(std::string_view text) const {
  TextTokens t;
  t.ids = tokenizer_->encode_ids_no_specials(text);
  t.strings = tokenizer_->token_strings(t.ids);
  return t;
}

std::string NeuralEmbedder::detokenize(std::span<const int32_t> ids) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!tokenizer_->id_to_token(ids[i])) {
      throw Error(ErrorCode::kInvalidArgument,
                  "tokens[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                      " is not a token id of this model (vocabulary of " +
                      std::to_string(tokenizer_->vocab_size()) + ")");
    }
  }
  // As Hugging Face tokenizers' decode(ids, skip_special_tokens=True).
  return tokenizer_->decode(ids, /*skip_special_tokens=*/true);
}

}  // namespace ej::engine
