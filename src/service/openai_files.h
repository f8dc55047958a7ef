// OpenAiFiles: OpenAI's Files API (/v1/files) on the dataset machinery, on HTTP threads. An
// uploaded file (purpose "batch") is a dataset of type openai-batch-input created through
// DatasetService (its quota, retention, per-owner isolation and validator; the upload kept byte
// for byte), named "file", so its id is "file-<6 alnum>". A batch's output and error files are
// two views of the batch's output dataset (openai_batch_job_kind.h). Answers are OpenAI's File
// objects {id, object: "file", bytes, created_at, filename, purpose, status, status_details}
// (OpenAI's API reference is the contract, so this service speaks its JSON). Errors: ej::Error /
// OpenAiError (404 for another owner's file, as for one that does not exist). Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "service/services.h"

namespace ej::service {

// What GET /v1/files/{id}/content sends.
struct OpenAiFileContent {
  std::string key;       // the blob (service/blob_store.h)
  std::string filename;  // for Content-Disposition
};

struct OpenAiFileRef;  // openai_file_ref.h (the service layer's; it speaks of store rows)

struct ListFilesRequest {
  std::string purpose;  // "" = any
  std::string after;    // a file id: the files after it in this order
  int64_t limit = 10000;
  bool ascending = false;  // order=asc (else newest first)
};

class OpenAiFiles {
 public:
  explicit OpenAiFiles(Services* services) : services_(services) {}

  // Where the API layer streams an upload (DatasetService's spool).
  std::string new_upload_path();
  // Stores the upload at `upload_path` (removed on failure) as a batch input file; 400 for a
  // purpose other than "batch" (param purpose) and for an empty file.
  nlohmann::json create(const std::string& owner, const std::string& purpose,
                        const std::string& filename, const std::string& upload_path);
  nlohmann::json get(const std::string& owner, const std::string& file_id);
  // {"object": "list", "data", "first_id", "last_id", "has_more"}
  nlohmann::json list(const std::string& owner, const ListFilesRequest& request);
  OpenAiFileContent content(const std::string& owner, const std::string& file_id);
  // {"id", "object": "file", "deleted": true}. Deleting a batch's output or error file deletes
  // the output dataset behind both. 400 while a running batch reads the file.
  nlohmann::json remove(const std::string& owner, const std::string& file_id);

  // The caller's file `file_id`; 404 otherwise.
  OpenAiFileRef resolve(const std::string& owner, const std::string& file_id);
  // The File object of a view.
  static nlohmann::json file_json(const OpenAiFileRef& ref);

 private:
  Services* services_;
};

}  // namespace ej::service
