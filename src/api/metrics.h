// Metrics: what GET /metrics reports, in Prometheus' text format (version 0.0.4). Owns the
// request counters and latency histograms by route and status, filled by the HTTP sessions as
// each request ends; the scheduler and job figures are read from the services at scrape time.
// observe_request() is called from the I/O threads, render() from a handler thread; both are
// thread-safe (one mutex; a request costs a map lookup and a few additions).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "service/services.h"

namespace ej::api {

class Metrics {
 public:
  // route: the route as registered ("/v1/datasets/([^/]+)" is reported as
  // "/v1/datasets/{id}"), or "unmatched". duration_us: from the first byte to the response.
  void observe_request(const std::string& route, const std::string& method, int status,
                       int64_t duration_us);
  std::string render(service::Services& services) const;

  // Upper bounds (seconds) of the latency histogram buckets (+Inf is implied).
  static constexpr std::array<double, 14> kBucketsS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25,  0.5,    1,     2.5,  5,     10,   30};

 private:
  struct Latency {
    std::array<int64_t, kBucketsS.size()> buckets{};  // cumulative when rendered
    int64_t count = 0;
    double sum_s = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, int64_t> requests_;  // route, method, status
  std::map<std::pair<std::string, std::string>, Latency> latency_;         // route, method
};

// "/v1/datasets/([^/]+)" -> "/v1/datasets/{id}".
std::string readable_route(std::string pattern);

}  // namespace ej::api
