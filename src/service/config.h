// ServiceConfig: what the service layer needs to know from the command line.
#pragma once

#include <cstdint>
#include <string>

namespace ej::service {

struct ServiceConfig {
  std::string data_dir = "./data";
  std::string worker_id;                            // unique per process; set at start
  int64_t max_upload_bytes = 1536LL * 1024 * 1024;  // 1.5 GiB per dataset (Cohere's limit)
  int64_t org_quota_bytes = 10LL * 1024 * 1024 * 1024;
  int64_t part_max_rows = 100000;  // rows per Avro part
  int64_t chunk_rows = 1000;       // rows a job commits at a time
  int64_t lease_ms = 30000;        // worker lease on a job / validation
  int job_workers = 1;             // concurrent job runners
  int max_attempts = 5;            // validation runs before a dataset is failed
  int64_t max_chunk_attempts = 3;  // tries at one job chunk before the job is failed
  // Datasets are deleted this long after creation (Cohere: 30 days); 0 keeps them forever. The
  // input of a job that is still running is kept until the job ends.
  int64_t dataset_ttl_s = 30LL * 24 * 3600;
};

}  // namespace ej::service
