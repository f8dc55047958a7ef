// Fuzz input helpers shared by the targets: the input as a file (the ingest row sources read a
// path) held in an in-memory file, and a byte reader that carves options off the input's front.
// One process, one thread (libFuzzer's).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ej::fuzz {

// A memfd rewritten with each input; path() names it for open().
class MemFile {
 public:
  MemFile() : fd_(memfd_create("fuzz-input", 0)) {
    if (fd_ < 0) std::abort();
  }
  const std::string& write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) std::abort();
    size_t off = 0;
    while (off < size) {
      ssize_t w = pwrite(fd_, data + off, size - off, static_cast<off_t>(off));
      if (w <= 0) std::abort();
      off += static_cast<size_t>(w);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_ = "/proc/self/fd/" + std::to_string(fd_);
};

// Takes option bytes from the front of the input; the rest is the payload.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t take(uint8_t fallback = 0) {
    if (size_ == 0) return fallback;
    --size_;
    return *data_++;
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view rest() const { return {reinterpret_cast<const char*>(data_), size_}; }

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace ej::fuzz
