#include "cli/text_field.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/api_client.h"
#include "cli/download_formats.h"
#include "cli/exit_codes.h"

namespace ej::cli {

namespace fs = std::filesystem;

// Rewrites a JSONL or CSV file into `out` with column `field` renamed to `text`.
void rename_text_field(const std::string& in_path, const std::string& field,
                       const std::string& out_path) {
  std::ifstream in(in_path, std::ios::binary);
  if (!in) throw ClientError(kExitError, 0, "cannot read " + in_path);
  std::ofstream out(out_path, std::ios::binary);
  std::string ext = fs::path(in_path).extension().string();
  std::string line;
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") {
    int64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) {
        out << line << "\n";
        continue;
      }
      nlohmann::ordered_json row;
      try {
        row = nlohmann::ordered_json::parse(line);
      } catch (const nlohmann::json::exception&) {
        throw ClientError(kExitError, 0, in_path + " line " + std::to_string(n) + " is not JSON");
      }
      if (!row.is_object() || !row.contains(field)) {
        throw ClientError(kExitError, 0,
                          in_path + " line " + std::to_string(n) + " has no field '" + field +
                              "' (--text-field)");
      }
      nlohmann::ordered_json renamed = nlohmann::ordered_json::object();
      for (auto it = row.begin(); it != row.end(); ++it) {
        if (it.key() == "text" && field != "text") continue;  // the named field replaces it
        renamed[it.key() == field ? std::string("text") : it.key()] = it.value();
      }
      out << renamed.dump() << "\n";
    }
  } else if (ext == ".csv") {
    // Only the header changes; the header cells are split with CSV quoting.
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (size_t i = 0; i <= line.size(); ++i) {
      char c = i < line.size() ? line[i] : ',';
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          cell += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          cell += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += c;
      }
    }
    bool found = false;
    for (auto& c : cells) {
      if (c == field) {
        c = "text";
        found = true;
      } else if (c == "text") {
        c = "text_original";
      }
    }
    if (!found) throw ClientError(kExitError, 0, in_path + " has no column '" + field + "'");
    for (size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << csv_cell(cells[i], false);
    out << "\n" << in.rdbuf();
  } else {
    throw ClientError(kExitUsage, 0,
                      "--text-field applies to .csv and .jsonl files, not '" + in_path + "'");
  }
  if (!out) throw ClientError(kExitError, 0, "cannot write " + out_path);
}

}  // namespace ej::cli
