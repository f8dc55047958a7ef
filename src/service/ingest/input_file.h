// InputFile: buffered, forward-only reading of an uploaded file (a buffer of up to 1 MiB over a raw
// fd): bytes, peeks and '\n'-terminated lines. read_head: the first bytes of a file, for sniffing.
// I/O errors throw ej::Error(kInternal) naming the path.
//
// Thread-safety: an InputFile is used by one thread (the row source that owns it); read_head is
// reentrant.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ej::service::ingest {

class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Skips a UTF-8 byte-order mark at the current position (call first).
  void skip_bom();

  // The next byte (0..255), consumed; -1 at end of file.
  int get() {
    if (pos_ == end_ && !fill(1)) return -1;
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  // The next byte (0..255), not consumed; -1 at end of file.
  int peek() {
    if (pos_ == end_ && !fill(1)) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }

  // Reads up to and excluding the next '\n' (appending to *line, after clearing it). Returns
  // false at end of file with nothing read. Sets *too_long (and stops appending, but still
  // consumes the line) when the line exceeds max_len.
  bool read_line(std::string* line, size_t max_len, bool* too_long);

 private:
  // Ensures at least `want` unread bytes if the file has them; false if none are left.
  bool fill(size_t want);

  std::string path_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  int fd_ = -1;
  bool eof_ = false;
};

// Up to `max_bytes` from the start of the file at `path` (fewer when the file is shorter).
std::string read_head(const std::string& path, size_t max_bytes);

}  // namespace ej::service::ingest
