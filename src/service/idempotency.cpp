#include "service/idempotency.h"

#include "common/ids.h"
#include "store/store.h"

namespace ej::service {

IdempotencyBegin begin_idempotent(Services& services, const std::string& owner,
                                  const std::string& key, const std::string& request_hash) {
  IdempotencyBegin out;
  out.holder = services.config.worker_id + "/" + random_alnum(12);
  store::IdempotencyClaim claim = services.store->begin_idempotent(
      owner, key, request_hash, out.holder, kIdempotencyInFlightMs, kIdempotencyTtlMs);
  using S = store::IdempotencyClaim::State;
  switch (claim.state) {
    case S::kStarted:
      out.state = IdempotencyBegin::State::kStarted;
      break;
    case S::kInFlight:
      out.state = IdempotencyBegin::State::kInFlight;
      break;
    case S::kMismatch:
      out.state = IdempotencyBegin::State::kMismatch;
      break;
    case S::kDone:
      out.state = IdempotencyBegin::State::kDone;
      out.status = claim.status;
      out.body = std::move(claim.body);
      break;
  }
  return out;
}

void finish_idempotent(Services& services, const std::string& owner, const std::string& key,
                       const std::string& holder, int status, const std::string& body) {
  services.store->finish_idempotent(owner, key, holder, status, body);
}

void abandon_idempotent(Services& services, const std::string& owner, const std::string& key,
                        const std::string& holder) {
  services.store->abandon_idempotent(owner, key, holder);
}

}  // namespace ej::service
