#include "cli/suggest.h"

#include <algorithm>
#include <vector>

namespace ej::cli {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

namespace {

// Walks the leading non-option words down the subcommand tree; returns the deepest command and
// sets *next to the index of the first word that is not one of its subcommands.
CLI::App* walk(CLI::App& app, int argc, char** argv, int first, int* next) {
  CLI::App* cur = &app;
  int i = first;
  for (; i < argc; ++i) {
    std::string w = argv[i];
    if (w.empty() || w[0] == '-') break;
    CLI::App* sub = nullptr;
    for (CLI::App* s : cur->get_subcommands({})) {
      if (s->get_name() == w) sub = s;
    }
    if (!sub) break;
    cur = sub;
  }
  *next = i;
  return cur;
}

}  // namespace

std::optional<std::string> unknown_subcommand_message(CLI::App& app, int argc, char** argv) {
  int next = 0;
  CLI::App* cmd = walk(app, argc, argv, 1, &next);
  std::vector<CLI::App*> subs = cmd->get_subcommands({});
  if (subs.empty() || next >= argc || argv[next][0] == '-') return std::nullopt;
  std::string word = argv[next];
  std::string best;
  size_t best_d = 3;  // suggest only close words
  std::string names;
  for (CLI::App* s : subs) {
    names += (names.empty() ? "" : ", ") + s->get_name();
    size_t d = edit_distance(word, s->get_name());
    if (d < best_d) {
      best_d = d;
      best = s->get_name();
    }
  }
  std::string where = cmd == &app ? "embedjobs" : "embedjobs " + cmd->get_name();
  std::string msg = "unknown command '" + word + "' for '" + where + "'";
  if (!best.empty()) msg += "; did you mean '" + best + "'?";
  msg += "\ncommands: " + names + "\nRun '" + where + " --help' for more.";
  return msg;
}

std::optional<std::string> help_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "help") return std::nullopt;
  int next = 0;
  CLI::App* cmd = walk(app, argc, argv, 2, &next);
  if (next < argc) {
    if (auto msg = unknown_subcommand_message(app, argc - 1, argv + 1)) return *msg;
  }
  return cmd->help();
}

}  // namespace ej::cli
