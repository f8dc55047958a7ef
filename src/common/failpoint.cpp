#include "common/failpoint.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

#include "common/error.h"

namespace ej {

namespace {
const std::map<std::string, std::string, std::less<>>& actions() {
  static const std::map<std::string, std::string, std::less<>> table = [] {
    std::map<std::string, std::string, std::less<>> t;
    const char* env = std::getenv("EMBEDJOBS_FAILPOINTS");
    if (!env) return t;
    std::string s(env);
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t end = s.find(',', pos);
      if (end == std::string::npos) end = s.size();
      std::string item = s.substr(pos, end - pos);
      size_t eq = item.find('=');
      if (eq != std::string::npos) t[item.substr(0, eq)] = item.substr(eq + 1);
      pos = end + 1;
    }
    return t;
  }();
  return table;
}
}  // namespace

void failpoint(std::string_view name) {
  const auto& t = actions();
  if (t.empty()) return;
  auto it = t.find(name);
  if (it == t.end()) return;
  const std::string& a = it->second;
  if (a == "crash") {
    _exit(137);
  } else if (a.rfind("sleep:", 0) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(a.c_str() + 6)));
  } else if (a == "error") {
    throw Error(ErrorCode::kInternal, "failpoint " + std::string(name));
  }
}

}  // namespace ej
