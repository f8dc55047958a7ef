// Internal to ej_hub: the Hugging Face hub cache layout huggingface_hub uses
// (<cache>/models--org--name/{refs/<revision>, snapshots/<commit>/<files>, blobs/<etag>},
// <cache>/.locks/...): repo references, finding a cached snapshot, telling whether it is complete,
// and the exclusive file lock a blob is downloaded under. Functions here only read the cache;
// they are safe from any thread. A FileLock is held by one thread and serialises threads and
// processes that lock the same path.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ej::hub::detail {

struct RepoRef {
  std::string repo;      // org/name
  std::string revision;  // branch, tag or commit hash
};

// `org/name[@revision]` or `name[@revision]` (revision default main); nullopt when not a repo id.
std::optional<RepoRef> parse_repo_id(const std::string& source);

// "org/name" -> "models--org--name", the repo's folder in the cache.
std::filesystem::path repo_folder_name(const std::string& repo);

bool is_commit_hash(std::string_view s);  // 40 lower-case hex digits
bool is_sha256(std::string_view s);       // 64 lower-case hex digits

// The whole file ("" when it cannot be read).
std::string read_file(const std::filesystem::path& p);

// Shard file names listed by a model.safetensors.index.json (its weight_map values).
std::vector<std::string> shards_of_index(const std::filesystem::path& index_path);

// What a cached snapshot lacks to be loadable (empty = complete): config.json and its
// safetensors weights (model.safetensors, or the index and every shard it names).
std::vector<std::string> snapshot_missing(const std::filesystem::path& dir);

// The snapshot folder a revision points at in the cache, when there is one.
std::optional<std::filesystem::path> cached_snapshot(const std::filesystem::path& repo_dir,
                                                     const std::string& revision);

// An exclusive flock(2) on a lock file, held for the object's lifetime.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& p);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace ej::hub::detail
