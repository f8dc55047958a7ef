// `embedjobs batches create|list|get|cancel|download`: Cohere's Batches API (/v2/batches) from
// the command line, registered by register_client_commands. Main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>

#include "cli/client_util.h"

namespace ej::cli {

// `set(cmd, fn)` makes fn the action run when cmd was parsed.
void register_batch_commands(CLI::App& app, const std::shared_ptr<Common>& common,
                             const std::function<void(CLI::App*, std::function<int()>)>& set);

}  // namespace ej::cli
