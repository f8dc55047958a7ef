// The identity of a model folder: a digest of the files that decide its output (config,
// weights, tokenizer, sentence-transformers modules), so that work started with one model is
// never continued with another served under the same name. Reads the folder; thread-safe.
#pragma once

#include <string>

namespace ej::hub {

// "sha256:<hex>" over every regular file below `folder` (names relative to it, sorted): small
// files (< 16 MiB) wholly; larger ones (weights) by size, their first and last MiB, and every
// 64th MiB in between, which covers a safetensors header with every tensor's dtype, shape and
// offset. Throws ej::Error(kNotFound) when the folder cannot be read.
std::string model_identity(const std::string& folder);

}  // namespace ej::hub
