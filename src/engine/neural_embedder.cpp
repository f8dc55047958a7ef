#include "engine/neural_embedder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <thread>

#include "common/error.h"

namespace ej::engine {

namespace {

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

// Length in bytes of the UTF-8 sequence starting with byte c (1 for invalid bytes).
size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;
}

uint32_t utf8_decode(std::string_view s, size_t i, size_t n) {
  const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[k])); };
  if (n == 1) return b(i);
  if (n == 2) return ((b(i) & 0x1F) << 6) | (b(i + 1) & 0x3F);
  if (n == 3) return ((b(i) & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
  return ((b(i) & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) |
         (b(i + 3) & 0x3F);
}

}  // namespace

bool py_isspace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string_view py_strip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    const size_t n = std::min(utf8_len(static_cast<unsigned char>(s[begin])), s.size() - begin);
    if (!py_isspace(utf8_decode(s, begin, n))) break;
    begin += n;
  }
  size_t end = s.size();
  while (end > begin) {
    size_t start = end - 1;  // back to the lead byte
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    const size_t n = std::min(utf8_len(static_cast<unsigned char>(s[start])), end - start);
    if (n != end - start || !py_isspace(utf8_decode(s, start, n))) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

std::shared_ptr<NeuralEmbedder> NeuralEmbedder::open(const std::string& source,
                                                     const EngineOptions& options) {
  std::shared_ptr<NeuralEmbedder> e(new NeuralEmbedder());
  e->model_ = EncoderModel::load(source, options.dtype);
  const std::string tok_path = source + "/tokenizer.json";
  if (!std::filesystem::exists(tok_path)) {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot load model '" + source + "': no tokenizer.json in the folder");
  }
  e->tokenizer_ = Tokenizer::from_file(tok_path);
  e->info_.tokenizer_file = tok_path;
  e->threads_ = resolve_threads(options.threads);
  const EncoderSpec& s = e->model_->spec();
  e->info_.kind = e->model_->arch().kind;
  e->info_.source = source;
  e->info_.dims = s.embedding_dim;
  e->info_.max_tokens = s.max_seq_length;
  e->info_.matryoshka_dims = s.matryoshka_dims;
  e->info_.dtype = compute_dtype_name(options.dtype);
  e->max_batch_tokens_ = std::max(kDefaultBatchTokens, s.max_seq_length);

  // Cohere input_type -> sentence-transformers prompt name (config_sentence_transformers.json):
  //   search_query    -> "query", else "search_query"
  //   search_document -> "passage", else "document", else "search_document"
  //   classification  -> "classification" / "Classification" (EmbeddingGemma)
  //   clustering      -> "clustering" / "Clustering";  image -> none
  // When no name matches, the model's default_prompt_name (if any) applies, as in
  // sentence-transformers' encode() without prompt_name.
  auto pick = [&](std::initializer_list<const char*> names) -> std::string {
    for (const char* n : names) {
      if (auto it = s.prompts.find(n); it != s.prompts.end()) return it->second;
    }
    if (auto it = s.prompts.find(s.default_prompt_name); it != s.prompts.end()) return it->second;
    return std::string();
  };
  e->prompts_[static_cast<int>(InputType::kSearchQuery)] = pick({"query", "search_query"});
  e->prompts_[static_cast<int>(InputType::kSearchDocument)] =
      pick({"passage", "document", "search_document"});
  e->prompts_[static_cast<int>(InputType::kClassification)] =
      pick({"classification", "Classification"});
  e->prompts_[static_cast<int>(InputType::kClustering)] = pick({"clustering", "Clustering"});
  e->prompts_[static_cast<int>(InputType::kImage)] = std::string();
  e->calibrate();
  return e;
}

const std::string& NeuralEmbedder::prompt_for(InputType input_type) const {
  return prompts_[static_cast<int>(input_type)];
}

void NeuralEmbedder::set_max_batch_tokens(int tokens) {
  max_batch_tokens_ = std::max(tokens, info_.max_tokens);
}

// int8 / uint8 calibration range, derived from the model itself: embed 16 deterministic
// pseudo-random id sequences (lengths 8..128) and take the largest |component| seen, times 1.25
// for headroom, as a symmetric range [-hi, hi]; never wider than [-1, 1] when the output is
// L2-normalized (a unit vector's components lie in [-1, 1]). Models with a few large constant
// dimensions (common in trained encoders) thus keep them unclipped, while small-spread models
// use the 8 bits well.
void NeuralEmbedder::calibrate() {
  const EncoderSpec& s = model_->spec();
  std::vector<std::vector<int32_t>> seqs;
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 16; ++i) {
    const int len = std::min(8 + i * 8, info_.max_tokens);
    std::vector<int32_t> ids(static_cast<size_t>(len));
    for (auto& id : ids) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      id = static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(s.vocab_size));
      if (id == model_->arch().pad_token_id) id = 0;  // pads do not advance positions
    }
    seqs.push_back(std::move(ids));
  }
  std::vector<float> v;
  embed_ids(seqs, &v);
  float mx = 0.0f;
  for (float x : v) mx = std::max(mx, std::fabs(x));
  float hi = mx * 1.25f;
  if (s.normalize || hi <= 0.0f) hi = std::min(hi > 0.0f ? hi : 1.0f, 1.0f);
  info_.calib_lo = -hi;
  info_.calib_hi = hi;
}

std::unique_ptr<EncoderWorkspace> NeuralEmbedder::acquire() {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (pool_.empty()) return std::make_unique<EncoderWorkspace>();
  auto ws = std::move(pool_.back());
  pool_.pop_back();
  return ws;
}

