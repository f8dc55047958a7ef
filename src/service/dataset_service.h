// DatasetService: datasets. Create stores the upload and queues it; a background validator
// thread claims queued datasets (under a lease, so a crash mid-validation is retried), parses
// and validates them into Avro parts and marks them validated or failed. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/resources.h"
#include "service/services.h"

namespace ej::service {

struct CreateDatasetRequest {
  std::string name;
  std::string type;
  std::string filename;  // as the client sent it (may be empty; create() keeps its last path part)
  std::vector<std::string> keep_fields;
  std::vector<std::string> optional_fields;
  bool skip_malformed_input = false;
  bool keep_original_file = false;
  std::optional<std::string> csv_delimiter;
  std::optional<std::string> text_separator;
};

class DatasetService {
 public:
  explicit DatasetService(Services* services);
  ~DatasetService();

  // A fresh path under the data dir where the API layer streams an upload.
  std::string new_upload_path();
  // Validates the request synchronously (400s), then moves `upload_path` into place and
  // queues the dataset. Removes `upload_path` on failure.
  Dataset create(const std::string& owner, const CreateDatasetRequest& request,
                 const std::string& upload_path);
  // 404 unless the dataset exists and belongs to `owner`.
  Dataset get(const std::string& owner, const std::string& id);
  std::vector<Dataset> list(const std::string& owner, const DatasetFilter& f);
  // Deletes the dataset (404 unless `owner`'s). A dataset that an unfinished job (processing,
  // cancelling) reads is not deleted: returns that job's id (the API answers 409) and, when
  // `job_kind` is given, its JobRecord::kind ("embed", "batch"); "" when deleted.
  std::string remove(const std::string& owner, const std::string& id,
                     std::string* job_kind = nullptr);
  int64_t usage(const std::string& owner);
  // The file behind a part download link ("0", "1", ... or "original"), for any owner: the
  // caller has checked the link's signature. 404 when the dataset is not validated or has no
  // such part.
  DownloadFile download_file(const std::string& id, const std::string& part);

  // Retention: deletes (rows, parts, kept originals together) the datasets older than
  // config.dataset_ttl_s at `now_us`, never the input of an unfinished job. Returns how many.
  // The validator thread calls it about once a minute.
  int delete_expired(int64_t now_us);

  void start_validator();
  void stop_validator();
  // Claims and validates one queued dataset; false when none was waiting. (Used by tests.)
  bool validate_one(const std::string& worker);

 private:
  void validator_loop();
  void delete_files_and_row(const std::string& id);

  Services* services_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  std::thread validator_;
};

}  // namespace ej::service
