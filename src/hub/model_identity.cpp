#include "hub/model_identity.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "common/error.h"
#include "common/ids.h"

namespace ej::hub {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMiB = 1u << 20;
constexpr uint64_t kWholeBelow = 16 * kMiB;
constexpr uint64_t kSampleStride = 64 * kMiB;

void hash_range(std::ifstream& in, uint64_t offset, uint64_t size, std::vector<char>& buf,
                Sha256& h) {
  in.seekg(static_cast<std::streamoff>(offset));
  while (size > 0 && in) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(size, buf.size()));
    in.read(buf.data(), static_cast<std::streamsize>(n));
    size_t got = static_cast<size_t>(in.gcount());
    h.update(buf.data(), got);
    if (got < n) break;
    size -= got;
  }
}

}  // namespace

std::string model_identity(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw_not_found("model folder " + folder + " not found");
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(
           folder, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(fs::relative(it->path(), folder, ec).string());
  }
  std::sort(files.begin(), files.end());
  Sha256 h;
  std::vector<char> buf(kMiB);
  for (const std::string& rel : files) {
    std::string path = (fs::path(folder) / rel).string();
    uint64_t size = fs::file_size(path, ec);
    if (ec) continue;
    std::string header = rel + '\0' + std::to_string(size) + '\0';  // framed: no ambiguity
    h.update(header);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::kNotFound, "cannot read model file " + path);
    if (size < kWholeBelow) {
      hash_range(in, 0, size, buf, h);
      continue;
    }
    for (uint64_t off = 0; off + kMiB < size; off += kSampleStride)
      hash_range(in, off, kMiB, buf, h);
    hash_range(in, size - kMiB, kMiB, buf, h);
  }
  return "sha256:" + h.hex();
}

}  // namespace ej::hub
