// EncoderSpec: everything the engine needs to know about a Hugging Face encoder folder, read from
// config.json and the sentence-transformers files (modules.json, 1_Pooling/config.json, Dense
// modules, Normalize, sentence_bert_config.json, config_sentence_transformers.json).
// Nothing is keyed on model names: activation, eps, positions, pooling come from the files.
// Thread-safety: plain data; immutable after read_encoder_spec().
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ej::engine {

enum class Activation { kGeluErf, kGeluTanh, kQuickGelu, kRelu, kSilu, kTanh, kSigmoid, kIdentity };

// kXlmRoberta: positions come from the ids (pad ids do not advance them); kBert: every other.
enum class ModelFamily { kBert, kXlmRoberta };

struct ArchSpec;  // engine/models/arch_spec.h: the layer stack

// Sentence-transformers Pooling; several modes set at once are concatenated in the order
// sentence-transformers uses: cls, max, mean, mean_sqrt_len, weightedmean, lasttoken.
struct PoolingSpec {
  bool cls = false;
  bool max = false;
  bool mean = true;
  bool mean_sqrt_len = false;
  bool weighted_mean = false;
  bool last_token = false;
  bool include_prompt = true;
  int num_modes() const { return cls + max + mean + mean_sqrt_len + weighted_mean + last_token; }
};

// A sentence-transformers Dense module (out = act(W x + b)).
struct DenseSpec {
  std::filesystem::path dir;  // folder holding model.safetensors
  int in_features = 0;
  int out_features = 0;
  bool bias = true;
  Activation activation = Activation::kTanh;
};

// One step after pooling, in modules.json order.
struct PostStep {
  enum Kind { kDense, kNormalize } kind = kNormalize;
  int dense_index = -1;  // into EncoderSpec::dense
};

struct EncoderSpec {
  std::filesystem::path dir;
  ModelFamily family = ModelFamily::kBert;
  std::string model_type;  // config.json model_type ("bert", "qwen3", ...)
  int vocab_size = 0;
  int hidden_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int intermediate_size = 0;
  int max_position_embeddings = 0;
  int type_vocab_size = 0;
  int pad_token_id = 0;
  // Position of the first token: 0 for BERT; pad_token_id + 1 for RoBERTa-style models, whose
  // positions come from the ids (pad ids get position pad_token_id).
  int position_offset = 0;
  float layer_norm_eps = 1e-12f;
  Activation hidden_act = Activation::kGeluErf;
  int max_seq_length = 0;  // tokens, specials included
  PoolingSpec pooling;
  std::vector<DenseSpec> dense;
  std::vector<PostStep> post;                  // Dense / Normalize steps after pooling, in order
  bool normalize = false;                      // true if a Normalize step is present
  std::map<std::string, std::string> prompts;  // config_sentence_transformers.json
  std::string default_prompt_name;
  int embedding_dim = 0;                 // dims of the final sentence embedding
  std::shared_ptr<const ArchSpec> arch;  // the layer stack (models/registry.h)
  // Matryoshka output sizes the model declares ("matryoshka_dims" / "matryoshka_dimensions" in
  // config_sentence_transformers.json or config.json), ascending, each <= embedding_dim.
  std::vector<int> matryoshka_dims;

  int head_dim() const { return hidden_size / num_heads; }
};

// Reads and validates the spec; throws ej::Error listing every problem found.
EncoderSpec read_encoder_spec(const std::filesystem::path& dir);

// "gelu" -> erf GELU, "gelu_new"/"gelu_pytorch_tanh"/"gelu_fast" -> tanh GELU, ... ; also
// accepts torch class names ("torch.nn.modules.activation.Tanh"). Returns false if unknown.
bool parse_activation(const std::string& name, Activation* out);

}  // namespace ej::engine
