#include "hub/model_identity.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "common/error.h"

namespace ej::hub {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMiB = 1u << 20;
constexpr uint64_t kWholeBelow = 16 * kMiB;
constexpr uint64_t kSampleStride = 64 * kMiB;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
      throw Error(ErrorCode::kInternal, "sha256: cannot initialise OpenSSL digest");
    }
  }
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  void update(const std::string& s) { update(s.data(), s.size() + 1); }  // with the NUL: framed
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out.push_back(kHex[md[i] >> 4]);
      out.push_back(kHex[md[i] & 15]);
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

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
    h.update(rel);
    h.update(std::to_string(size));
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
