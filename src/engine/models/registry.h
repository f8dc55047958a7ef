// The architectures the engine runs, by config.json model_type. Each models/<type>.cpp maps a
// config onto an ArchSpec (the layer stack and its tensor names) and fills the generic fields
// of the EncoderSpec (vocab, hidden size, context limit, ...). Adding an architecture = one
// file + one line in registry.cpp.
// Thread-safety: stateless functions.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/models/arch_spec.h"
#include "engine/models/config.h"

namespace ej::engine {

// Returns the spec, or null after recording "model_type ... is not supported (<list>)".
std::shared_ptr<ArchSpec> map_architecture(const nlohmann::json& cfg, EncoderSpec* s,
                                           std::vector<std::string>* problems);

// One per architecture file.
ArchSpec map_bert(Config& c, EncoderSpec* s);  // bert, xlm-roberta, roberta, camembert
ArchSpec map_nomic_bert(Config& c, EncoderSpec* s);
ArchSpec map_qwen(Config& c, EncoderSpec* s);  // qwen2, qwen3
ArchSpec map_modernbert(Config& c, EncoderSpec* s);
ArchSpec map_gemma3(Config& c, EncoderSpec* s);
ArchSpec map_mpnet(Config& c, EncoderSpec* s);

// Shared helpers of the mappings.
LinearSpec linear(std::vector<std::string> weights, std::vector<int64_t> rows, bool bias);
NormSpec layer_norm(std::string name, float eps, bool bias = true);
NormSpec rms_norm(std::string name, float eps, bool plus_one = false);
// A post-norm block with plain multi-head attention (every head its own K/V, 1/sqrt(d) scale).
BlockSpec post_norm_block(int num_heads, int head_dim);
// The FFN half of a BERT-layout block under prefix p ("encoder.layer.<i>."): intermediate.dense,
// output.dense, output.LayerNorm.
void bert_layout_ffn(BlockSpec* b, const std::string& p, int64_t hidden, int64_t intermediate,
                     Activation act, float eps);

}  // namespace ej::engine
