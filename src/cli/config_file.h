// `embedjobs serve --config FILE`: options from a TOML file (keys are the long flag names without
// the dashes; a [serve] section is optional). Applied after the command line was parsed, only to
// options that neither the command line nor the environment set: flags > environment > file.
// Main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace ej::cli {

// Throws std::runtime_error naming the file and the key for an unknown key or a bad value.
void apply_config_file(CLI::App* command, const std::string& path);

}  // namespace ej::cli
