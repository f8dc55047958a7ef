#include "common/call_timings.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace ej {

void CallTimings::add(const char* op, int64_t us) {
  std::lock_guard<std::mutex> lock(mu_);
  CallStats& s = by_op_[op];
  ++s.calls;
  s.total_us += us;
}

std::map<std::string, CallStats> CallTimings::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_op_;
}

std::string CallTimings::summary() const {
  auto ops = snapshot();
  std::vector<std::pair<std::string, CallStats>> sorted(ops.begin(), ops.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second.total_us > b.second.total_us; });
  std::string out;
  for (const auto& [op, s] : sorted) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s%s %lld calls %.1f ms", out.empty() ? "" : ", ", op.c_str(),
                  static_cast<long long>(s.calls), static_cast<double>(s.total_us) / 1000.0);
    out += buf;
  }
  return out.empty() ? "no store calls" : out;
}

}  // namespace ej
