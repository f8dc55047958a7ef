// Help for a mistyped command line: finds the deepest subcommand the words name and, when the
// next word names none of its subcommands, says so with the closest one ("did you mean"). Also
// `embedjobs help [COMMAND...]`. Main thread, before or after a failed parse.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace ej::cli {

// The message for an unknown subcommand in argv, or nullopt when every word is known.
std::optional<std::string> unknown_subcommand_message(CLI::App& app, int argc, char** argv);

// `help`, `help datasets`, `help datasets upload`: the help text of that command, or nullopt
// when argv does not start with `help`.
std::optional<std::string> help_command(CLI::App& app, int argc, char** argv);

// Levenshtein distance (for suggestions).
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace ej::cli
