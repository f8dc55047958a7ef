// Progress of long client work (a job's rows, a dataset's validation) on stderr: a redrawn bar
// with rows/s and ETA on a terminal, plain lines at most every few seconds otherwise (logs, CI),
// nothing with --json. Single-threaded (the command's thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ej::cli {

class Progress {
 public:
  // quiet: print nothing (--json). Terminal detection is on stderr.
  explicit Progress(bool quiet);
  // A new state; `rows_per_s` and `eta_s` < 0 mean unknown (then estimated from the updates).
  void update(const std::string& label, int64_t done, int64_t total, double rows_per_s = -1,
              double eta_s = -1);
  // A status line without numbers ("validating").
  void note(const std::string& label);
  void finish(const std::string& final_line);

 private:
  using Clock = std::chrono::steady_clock;
  bool quiet_;
  bool tty_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_plain_{};
  std::string last_label_;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace ej::cli
