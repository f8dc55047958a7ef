#include "common/durable_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace ej {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw Error(ErrorCode::kInternal, what + " " + path + ": " + std::strerror(err));
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

constexpr std::string_view kTmpMarker = ".tmp-";

// The pid in a name made by unique_tmp_path ("<name>.tmp-<pid>-<n>"), or -1.
long tmp_file_pid(const std::string& name) {
  size_t at = name.rfind(kTmpMarker);
  if (at == std::string::npos) return -1;
  const char* p = name.c_str() + at + kTmpMarker.size();
  char* end = nullptr;
  long pid = std::strtol(p, &end, 10);
  if (end == p || *end != '-' || pid <= 0) return -1;
  const char* q = end + 1;
  std::strtoull(q, &end, 10);
  if (end == q || *end != '\0') return -1;
  return pid;
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail("cannot fsync", path, err);
}

}  // namespace

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some filesystems refuse fsync on a directory (EINVAL); the rename itself is then all we get.
  if (rc != 0 && err != EINVAL) fail("cannot fsync directory", dir, err);
}

DurableFile::DurableFile(std::string path, mode_t mode)
    : path_(std::move(path)), tmp_path_(unique_tmp_path(path_)) {
  std::error_code ec;
  std::filesystem::create_directories(parent_dir(path_), ec);
  int fd = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) fail("cannot create", tmp_path_, errno);
  // The umask may have narrowed `mode`; a secret stays narrow either way.
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp_path_.c_str());
    fail("cannot set permissions of", tmp_path_, err);
  }
  fp_ = ::fdopen(fd, "wb");
  if (!fp_) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp_path_.c_str());
    fail("cannot open", tmp_path_, err);
  }
}

std::string unique_tmp_path(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + std::string(kTmpMarker) + std::to_string(::getpid()) + "-" +
         std::to_string(++counter);
}

DurableFile::~DurableFile() {
  abort();
}

int remove_abandoned_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  const long self = static_cast<long>(::getpid());
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    long pid = tmp_file_pid(it->path().filename().string());
    if (pid < 0) continue;
    // Our own pid at start-up is a previous process that had it (containers reuse pids).
    bool alive = pid != self && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    if (alive) continue;
    std::error_code rm;
    if (std::filesystem::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

void DurableFile::write(const void* data, size_t size) {
  if (done_ || !fp_) throw Error(ErrorCode::kInternal, "write to a closed file " + tmp_path_);
  if (size > 0 && std::fwrite(data, 1, size, fp_) != size) fail("cannot write", tmp_path_, errno);
}

uint64_t DurableFile::commit() {
  if (done_ || !fp_) throw Error(ErrorCode::kInternal, "commit of a closed file " + tmp_path_);
  struct stat st {};
  bool ok =
      std::fflush(fp_) == 0 && ::fsync(::fileno(fp_)) == 0 && ::fstat(::fileno(fp_), &st) == 0;
  int err = errno;
  ok = std::fclose(fp_) == 0 && ok;
  if (ok) err = 0;
  fp_ = nullptr;
  if (!ok) {
    abort();
    fail("cannot write", tmp_path_, err != 0 ? err : EIO);
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    err = errno;
    abort();
    fail("cannot rename to", path_, err);
  }
  done_ = true;
  fsync_directory(parent_dir(path_));
  return static_cast<uint64_t>(st.st_size);
}

void DurableFile::abort() {
  if (done_) return;
  done_ = true;
  if (fp_) {
    std::fclose(fp_);
    fp_ = nullptr;
  }
  ::unlink(tmp_path_.c_str());
}

void write_file_durably(const std::string& path, std::string_view data, mode_t mode) {
  DurableFile file(path, mode);
  file.write(data);
  file.commit();
}

void rename_durably(const std::string& from, const std::string& to) {
  fsync_path(from);
  if (std::rename(from.c_str(), to.c_str()) != 0) fail("cannot rename " + from + " to", to, errno);
  fsync_directory(parent_dir(to));
}

}  // namespace ej
