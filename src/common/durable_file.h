// Durable file writes: the ONE way this program writes a file that must survive a crash.
//
// The rule: a file is written under a temporary name beside its destination (created with its
// final permissions from the first byte, O_EXCL, never world-readable by accident), flushed and
// fsync-ed, renamed over the destination, and then the directory is fsync-ed. A reader sees either
// the old file or the whole new one; once commit() returns, a crash or power loss cannot lose it
// or leave half of it. A writer that is destroyed without commit() removes its temporary file.
//
// Thread-safety: a DurableFile is used by one thread at a time; the free functions are
// thread-safe (temporary names are unique per process and call).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ej {

class DurableFile {
 public:
  // Opens a fresh temporary file beside `path` with permissions `mode`. Creates missing parent
  // directories. Throws ej::Error(kInternal) when the file cannot be created.
  explicit DurableFile(std::string path, mode_t mode = 0644);
  ~DurableFile();  // without commit(): removes the temporary file
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  // The open stream of the temporary file (for writers that take a FILE*, such as libavro).
  FILE* stream() const { return fp_; }
  const std::string& path() const { return path_; }
  const std::string& tmp_path() const { return tmp_path_; }

  // Appends bytes; throws ej::Error(kInternal) on a write error (disk full, I/O error).
  void write(const void* data, size_t size);
  void write(std::string_view data) { write(data.data(), data.size()); }

  // Flush, fsync, close, rename over path(), fsync the directory. Returns the file's size in
  // bytes. Throws ej::Error(kInternal) naming what failed (and removes the temporary file).
  uint64_t commit();
  // Closes and removes the temporary file; the destination is untouched. Idempotent.
  void abort();

 private:
  std::string path_;
  std::string tmp_path_;
  FILE* fp_ = nullptr;
  bool done_ = false;
};

// Writes `data` to `path` by the rule above.
void write_file_durably(const std::string& path, std::string_view data, mode_t mode = 0644);

// Moves an already written file into place by the rule above: fsyncs `from`, renames it to `to`
// (replacing it), fsyncs the directory of `to`. Both must be on one filesystem.
void rename_durably(const std::string& from, const std::string& to);

// fsyncs a directory, so that the names created or renamed in it are durable.
void fsync_directory(const std::string& dir);

// A temporary name for `path` that names this process ("<path>.tmp-<pid>-<n>"): what DurableFile
// writes to, and what remove_abandoned_temp_files removes once the process is gone.
std::string unique_tmp_path(const std::string& path);

// Removes, under `dir` (recursively), the temporary files of DurableFiles whose process is gone
// (a crash between create and commit). Files of live processes other than this one are kept, so
// processes sharing a data dir do not remove each other's work. Call at start-up, before this
// process writes anything. Returns how many were removed.
int remove_abandoned_temp_files(const std::string& dir);

}  // namespace ej
