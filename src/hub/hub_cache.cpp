#include "hub/hub_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.h"
#include "hub/hub_env.h"
#include "hub/model_source.h"

namespace ej::hub {

namespace fs = std::filesystem;

namespace detail {
namespace {

bool is_hex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool valid_repo_part(std::string_view s) {
  if (s.empty() || s.size() > 96 || s.front() == '.' || s.front() == '-' || s.back() == '.' ||
      s.find("..") != std::string_view::npos || s.find("--") != std::string_view::npos) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

bool is_commit_hash(std::string_view s) {
  return is_hex(s, 40);
}
bool is_sha256(std::string_view s) {
  return is_hex(s, 64);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<RepoRef> parse_repo_id(const std::string& source) {
  RepoRef ref;
  size_t at = source.find('@');
  ref.repo = source.substr(0, at);
  ref.revision = at == std::string::npos ? "main" : source.substr(at + 1);
  size_t slash = ref.repo.find('/');
  if (slash == std::string::npos) {
    if (!valid_repo_part(ref.repo)) return std::nullopt;
  } else if (ref.repo.find('/', slash + 1) != std::string::npos ||
             !valid_repo_part(std::string_view(ref.repo).substr(0, slash)) ||
             !valid_repo_part(std::string_view(ref.repo).substr(slash + 1))) {
    return std::nullopt;
  }
  if (ref.revision.empty() || ref.revision.find("..") != std::string::npos ||
      ref.revision.front() == '/' || ref.revision.back() == '/') {
    return std::nullopt;
  }
  for (char c : ref.revision) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '/') {
      return std::nullopt;
    }
  }
  return ref;
}

fs::path repo_folder_name(const std::string& repo) {
  std::string name = "models--" + repo;
  for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p)) {
    name.replace(p, 1, "--");
  }
  return name;
}

std::vector<std::string> shards_of_index(const fs::path& index_path) {
  nlohmann::json j = nlohmann::json::parse(read_file(index_path), nullptr, false);
  std::set<std::string> files;
  if (j.is_object() && j.contains("weight_map") && j["weight_map"].is_object()) {
    for (const auto& [tensor, file] : j["weight_map"].items()) {
      if (file.is_string()) files.insert(file.get<std::string>());
    }
  }
  return {files.begin(), files.end()};
}

std::vector<std::string> snapshot_missing(const fs::path& dir) {
  std::vector<std::string> missing;
  if (!fs::exists(dir / "config.json")) missing.push_back("config.json");
  if (fs::exists(dir / "model.safetensors")) return missing;
  if (!fs::exists(dir / "model.safetensors.index.json")) {
    missing.push_back("model.safetensors");
    return missing;
  }
  std::vector<std::string> shards = shards_of_index(dir / "model.safetensors.index.json");
  if (shards.empty()) missing.push_back("model.safetensors.index.json (no weight_map)");
  for (const std::string& s : shards) {
    if (!fs::exists(dir / s)) missing.push_back(s);
  }
  return missing;
}

std::optional<fs::path> cached_snapshot(const fs::path& repo_dir, const std::string& revision) {
  std::string commit;
  if (is_commit_hash(revision)) {
    commit = revision;
  } else {
    fs::path ref = repo_dir / "refs" / revision;
    if (!fs::is_regular_file(ref)) return std::nullopt;
    commit = trim(read_file(ref));
    if (commit.empty()) return std::nullopt;
  }
  fs::path snap = repo_dir / "snapshots" / commit;
  if (!fs::is_directory(snap)) return std::nullopt;
  return snap;
}

FileLock::FileLock(const fs::path& p) {
  fs::create_directories(p.parent_path());
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(ErrorCode::kInternal, "cannot create lock file " + p.string());
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      ::close(fd_);
      throw Error(ErrorCode::kInternal, "cannot lock " + p.string());
    }
  }
}

FileLock::~FileLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace detail

fs::path hf_hub_cache_dir() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    std::string v = detail::env(name);
    if (!v.empty()) return v;
  }
  return detail::hf_home() / "hub";
}

}  // namespace ej::hub