void NeuralEmbedder::release(std::unique_ptr<EncoderWorkspace> ws) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  pool_.push_back(std::move(ws));
}

void NeuralEmbedder::embed_ids(std::span<const std::vector<int32_t>> seqs,
                               std::vector<float>* vectors, ForwardStats* stats,
                               std::span<const int32_t> prompt_tokens) {
  const size_t n = seqs.size();
  const int dims = info_.dims;
  vectors->assign(n * static_cast<size_t>(dims), 0.0f);
  if (n == 0) return;
  for (size_t i = 0; i < n; ++i) {
    if (seqs[i].empty() || static_cast<int>(seqs[i].size()) > info_.max_tokens) {
      throw Error(ErrorCode::kInvalidArgument,
                  "input " + std::to_string(i) + " has " + std::to_string(seqs[i].size()) +
                      " tokens; the model takes 1.." + std::to_string(info_.max_tokens));
    }
  }
  // Longest first: similar lengths share a batch, so attention tasks are balanced.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return seqs[a].size() > seqs[b].size(); });

  auto ws = acquire();
  std::vector<int32_t> ids, offsets, prompts;
  std::vector<float> emb;
  size_t pos = 0;
  try {
    while (pos < n) {
      ids.clear();
      prompts.clear();
      offsets.assign(1, 0);
      size_t end = pos;
      while (end < n && (end == pos || static_cast<int>(ids.size() + seqs[order[end]].size()) <=
                                           max_batch_tokens_)) {
        const auto& s = seqs[order[end]];
        ids.insert(ids.end(), s.begin(), s.end());
        offsets.push_back(static_cast<int32_t>(ids.size()));
        if (!prompt_tokens.empty()) prompts.push_back(prompt_tokens[order[end]]);
        ++end;
      }
      emb.resize((end - pos) * static_cast<size_t>(dims));
      PackedBatch batch{ids, offsets, prompts};
      model_->forward(batch, threads_, ws.get(), emb.data(), nullptr, stats);
      for (size_t k = pos; k < end; ++k) {
        std::copy_n(emb.data() + (k - pos) * dims, dims, vectors->data() + order[k] * dims);
      }
      pos = end;
    }
  } catch (...) {
    release(std::move(ws));
    throw;
  }
  release(std::move(ws));
}

std::vector<int32_t> NeuralEmbedder::tokenize(std::string_view text, const std::string& prompt,
                                              Truncate truncate, size_t index,
                                              int32_t* prompt_tokens) const {
  const int max = info_.max_tokens;
  // sentence-transformers tokenizes (prompt + text).strip() (Python's str.strip()).
  std::string full;
  if (!prompt.empty()) {
    full.reserve(prompt.size() + text.size());
    full.append(prompt).append(text);
    text = full;
  }
  text = py_strip(text);
  const int32_t n_prompt =
      prompt.empty() ? 0 : static_cast<int32_t>(tokenizer_->encode_ids_no_specials(prompt).size());
  *prompt_tokens = static_cast<int32_t>(tokenizer_->prefix_ids().size()) + n_prompt;
  if (truncate != Truncate::kStart || prompt.empty()) {
    Encoding enc = tokenizer_->encode(
        text, max, truncate == Truncate::kStart ? Truncate::kStart : Truncate::kEnd);
    if (truncate == Truncate::kNone && enc.num_tokens_untruncated > max) {
      throw Error(ErrorCode::kInvalidArgument, "input " + std::to_string(index) + " is " +
                                                   std::to_string(enc.num_tokens_untruncated) +
                                                   " tokens long; the model takes at most " +
                                                   std::to_string(max) +
                                                   " (set truncate to START or END)");
    }
    return std::move(enc.ids);
  }
  // START with a prompt: drop the start of the TEXT, keep the prompt (the instruction must
  // survive truncation): specials + prompt tokens + the last tokens of the text.
  Encoding enc = tokenizer_->encode(text, 0, Truncate::kNone);
  if (static_cast<int>(enc.ids.size()) <= max) return std::move(enc.ids);
  const size_t pre = tokenizer_->prefix_ids().size(), suf = tokenizer_->suffix_ids().size();
  const size_t keep_prompt =
      std::min<size_t>(static_cast<size_t>(n_prompt), static_cast<size_t>(max) - pre - suf);
  const size_t keep_tail = static_cast<size_t>(max) - pre - suf - keep_prompt;
  std::vector<int32_t> ids(enc.ids.begin(),
                           enc.ids.begin() + static_cast<ptrdiff_t>(pre + keep_prompt));
  const size_t content_end = enc.ids.size() - suf;
  ids.insert(ids.end(), enc.ids.begin() + static_cast<ptrdiff_t>(content_end - keep_tail),
             enc.ids.end());
  return ids;
}

void NeuralEmbedder::embed(std::span<const std::string_view> texts, InputType input_type,
                           Truncate truncate, EmbedOutput* out) {
  const std::string& prompt = prompt_for(input_type);
  std::vector<std::vector<int32_t>> seqs(texts.size());
  std::vector<int32_t> prompt_tokens(texts.size());
  out->num_tokens.resize(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    seqs[i] = tokenize(texts[i], prompt, truncate, i, &prompt_tokens[i]);
    out->num_tokens[i] = static_cast<int>(seqs[i].size());
  }
  embed_ids(seqs, &out->vectors, nullptr, prompt_tokens);
}

std::shared_ptr<Embedder> open_neural_embedder(const std::string& source,
                                               const EngineOptions& options) {
  return NeuralEmbedder::open(source, options);
}

}  // namespace ej::engine
