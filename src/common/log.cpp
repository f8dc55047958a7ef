#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace ej {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};
std::mutex g_mu;
const char* name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

// key=value, the value quoted when it has spaces, quotes or '=' (so lines stay splittable).
void append_field(std::string* line, std::string_view key, std::string_view value) {
  *line += ' ';
  line->append(key);
  *line += '=';
  if (value.find_first_of(" \"=") == std::string_view::npos && !value.empty()) {
    line->append(value);
    return;
  }
  *line += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') *line += '\\';
    *line += c;
  }
  *line += '"';
}
}  // namespace

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}

void set_log_format(LogFormat format) {
  g_format = static_cast<int>(format);
}

void log(LogLevel level, std::string_view message, LogFields fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::string line;
  if (g_format.load() == static_cast<int>(LogFormat::kJson)) {
    nlohmann::ordered_json j = {{"time", format_rfc3339(now_us())},
                                {"level", name(level)},
                                {"message", std::string(message)}};
    for (const auto& [k, v] : fields) j[std::string(k)] = std::string(v);
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else {
    line = format_rfc3339(now_us()) + " " + name(level) + " " + std::string(message);
    for (const auto& [k, v] : fields) append_field(&line, k, v);
    line += "\n";
  }
  std::lock_guard<std::mutex> lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace ej
