#include "engine/weights.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"

namespace ej::engine {

namespace fs = std::filesystem;

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

WeightReader WeightReader::open_dir(const fs::path& dir) {
  std::vector<SafetensorsFile> files;
  if (fs::exists(dir / "model.safetensors")) {
    files.push_back(SafetensorsFile::open(dir / "model.safetensors"));
    return WeightReader(std::move(files));
  }
  fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    std::ifstream in(index);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const std::exception&) {
      throw Error(ErrorCode::kInvalidArgument, index.string() + ": not valid JSON");
    }
    std::set<std::string> shards;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      shards.insert(it.value().get<std::string>());
    }
    for (const auto& s : shards) files.push_back(SafetensorsFile::open(dir / s));
    return WeightReader(std::move(files));
  }
  throw Error(ErrorCode::kInvalidArgument,
              "cannot load model '" + dir.string() +
                  "': no model.safetensors (pytorch_model.bin is not supported; convert it)");
}

const TensorInfo* WeightReader::find(const std::string& name, const SafetensorsFile** file) const {
  for (const auto& f : files_) {
    if (const TensorInfo* t = f.find(name)) {
      if (file != nullptr) *file = &f;
      return t;
    }
  }
  return nullptr;
}

const TensorInfo* WeightReader::check(const std::string& name, const std::vector<int64_t>& shape,
                                      const SafetensorsFile** file) {
  const TensorInfo* t = find(name, file);
  if (t == nullptr) {
    problems_.push_back("missing tensor '" + name + "' " + shape_str(shape));
    return nullptr;
  }
  if (t->shape != shape) {
    problems_.push_back("tensor '" + name + "' has shape " + shape_str(t->shape) + ", expected " +
                        shape_str(shape));
    return nullptr;
  }
  if (t->dtype == TensorDType::kUnsupported) {
    problems_.push_back("tensor '" + name + "' has unsupported dtype " + t->dtype_name +
                        " (F32, F16, BF16)");
    return nullptr;
  }
  return t;
}

bool WeightReader::read(const std::string& name, const std::vector<int64_t>& shape,
                        AlignedBuffer* dst) {
  const SafetensorsFile* f = nullptr;
  const TensorInfo* t = check(name, shape, &f);
  if (t == nullptr || failing()) return false;  // already failing: only keep checking
  dst->reserve(std::max<size_t>(t->numel(), 1));
  f->read_f32(*t, dst->data());
  f->release(*t);
  return true;
}

bool WeightReader::read_concat(const std::vector<std::string>& names,
                               const std::vector<std::vector<int64_t>>& shapes,
                               AlignedBuffer* dst) {
  std::vector<const TensorInfo*> infos(names.size());
  std::vector<const SafetensorsFile*> files(names.size());
  size_t total = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    infos[i] = check(names[i], shapes[i], &files[i]);
    if (infos[i] != nullptr) total += infos[i]->numel();
  }
  if (failing()) return false;
  dst->reserve(std::max<size_t>(total, 1));
  size_t off = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    files[i]->read_f32(*infos[i], dst->data() + off);
    files[i]->release(*infos[i]);
    off += infos[i]->numel();
  }
  return true;
}

bool WeightReader::read_stored(const std::string& name, const std::vector<int64_t>& shape,
                               StoredTensor* dst) {
  const SafetensorsFile* f = nullptr;
  const TensorInfo* t = check(name, shape, &f);
  if (t == nullptr || failing()) return false;
  const size_t bytes = t->end - t->begin;
  void* p = std::aligned_alloc(64, std::max<size_t>((bytes + 63) / 64 * 64, 64));
  if (p == nullptr) throw std::bad_alloc();
  std::memcpy(p, f->bytes(*t), bytes);
  f->release(*t);
  dst->bytes = std::unique_ptr<uint8_t[], void (*)(void*)>(static_cast<uint8_t*>(p), &std::free);
  dst->view = TensorView{p, t->dtype, t->shape};
  return true;
}

}  // namespace ej::engine
