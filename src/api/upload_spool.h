// spool_upload: streams a multipart/form-data upload to disk: the one file part goes to a path
// (counted against a byte limit), the other parts are small form fields kept in memory. Shared
// by the upload routes (POST /v1/datasets, POST /v1/files); each route says which part names
// carry the file and which other parts it refuses. A write that fails because the data dir's
// disk is full or read-only throws StorageFull (the route answers 507). Worker threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/router.h"

namespace ej::api {

// A write to the data dir failed for lack of space (or a read-only disk): the client may retry
// once space is freed. `message` is what the client sees.
struct StorageFull {
  std::string message;
};

// Throws StorageFull for a storage problem (service::storage_problem's wording).
[[noreturn]] void throw_storage_full(const char* problem);

struct UploadRules {
  std::vector<std::string> file_parts;  // the names a file part may have ("data", "file")
  // Why a part that is not a file part is refused; nullopt keeps it as a form field.
  std::function<std::optional<std::string>(const std::string& part_name)> refuse_part;
  std::string one_file_only;  // the error for a second file part
  std::string too_large;      // the error's subject when the file is over max_bytes
  int64_t max_bytes = 0;
};

struct UploadForm {
  std::map<std::string, std::string> fields;  // form fields by name (at most 64 KiB each)
  std::string filename;                       // the file part's filename (as sent)
  bool got_file = false;
  int64_t file_bytes = 0;
};

// Spools the request's multipart body (the caller checked it is multipart/form-data): the file to
// `path` (left there, flushed, for the caller to own; removed when this throws). Throws ej::Error
// (400 for a body that breaks the rules, 413 over max_bytes, kClientClosed when the upload did not
// finish) or StorageFull.
UploadForm spool_upload(const ContentReader& reader, const std::string& path,
                        const UploadRules& rules);

}  // namespace ej::api
