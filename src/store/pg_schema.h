// The PostgreSQL store's schema as numbered migrations, and what applies them (at every start,
// and `embedjobs migrate`). The version in place is the highest row of schema_migrations; a
// migration is never edited once released: a change is a new one at the end of the list.
// Also the SQL expressions of the database's clock, which every lease and store-written
// timestamp of the PostgreSQL store uses (not the local clock of whichever machine asks).
// Stateless; migrate() takes the connection it is given (one thread's).
#pragma once

#include <cstdint>
#include <vector>

#include "store/pg_connection.h"

namespace ej::store::pg {

// The database's clock, in SQL: clock_timestamp() (the time when it is evaluated, not the
// transaction's start) as ms / us since the Unix epoch.
inline constexpr const char* kNowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
inline constexpr const char* kNowUs = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

struct Migration {
  int64_t version;
  const char* name;
  const char* sql;
};

// Every migration, oldest first (versions 1, 2, ...).
const std::vector<Migration>& migrations();

struct SchemaVersions {
  int64_t before = 0;  // 0: an empty database
  int64_t after = 0;
};

// Applies the migrations the database lacks, in one transaction under an advisory lock (two
// processes starting at once: one migrates, the other then finds nothing to do). Throws
// ej::Error(kInternal) when the database is at a version this build does not know (a newer
// embedjobs migrated it).
SchemaVersions migrate(Connection& c);

}  // namespace ej::store::pg
