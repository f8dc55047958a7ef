// Where things live. Under the data dir:
//   embedjobs.db                      the SQLite database
//   cache.sqlite                      the embedding cache (--cache-mb; safe to delete when stopped)
//   uploads/incoming-*                uploads being received (named after their process)
//   http-spool/                       request bodies being received
//   url_signing.key, api_keys.secret  written by older versions only: their content seeds the
//                                     secrets in the store (service/shared_secret.h)
// Blob keys (service/blob_store.h; with the filesystem blob store, files under the data dir):
//   uploads/<dataset id>.upload       an uploaded file waiting for validation (or kept original)
//   datasets/<dataset id>/part-N.avro the Avro parts of a dataset
//   jobs/<job id>/chunk-K-gG.avro     a job's committed output chunks, until the job finishes
#pragma once

#include <cstdint>
#include <string>

namespace ej::service {

inline std::string upload_key(const std::string& dataset_id) {
  return "uploads/" + dataset_id + ".upload";
}
// The prefix of a dataset's parts (BlobStore::remove_prefix).
inline std::string dataset_key(const std::string& dataset_id) {
  return "datasets/" + dataset_id;
}
// The prefix of a job's chunks.
inline std::string job_key(const std::string& job_id) {
  return "jobs/" + job_id;
}
// Chunk K of a job as written under lease generation G: a stalled worker that wakes up after
// another took the job over writes its own blob, never the one the new owner committed.
inline std::string chunk_key(const std::string& job_id, int64_t chunk_index, int64_t generation) {
  return job_key(job_id) + "/chunk-" + std::to_string(chunk_index) + "-g" +
         std::to_string(generation) + ".avro";
}

}  // namespace ej::service
