// Shared pieces of the client commands (cli/client_commands.cpp, cli/client_batches.cpp): the
// connection options every command takes, printing (JSON, tables), URL encoding, and downloading
// a dataset's parts into a file of the chosen format. Main thread.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/api_client.h"

namespace ej::cli {

// --url / --api-key (or CO_API_URL / CO_API_KEY) and --json, shared by every client command.
struct Common {
  std::string url = "http://127.0.0.1:8911";
  std::string api_key;
  bool json = false;
};
void add_common(CLI::App* cmd, Common& c);

std::string url_encode(const std::string& s);
void print_json(const nlohmann::json& j);
// j[key] as text ("" when absent or null; non-strings as their JSON).
std::string str(const nlohmann::json& j, const char* key);
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// Downloads every part of dataset `id` and writes `out` (default <name>.<format>) in
// `format_name` (jsonl, csv, npy, avro). Returns the exit code.
int download_dataset(ApiClient& api, const std::string& id, std::string out,
                     const std::string& format_name, bool as_json);

}  // namespace ej::cli
