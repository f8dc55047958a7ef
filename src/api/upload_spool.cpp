#include "api/upload_spool.h"

#include <cerrno>
#include <cstdio>
#include <memory>

#include "common/error.h"
#include "service/storage_error.h"

namespace ej::api {

namespace {
constexpr size_t kMaxFormField = 64 * 1024;
}  // namespace

void throw_storage_full(const char* problem) {
  throw StorageFull{service::storage_message(problem, "storing the upload (it was not stored)")};
}

UploadForm spool_upload(const ContentReader& reader, const std::string& path,
                        const UploadRules& rules) {
  using service::storage_problem;
  UploadForm form;
  std::unique_ptr<FILE, int (*)(FILE*)> file(nullptr, &std::fclose);
  std::string current;
  bool in_file = false;
  std::optional<Error> failure;
  struct Remove {
    std::string p;
    bool keep = false;
    ~Remove() {
      if (!keep) std::remove(p.c_str());
    }
  } remove_guard{path};
  auto is_file_part = [&](const std::string& name) {
    for (const auto& f : rules.file_parts) {
      if (name == f) return true;
    }
    return false;
  };

  bool ok = reader(
      [&](const MultipartPart& part) {
        current = part.name;
        in_file = is_file_part(part.name);
        if (in_file) {
          if (form.got_file) {
            failure = Error(ErrorCode::kInvalidArgument, rules.one_file_only);
            return false;
          }
          form.got_file = true;
          form.filename = part.filename;
          file.reset(std::fopen(path.c_str(), "wb"));
          if (!file) {
            if (const char* p = storage_problem(errno)) throw_storage_full(p);
            failure = Error(ErrorCode::kInternal, "cannot store the upload");
            return false;
          }
        } else if (std::optional<std::string> why = rules.refuse_part(part.name)) {
          failure = Error(ErrorCode::kInvalidArgument, *why);
          return false;
        } else {
          form.fields[part.name].clear();
        }
        return true;
      },
      [&](const char* data, size_t len) {
        if (in_file) {
          form.file_bytes += static_cast<int64_t>(len);
          if (form.file_bytes > rules.max_bytes) {
            failure =
                Error(ErrorCode::kPayloadTooLarge, rules.too_large + ": the limit is " +
                                                       std::to_string(rules.max_bytes) + " bytes");
            return false;
          }
          if (std::fwrite(data, 1, len, file.get()) != len) {
            if (const char* p = storage_problem(errno)) throw_storage_full(p);
            failure = Error(ErrorCode::kInternal, "cannot store the upload (disk full?)");
            return false;
          }
        } else {
          std::string& v = form.fields[current];
          if (v.size() + len > kMaxFormField) {
            failure = Error(ErrorCode::kInvalidArgument, "form field '" + current + "' too long");
            return false;
          }
          v.append(data, len);
        }
        return true;
      });
  if (failure) throw *failure;
  if (!ok) throw Error(ErrorCode::kClientClosed, "request cancelled: the upload did not finish");
  if (file && std::fflush(file.get()) != 0) {
    if (const char* p = storage_problem(errno)) throw_storage_full(p);
    throw Error(ErrorCode::kInternal, "cannot store the upload");
  }
  file.reset();
  remove_guard.keep = form.got_file;
  return form;
}

}  // namespace ej::api
