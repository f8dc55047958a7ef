// TimedStore: a Store that forwards every call to another Store and counts, per method, the
// calls and the microseconds they took (wall time, including waiting for a lock or a network
// round trip) in a CallTimings. What the coordination of a job costs: /metrics reports it as
// embedjobs_store_calls_total / embedjobs_store_seconds_total{op}, a worker logs it when it
// stops, and bench/cluster_bench.sh divides it by the chunks committed. Thread-safe as the
// wrapped store is.
#pragma once

#include <memory>

#include "common/call_timings.h"
#include "store/store.h"

namespace ej::store {

// Wraps `inner`; `timings` must outlive the returned store.
std::unique_ptr<Store> make_timed_store(std::unique_ptr<Store> inner, CallTimings* timings);

}  // namespace ej::store
