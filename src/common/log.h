// Minimal structured logging to stderr: one line per event, thread-safe. Text lines by default
// ("TIME LEVEL message key=value ..."); with set_log_format(kJson) one JSON object per line
// ({"time", "level", "message", key: value ...}) for log shippers.
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

namespace ej {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };
using LogFields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void set_log_level(LogLevel level);
void set_log_format(LogFormat format);
void log(LogLevel level, std::string_view message, LogFields fields = {});
inline void log_info(std::string_view m, LogFields fields = {}) {
  log(LogLevel::kInfo, m, fields);
}
inline void log_warn(std::string_view m, LogFields fields = {}) {
  log(LogLevel::kWarn, m, fields);
}
inline void log_error(std::string_view m, LogFields fields = {}) {
  log(LogLevel::kError, m, fields);
}

}  // namespace ej
