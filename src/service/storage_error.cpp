#include "service/storage_error.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>

namespace ej::service {

const char* storage_problem(int err) {
  if (err == ENOSPC || err == EDQUOT) return "the server's disk is full";
  if (err == EROFS) return "the server's storage is read-only";
  return nullptr;
}

const char* storage_problem(std::string_view what) {
  for (const char* s : {"No space left", "disk is full", "Disk quota exceeded"}) {
    if (what.find(s) != std::string_view::npos) return "the server's disk is full";
  }
  for (const char* s : {"Read-only file system", "readonly database"}) {
    if (what.find(s) != std::string_view::npos) return "the server's storage is read-only";
  }
  return nullptr;
}

const char* storage_problem(std::string_view what, const std::string& dir) {
  if (const char* p = storage_problem(what)) return p;
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return nullptr;
  if (st.f_flag & ST_RDONLY) return "the server's storage is read-only";
  if (static_cast<uint64_t>(st.f_bavail) * st.f_frsize < (1u << 20)) {
    return "the server's disk is full";
  }
  return nullptr;
}

std::string storage_message(const char* problem, const std::string& doing) {
  return std::string("insufficient storage: ") + problem + " while " + doing +
         "; retry once space is freed";
}

}  // namespace ej::service
