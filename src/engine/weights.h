// WeightReader: looks tensors up by name across the safetensors files of a checkpoint (sharded
// or not), checks shape and dtype, and collects EVERY problem (missing / misshapen / unsupported
// tensors) instead of stopping at the first, so a load error lists them all. Tensors are widened
// to f32 into aligned buffers, or kept in their stored dtype (StoredTensor) where the consumer
// computes from that dtype. Mapped pages are released after each read (peak RSS ~ one copy).
// Thread-safety: single-threaded, used during load only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/aligned_buffer.h"
#include "engine/safetensors.h"
#include "engine/tensor.h"

namespace ej::engine {

// A tensor copied in its stored dtype (64-byte aligned), with a view onto it.
struct StoredTensor {
  std::unique_ptr<uint8_t[], void (*)(void*)> bytes{nullptr, nullptr};
  TensorView view;
};

class WeightReader {
 public:
  explicit WeightReader(std::vector<SafetensorsFile> files) : files_(std::move(files)) {}
  // model.safetensors, or the shards named by model.safetensors.index.json.
  static WeightReader open_dir(const std::filesystem::path& dir);

  const TensorInfo* find(const std::string& name, const SafetensorsFile** file = nullptr) const;
  bool has(const std::string& name) const { return find(name) != nullptr; }

  // Widens tensor `name` of the given shape into dst; records a problem if it is missing,
  // misshapen or of an unsupported dtype. Returns true when read.
  bool read(const std::string& name, const std::vector<int64_t>& shape, AlignedBuffer* dst);
  // Concatenates tensors along their first dimension (q / k / v into one QKV matrix, gate / up
  // into one GEMM); each tensor has shapes[i]; all must agree past the first dimension.
  bool read_concat(const std::vector<std::string>& names,
                   const std::vector<std::vector<int64_t>>& shapes, AlignedBuffer* dst);
  // Copies the tensor in its stored dtype (F32 / F16 / BF16).
  bool read_stored(const std::string& name, const std::vector<int64_t>& shape, StoredTensor* dst);

  void problem(std::string p) { problems_.push_back(std::move(p)); }
  std::vector<std::string>& problems() { return problems_; }
  bool failing() const { return !problems_.empty(); }

 private:
  const TensorInfo* check(const std::string& name, const std::vector<int64_t>& shape,
                          const SafetensorsFile** file);
  std::vector<SafetensorsFile> files_;
  std::vector<std::string> problems_;
};

std::string shape_str(const std::vector<int64_t>& s);

}  // namespace ej::engine
