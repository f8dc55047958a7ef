#include "common/failpoint.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/error.h"

namespace ej {

namespace {
struct Action {
  std::string what;    // crash | sleep:MS | error
  int64_t limit = -1;  // act on the first `limit` hits; -1: every hit
  std::atomic<int64_t> hits{0};
};

using Table = std::map<std::string, std::unique_ptr<Action>, std::less<>>;

const Table& actions() {
  static const Table table = [] {
    Table t;
    const char* env = std::getenv("EMBEDJOBS_FAILPOINTS");
    if (!env) return t;
    std::string s(env);
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t end = s.find(',', pos);
      if (end == std::string::npos) end = s.size();
      std::string item = s.substr(pos, end - pos);
      size_t eq = item.find('=');
      if (eq != std::string::npos) {
        auto a = std::make_unique<Action>();
        a->what = item.substr(eq + 1);
        size_t star = a->what.find('*');
        if (star != std::string::npos && star > 0) {
          a->limit = std::atol(a->what.substr(0, star).c_str());
          a->what = a->what.substr(star + 1);
        }
        t[item.substr(0, eq)] = std::move(a);
      }
      pos = end + 1;
    }
    return t;
  }();
  return table;
}
}  // namespace

bool failpoints_enabled() {
  return !actions().empty();
}

void failpoint(std::string_view name) {
  const auto& t = actions();
  if (t.empty()) return;
  auto it = t.find(name);
  if (it == t.end()) return;
  Action& a = *it->second;
  if (a.limit >= 0 && a.hits.fetch_add(1) >= a.limit) return;
  if (a.what == "crash") {
    _exit(137);
  } else if (a.what.rfind("sleep:", 0) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(a.what.c_str() + 6)));
  } else if (a.what == "error") {
    throw Error(ErrorCode::kInternal, "failpoint " + std::string(name));
  }
}

}  // namespace ej
