// Recognising a full or read-only data dir in an error, so that what a client reads is
// "insufficient storage" (HTTP 507, a failure_reason, a validation_error) rather than an internal
// error: an upload that hits ENOSPC, a part or chunk write that fails, SQLite's "database or disk
// is full". Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

namespace ej::service {

// "the server's disk is full" / "the server's storage is read-only" for ENOSPC, EDQUOT, EROFS;
// nullptr for any other errno.
const char* storage_problem(int err);
// The same, recognised in an error's text (strerror wording, SQLite's messages); nullptr if none.
const char* storage_problem(std::string_view what);
// The same for an error met while writing under `dir`: its text, else the state of the file
// system now (read-only, or under 1 MiB free), for writers whose errors do not say why (Avro).
const char* storage_problem(std::string_view what, const std::string& dir);

// "insufficient storage: <problem> while <doing>; retry once space is freed" -- what a client is
// told.
std::string storage_message(const char* problem, const std::string& doing);

}  // namespace ej::service
