// Idempotency-Key records in the SQLite store (table idempotency_keys): the SQL behind
// Store::begin_idempotent / finish_idempotent / abandon_idempotent (see store.h for the
// contract). Internal to the SQLite store; the caller serializes calls on `db` (its mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "store/store.h"

namespace ej::store::sqlite {

extern const char* kIdempotencySchema;  // CREATE TABLE / INDEX IF NOT EXISTS

IdempotencyClaim begin_idempotent(sqlite3* db, const std::string& owner, const std::string& key,
                                  const std::string& request_hash, const std::string& holder,
                                  int64_t in_flight_ms, int64_t ttl_ms);
void finish_idempotent(sqlite3* db, const std::string& owner, const std::string& key,
                       const std::string& holder, int status, const std::string& body);
void abandon_idempotent(sqlite3* db, const std::string& owner, const std::string& key,
                        const std::string& holder);

}  // namespace ej::store::sqlite
