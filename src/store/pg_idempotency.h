// Idempotency-Key records in the PostgreSQL store (table idempotency_keys, pg_schema.cpp): the
// SQL behind Store::begin_idempotent / finish_idempotent / abandon_idempotent (see store.h for
// the contract), on the database's clock. Internal to the PostgreSQL store; each call runs on
// the connection the calling thread borrowed.
#pragma once

#include <cstdint>
#include <string>

#include "store/pg_connection.h"
#include "store/store.h"

namespace ej::store::pg {

IdempotencyClaim begin_idempotent(Connection& c, const std::string& owner, const std::string& key,
                                  const std::string& request_hash, const std::string& holder,
                                  int64_t in_flight_ms, int64_t ttl_ms);
void finish_idempotent(Connection& c, const std::string& owner, const std::string& key,
                       const std::string& holder, int status, const std::string& body);
void abandon_idempotent(Connection& c, const std::string& owner, const std::string& key,
                        const std::string& holder);

}  // namespace ej::store::pg
