#include "hub/hub_http.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>

#include "common/error.h"
#include "hub/hub_env.h"

namespace ej::hub::detail {
namespace {

constexpr size_t kMaxTextBody = 64u << 20;  // API JSON / error bodies kept in memory
constexpr size_t kMaxErrorBody = 4096;      // body bytes quoted in an error message

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error(ErrorCode::kInternal, "libcurl initialisation failed");
    }
  });
}

// A transfer's state, shared with the curl callbacks.
struct Transfer {
  CURL* handle = nullptr;
  HttpResult* result = nullptr;
  FILE* file = nullptr;    // download target (opened for appending), or null for text
  uint64_t offset = 0;     // bytes already in `file` (the Range start)
  bool decided = false;    // status of the final response seen by the body callback
  bool to_file = false;    // body goes to `file` (a 200 / 206 answer)
  std::string sink_error;  // why the body callback stopped the transfer
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    t->result->headers.clear();  // a new response (after a redirect)
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name = lower(trim(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    t->result->headers[name] = value;
    if (name.rfind("x-linked-", 0) == 0 || name == "x-repo-commit" ||
        name.rfind("x-error-", 0) == 0) {
      t->result->hub.emplace(name, value);
    }
  }
  return size * n;
}

// "bytes START-END/TOTAL" -> START; nullopt when unparsable.
std::optional<uint64_t> content_range_start(const std::string& v) {
  size_t sp = v.find(' ');
  if (sp == std::string::npos) return std::nullopt;
  try {
    return std::stoull(v.substr(sp + 1));
  } catch (...) {
    return std::nullopt;
  }
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (!t->decided) {
    t->decided = true;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &t->result->status);
    long st = t->result->status;
    if (t->file && st == 206) {
      auto start = content_range_start(t->result->headers["content-range"]);
      if (!start || *start != t->offset) {
        t->sink_error = "server answered the range request from the wrong offset (" +
                        t->result->headers["content-range"] + ")";
        t->result->range_mismatch = true;
        return 0;
      }
      t->to_file = true;
    } else if (t->file && st == 200) {
      // A whole body: whatever a previous attempt left is replaced.
      std::fflush(t->file);
      if (::ftruncate(::fileno(t->file), 0) != 0) {
        t->sink_error = "cannot truncate the partial download";
        t->result->disk_error = true;
        return 0;
      }
      t->offset = 0;
      t->to_file = true;
    }
  }
  if (t->to_file) {
    if (std::fwrite(data, 1, bytes, t->file) != bytes) {
      t->sink_error = "cannot write the download to disk (disk full?)";
      t->result->disk_error = true;
      return 0;
    }
    t->result->written += bytes;
    return bytes;
  }
  size_t cap = t->file ? kMaxErrorBody : kMaxTextBody;
  if (t->result->body.size() + bytes > cap) {
    if (!t->file) {
      t->sink_error = "response too large";
      return 0;
    }
    t->result->body.append(data, cap - std::min(cap, t->result->body.size()));
    return bytes;
  }
  t->result->body.append(data, bytes);
  return bytes;
}

long timeout_seconds() {
  std::string v = env("HF_HUB_DOWNLOAD_TIMEOUT");
  long s = v.empty() ? 0 : std::atol(v.c_str());
  return s > 0 ? s : 30;
}

}  // namespace

HttpResult http_request(Method method, const std::string& url, const std::string& token,
                        bool follow, FILE* file, uint64_t offset) {
  curl_init_once();
  HttpResult result;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) throw Error(ErrorCode::kInternal, "curl_easy_init failed");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> hdrs(nullptr, curl_slist_free_all);
  auto add_header = [&](const std::string& line) {
    curl_slist* l = curl_slist_append(hdrs.get(), line.c_str());
    if (!l) throw Error(ErrorCode::kInternal, "curl_slist_append failed");
    hdrs.release();
    hdrs.reset(l);
  };
  // libcurl (>= 7.58) drops a custom Authorization header when a redirect leaves the host, so
  // the token never reaches the CDN a Hub redirect points at.
  if (!token.empty()) add_header("Authorization: Bearer " + token);
  if (file && offset > 0) add_header("Range: bytes=" + std::to_string(offset) + "-");

  Transfer t;
  t.handle = h.get();
  t.result = &result;
  t.file = file;
  t.offset = offset;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "embedjobs/0.1 libcurl");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout_seconds());
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer fails (and resumes)
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout_seconds());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  if (method == Method::kHead) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);

  result.curl = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  if (result.curl != CURLE_OK) {
    result.curl_error = !t.sink_error.empty() ? t.sink_error
                        : errbuf[0]           ? std::string(errbuf)
                                              : std::string(curl_easy_strerror(result.curl));
  }
  if (file) std::fflush(file);
  return result;
}

bool transient(const HttpResult& r) {
  if (r.curl != CURLE_OK) {
    switch (r.curl) {
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
      case CURLE_TOO_MANY_REDIRECTS:
      case CURLE_WRITE_ERROR:
      case CURLE_FILESIZE_EXCEEDED:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CACERT_BADFILE:
        return false;
      default:
        return true;
    }
  }
  return r.status == 408 || r.status == 429 || r.status >= 500;
}

void backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 << attempt, 4000)));
}

std::string server_says(const HttpResult& r) {
  auto it = r.hub.find("x-error-message");
  std::string msg = it != r.hub.end() ? it->second : std::string();
  if (msg.empty()) {
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
      msg = j["error"].get<std::string>();
    } else {
      msg = trim(r.body.substr(0, 200));
    }
  }
  return msg.empty() ? std::string() : ": " + msg;
}

}  // namespace ej::hub::detail
