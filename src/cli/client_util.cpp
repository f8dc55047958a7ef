#include "cli/client_util.h"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <iostream>

#include "cli/download_formats.h"
#include "cli/exit_codes.h"

namespace ej::cli {

namespace fs = std::filesystem;
using nlohmann::json;

void add_common(CLI::App* cmd, Common& c) {
  cmd->add_option("--url", c.url, "Server base URL")->envname("CO_API_URL")->capture_default_str();
  cmd->add_option("--api-key", c.api_key, "API key (sent as Bearer)")->envname("CO_API_KEY");
  cmd->add_flag("--json", c.json, "Print the server's JSON instead of a summary (for scripts)");
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

void print_json(const json& j) {
  std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) {
      std::cout << r[i];
      if (i + 1 < r.size()) std::cout << std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
}

int download_dataset(ApiClient& api, const std::string& id, std::string out,
                     const std::string& format_name, bool as_json) {
  DownloadFormat format = parse_download_format(format_name);
  json d = api.get("/v1/datasets/" + url_encode(id))["dataset"];
  if (str(d, "validation_status") != "validated") {
    throw ClientError(kExitRefused, 0,
                      "dataset " + id + " is " + str(d, "validation_status") +
                          ", not validated: nothing to download");
  }
  if (out.empty()) out = (str(d, "name").empty() ? id : str(d, "name")) + "." + format_name;
  fs::path tmp =
      fs::temp_directory_path() / ("embedjobs-download-" + std::to_string(getpid()) + "-" + id);
  fs::create_directories(tmp);
  std::vector<std::string> parts;
  int64_t bytes = 0;
  try {
    for (const json& part : d.value("dataset_parts", json::array())) {
      std::string path = (tmp / ("part-" + std::to_string(parts.size()) + ".avro")).string();
      bytes += api.download(str(part, "url"), path);
      parts.push_back(path);
    }
    int64_t rows = write_download(parts, format, out);
    fs::remove_all(tmp);
    if (as_json) {
      print_json({{"dataset_id", id},
                  {"file", out},
                  {"format", format_name},
                  {"rows", rows},
                  {"downloaded_bytes", bytes}});
    } else {
      std::cerr << "wrote " << rows << " rows to " << out << " (" << format_name << ")\n";
    }
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  return kExitOk;
}

}  // namespace ej::cli
