#include "cli/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace ej::cli {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

Progress::Progress(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1) {}

void Progress::update(const std::string& label, int64_t done, int64_t total, double rows_per_s,
                      double eta_s) {
  if (quiet_) return;
  double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  if (rows_per_s < 0) rows_per_s = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  if (eta_s < 0 && rows_per_s > 0 && total >= done) {
    eta_s = static_cast<double>(total - done) / rows_per_s;
  }
  double fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0;
  char line[256];
  if (tty_) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::snprintf(line, sizeof line,
                  "\r%-10s [%s] %5.1f%% %lld/%lld rows  %.0f rows/s  ETA %s\x1b[K", label.c_str(),
                  bar.c_str(), 100 * fraction, static_cast<long long>(done),
                  static_cast<long long>(total), rows_per_s, format_duration(eta_s).c_str());
    std::fputs(line, stderr);
    drawn_ = true;
  } else {
    auto now = Clock::now();
    if (label == last_label_ && now - last_plain_ < std::chrono::seconds(5)) return;
    last_plain_ = now;
    last_label_ = label;
    std::snprintf(line, sizeof line, "%s: %lld/%lld rows (%.1f%%), %.0f rows/s, ETA %s\n",
                  label.c_str(), static_cast<long long>(done), static_cast<long long>(total),
                  100 * fraction, rows_per_s, format_duration(eta_s).c_str());
    std::fputs(line, stderr);
  }
  std::fflush(stderr);
}

void Progress::note(const std::string& label) {
  if (quiet_ || label == last_label_) return;
  last_label_ = label;
  if (tty_) {
    std::fprintf(stderr, "\r%s\x1b[K", label.c_str());
    drawn_ = true;
  } else {
    std::fprintf(stderr, "%s\n", label.c_str());
  }
  std::fflush(stderr);
}

void Progress::finish(const std::string& final_line) {
  if (quiet_) return;
  if (drawn_) std::fputs("\r\x1b[K", stderr);
  std::fprintf(stderr, "%s\n", final_line.c_str());
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace ej::cli
