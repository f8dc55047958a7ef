// CallTimings: how many calls of each named operation were made and the microseconds they took
// (wall time). Filled by store/timed_store.h for every Store method; read by /metrics and by a
// worker's stop log. Thread-safe (one mutex around a small map).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace ej {

struct CallStats {
  int64_t calls = 0;
  int64_t total_us = 0;
};

class CallTimings {
 public:
  void add(const char* op, int64_t us);
  std::map<std::string, CallStats> snapshot() const;  // by operation name
  // "claim_job 12 calls 3.1 ms, commit_chunk ...": every operation so far, most time first.
  std::string summary() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, CallStats> by_op_;
};

}  // namespace ej
