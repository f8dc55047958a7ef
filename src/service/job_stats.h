// JobStats: what this process's job workers have done since it started, for GET /metrics.
// Counters only grow; `running` is how many chunks (or jobs' final steps) the workers hold right
// now. Written by the job worker threads (JobService), read by the metrics handler thread: every
// field is an atomic.
#pragma once

#include <atomic>
#include <cstdint>

namespace ej::service {

struct JobStats {
  std::atomic<int64_t> running{0};           // chunks / final steps this process's workers hold
  std::atomic<int64_t> chunks_committed{0};  // chunks written and committed
  std::atomic<int64_t> rows_committed{0};    // rows in those chunks (their rate is rows/s)
  std::atomic<int64_t> tokens_committed{0};  // input tokens in those chunks
  std::atomic<int64_t> chunk_failures{0};    // chunk attempts that threw (retried or fatal)
  std::atomic<int64_t> leases_lost{0};       // claims that found another worker held the work
  std::atomic<int64_t> jobs_complete{0};     // runs this process finished, by final status
  std::atomic<int64_t> jobs_cancelled{0};
  std::atomic<int64_t> jobs_failed{0};
};

}  // namespace ej::service
