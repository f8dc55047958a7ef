// The exit codes of every embedjobs command, so that scripts can tell what failed.
// Documented in README.md ("Command line client").
#pragma once

namespace ej::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // anything not below (a local file cannot be read, ...)
  kExitUsage = 2,        // bad command line
  kExitUnreachable = 3,  // the server cannot be reached (connection refused, DNS, timeout)
  kExitAuth = 4,         // 401 / 403: no key, a wrong key
  kExitNotFound = 5,     // 404: no such dataset / job / model
  kExitRefused = 6,      // another 4xx: the server refused the request as invalid
  kExitServer = 7,       // 5xx
  kExitFailed = 8,       // a job or a dataset validation ended `failed`
  kExitCancelled = 9,    // a job ended `cancelled`
};

// The exit code for an HTTP status that is not 2xx.
inline int exit_code_for_status(long status) {
  if (status == 401 || status == 403) return kExitAuth;
  if (status == 404) return kExitNotFound;
  if (status >= 400 && status < 500) return kExitRefused;
  if (status >= 500) return kExitServer;
  return kExitError;
}

}  // namespace ej::cli
