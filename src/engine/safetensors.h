// SafetensorsFile: one .safetensors file, memory-mapped read-only, with its parsed header.
// Tensors are widened to f32 on request (F32 copied, F16 / BF16 converted exactly).
// Thread-safety: immutable after open(); const methods may be called from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ej::engine {

enum class TensorDType { kF32, kF16, kBF16, kUnsupported };

struct TensorInfo {
  std::string name;
  std::string dtype_name;  // as written in the header ("F32", "F16", "BF16", "I64", ...)
  TensorDType dtype = TensorDType::kUnsupported;
  std::vector<int64_t> shape;
  size_t begin = 0;  // byte offsets inside the data section
  size_t end = 0;
  size_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates the file (header JSON, offsets inside the file, sizes matching shapes).
  // Throws ej::Error(kInvalidArgument) naming the file on any problem.
  static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&& o) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& o) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }
  const TensorInfo* find(std::string_view name) const;
  const std::map<std::string, TensorInfo, std::less<>>& tensors() const { return tensors_; }

  // Widens the tensor into dst (numel() floats). Throws for unsupported dtypes.
  void read_f32(const TensorInfo& t, float* dst) const;
  // The tensor's bytes inside the mapping (valid while this object lives).
  const uint8_t* bytes(const TensorInfo& t) const { return data_ + t.begin; }
  // Tells the kernel the mapped pages of this tensor are no longer needed (keeps peak RSS at
  // one copy of the weights). The mapping stays valid; pages are re-read if touched again.
  void release(const TensorInfo& t) const;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::map<std::string, TensorInfo, std::less<>> tensors_;
};

// Exact IEEE half / bfloat16 -> float conversions (exposed for tests).
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t b);

}  // namespace ej::engine
