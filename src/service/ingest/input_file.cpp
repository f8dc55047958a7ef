#include "service/ingest/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "service/ingest/text_util.h"

namespace ej::service::ingest {

namespace {

[[noreturn]] void fail_io(const std::string& what, const std::string& path) {
  throw Error(ErrorCode::kInternal, what + " " + path + ": " + std::strerror(errno));
}

int open_for_reading(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_io("cannot open", path);
  return fd;
}

}  // namespace

InputFile::InputFile(const std::string& path) : path_(path), fd_(open_for_reading(path)) {
  // 1 MiB, or less for a smaller file (a buffer never needs more than the file + 1 byte).
  struct stat st;
  size_t size = 1 << 20;
  if (fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
    size = std::clamp<size_t>(static_cast<size_t>(st.st_size) + 1, 4096, size);
  }
  buf_.resize(size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::skip_bom() {
  if (!fill(kBom.size())) return;
  if (end_ - pos_ >= kBom.size() && std::memcmp(buf_.data() + pos_, kBom.data(), kBom.size()) == 0)
    pos_ += kBom.size();
}

bool InputFile::read_line(std::string* line, size_t max_len, bool* too_long) {
  line->clear();
  *too_long = false;
  bool any = false;
  for (;;) {
    if (pos_ == end_ && !fill(1)) return any;
    any = true;
    const char* start = buf_.data() + pos_;
    const void* nl = std::memchr(start, '\n', end_ - pos_);
    size_t n = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : end_ - pos_;
    if (!*too_long) {
      if (line->size() + n > max_len) {
        *too_long = true;
      } else {
        line->append(start, n);
      }
    }
    pos_ += n;
    if (nl) {
      ++pos_;
      return true;
    }
  }
}

bool InputFile::fill(size_t want) {
  if (end_ - pos_ >= want) return true;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (!eof_ && end_ < want) {
    ssize_t r = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail_io("cannot read", path_);
    }
    if (r == 0) eof_ = true;
    end_ += static_cast<size_t>(r);
  }
  return end_ > pos_;
}

std::string read_head(const std::string& path, size_t max_bytes) {
  int fd = open_for_reading(path);
  std::string out(max_bytes, '\0');
  size_t got = 0;
  while (got < max_bytes) {
    ssize_t r = ::read(fd, out.data() + got, max_bytes - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

}  // namespace ej::service::ingest
