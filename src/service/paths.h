// Where things live under the data dir:
//   embedjobs.db                      the SQLite database
//   url_signing.key, api_keys.secret  written by older versions only: their content seeds the
//                                     secrets in the store (service/shared_secret.h)
//   cache.sqlite                      the embedding cache (--cache-mb; safe to delete when stopped)
//   uploads/<dataset id>.upload       an uploaded file waiting for validation (or kept original)
//   datasets/<dataset id>/part-N.avro the Avro parts of a dataset
//   jobs/<job id>/chunk-N.avro        a job's committed output chunks, until the job finishes
#pragma once

#include <string>

namespace ej::service {

inline std::string upload_path(const std::string& data_dir, const std::string& dataset_id) {
  return data_dir + "/uploads/" + dataset_id + ".upload";
}
inline std::string dataset_dir(const std::string& data_dir, const std::string& dataset_id) {
  return data_dir + "/datasets/" + dataset_id;
}
inline std::string job_dir(const std::string& data_dir, const std::string& job_id) {
  return data_dir + "/jobs/" + job_id;
}

}  // namespace ej::service
