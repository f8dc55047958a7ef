// The command line client: `embedjobs datasets ...`, `embedjobs jobs ...`, `embedjobs embed`,
// talking to a server over HTTP (cli/api_client.h) with --url / --api-key or the Cohere SDKs'
// CO_API_URL / CO_API_KEY. Registers its subcommands on the app; after parsing, run_client()
// runs the one that was chosen. Main thread only.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace ej::cli {

// Adds the client subcommands to `app`. The returned function runs the parsed one and returns
// its exit code (cli/exit_codes.h), or -1 when no client command was given.
std::function<int()> register_client_commands(CLI::App& app);

}  // namespace ej::cli
