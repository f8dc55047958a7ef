// Internal to ej_hub: the libcurl HTTP client the Hub download uses: one exchange (optionally
// appended to a file, resumed with a Range request), and the retry policy (which failures are
// transient, the backoff between attempts). Owns no state across calls besides libcurl's global
// initialisation (done once); http_request() is safe from several threads at once, each call
// using its own easy handle.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace ej::hub::detail {

constexpr int kMaxAttempts = 5;  // per HTTP exchange, for transient failures

struct HttpResult {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, the last response only
  std::map<std::string, std::string> hub;      // x-linked-*, x-repo-commit, x-error-*: any hop
  std::string body;                            // text requests, or an error body
  uint64_t written = 0;                        // download requests: bytes written to the file
  bool range_mismatch = false;                 // a 206 that does not start where we asked
  bool disk_error = false;                     // the download could not be written
  bool ok() const { return curl == CURLE_OK && (status == 200 || status == 206); }
};

enum class Method { kGet, kHead };

// One HTTP exchange, following redirects when `follow`. With `file`, a 200 / 206 body is appended
// to it (a Range request from `offset` when offset > 0); otherwise the body is kept in
// result.body.
HttpResult http_request(Method method, const std::string& url, const std::string& token,
                        bool follow, FILE* file = nullptr, uint64_t offset = 0);

// Failures worth another attempt: the network, the server being busy or broken for a moment.
bool transient(const HttpResult& r);

// Sleeps before attempt `attempt + 1`: 100 ms doubling, at most 4 s.
void backoff(int attempt);

// A short quote of what the server said about an error.
std::string server_says(const HttpResult& r);

}  // namespace ej::hub::detail
