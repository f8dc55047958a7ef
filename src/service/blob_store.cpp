#include "service/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/durable_file.h"
#include "common/error.h"

namespace ej::service {

namespace fs = std::filesystem;

namespace {

// A local file read with pread (so one open file serves any offset without a shared position).
class FileBlobReader final : public BlobReader {
 public:
  FileBlobReader(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FileBlobReader() override { ::close(fd_); }
  uint64_t size() const override { return size_; }
  size_t read_at(uint64_t offset, void* buf, size_t n) override {
    size_t done = 0;
    while (done < n && offset + done < size_) {
      ssize_t got =
          ::pread(fd_, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        throw Error(ErrorCode::kInternal, "cannot read " + path_ + ": " + std::strerror(errno));
      }
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

 private:
  int fd_;
  uint64_t size_;
  std::string path_;
};

}  // namespace

void check_blob_key(const std::string& key) {
  bool bad = key.empty() || key.front() == '/';
  for (size_t at = 0; !bad && at <= key.size();) {
    size_t slash = key.find('/', at);
    if (slash == std::string::npos) slash = key.size();
    const std::string_view part(key.data() + at, slash - at);
    bad = part.empty() || part == "." || part == "..";
    at = slash + 1;
  }
  if (bad) throw Error(ErrorCode::kInternal, "invalid blob key '" + key + "'");
}

namespace {

class FilesystemBlobStore final : public BlobStore {
 public:
  explicit FilesystemBlobStore(std::string root) : root_(std::move(root)) {}

  std::string staging_path(const std::string& key) override { return path(key); }

  void put_file(const std::string& key, const std::string& local_path) override {
    const std::string to = path(key);
    if (local_path == to) return;  // written in place by the durable-write rule
    fs::create_directories(fs::path(to).parent_path());
    rename_durably(local_path, to);
  }

  std::unique_ptr<BlobReader> open(const std::string& key) override {
    if (!exists(key)) return nullptr;
    return open_local_file(path(key));
  }

  std::optional<uint64_t> size(const std::string& key) override {
    struct stat st {};
    if (::stat(path(key).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return static_cast<uint64_t>(st.st_size);
  }

  std::unique_ptr<LocalBlobFile> fetch(const std::string& key) override {
    if (!exists(key)) throw_not_found("no blob " + key);
    return std::make_unique<LocalBlobFile>(path(key), false);
  }

  void remove(const std::string& key) override {
    std::error_code ec;
    fs::remove(path(key), ec);
  }

  void remove_prefix(const std::string& prefix) override {
    std::error_code ec;
    fs::remove_all(path(prefix), ec);
  }

 private:
  std::string path(const std::string& key) const {
    check_blob_key(key);
    return root_ + "/" + key;
  }
  std::string root_;
};

}  // namespace

std::unique_ptr<BlobReader> BlobStore::must_open(const std::string& key) {
  std::unique_ptr<BlobReader> blob = open(key);
  if (!blob) throw Error(ErrorCode::kInternal, "blob " + key + " is missing");
  return blob;
}

LocalBlobFile::~LocalBlobFile() {
  if (is_copy_) {
    std::error_code ec;
    fs::remove(path_, ec);
  }
}

std::unique_ptr<BlobStore> open_filesystem_blob_store(const std::string& root) {
  return std::make_unique<FilesystemBlobStore>(root);
}

std::unique_ptr<BlobReader> open_local_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(ErrorCode::kInternal, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::kInternal, "cannot open " + path + ": not a regular file");
  }
  return std::make_unique<FileBlobReader>(fd, static_cast<uint64_t>(st.st_size), path);
}

std::string read_all(BlobReader& blob) {
  std::string out(static_cast<size_t>(blob.size()), '\0');
  size_t got = blob.read_at(0, out.data(), out.size());
  if (got != out.size()) {
    throw Error(ErrorCode::kInternal, "blob ended after " + std::to_string(got) + " of " +
                                          std::to_string(out.size()) + " bytes");
  }
  return out;
}

}  // namespace ej::service
