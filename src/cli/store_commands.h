// Which store a server command opens (--store / EMBEDJOBS_STORE: sqlite:PATH or
// postgres://...; default the SQLite file in the data dir) and `embedjobs migrate`, which
// brings that store's schema to this version and exits. Main thread only.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace ej::cli {

// Adds --store (with env EMBEDJOBS_STORE) to `cmd`, read into `*url` ("" = the default).
CLI::Option* add_store_option(CLI::App* cmd, std::string* url);

// Adds `migrate` to `app`. The returned function runs it when it was the parsed command and
// returns its exit code (cli/exit_codes.h), or -1 when another command was given.
std::function<int()> register_migrate_command(CLI::App& app);

}  // namespace ej::cli
