// Idempotency-Key records for creates: the service side of api/idempotency.h (which is what a
// route uses). A record is kept per (owner, key) in the store's idempotency_keys table for
// kIdempotencyTtlMs after its first use; while the first request runs it is "in flight" under a
// random holder id for at most kIdempotencyInFlightMs (a holder that died releases it then).
// Stateless; thread-safe (the store is).
#pragma once

#include <cstdint>
#include <string>

#include "service/services.h"

namespace ej::service {

constexpr int64_t kIdempotencyTtlMs = 24LL * 3600 * 1000;     // replays answered for 24 h
constexpr int64_t kIdempotencyInFlightMs = 10LL * 60 * 1000;  // a create never takes longer

struct IdempotencyBegin {
  enum class State { kStarted, kInFlight, kMismatch, kDone };
  State state = State::kStarted;
  std::string holder;  // kStarted: pass to finish / abandon
  int status = 0;      // kDone: the kept response
  std::string body;
};

// Looks up (owner, key) for a request whose method, path, query and body hash to
// `request_hash`; kStarted means "run it now, then call finish or abandon".
IdempotencyBegin begin_idempotent(Services& services, const std::string& owner,
                                  const std::string& key, const std::string& request_hash);
// Keeps the response of the request begun as `holder` for replays.
void finish_idempotent(Services& services, const std::string& owner, const std::string& key,
                       const std::string& holder, int status, const std::string& body);
// The request made no side effect (it failed): forget the key, so a retry runs again.
void abandon_idempotent(Services& services, const std::string& owner, const std::string& key,
                        const std::string& holder);

}  // namespace ej::service
