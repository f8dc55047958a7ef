#include "hub/model_source.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "common/durable_file.h"
#include "common/error.h"
#include "common/ids.h"
#include "common/log.h"

namespace ej::hub {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxAttempts = 5;             // per HTTP exchange, for transient failures
constexpr size_t kMaxTextBody = 64u << 20;  // API JSON / error bodies kept in memory
constexpr size_t kMaxErrorBody = 4096;      // body bytes quoted in an error message
constexpr std::string_view kDefaultEndpoint = "https://huggingface.co";

// ---- environment --------------------------------------------------------------------------------

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool env_truthy(const char* name) {
  std::string v = lower(env(name));
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

fs::path home_dir() {
  std::string h = env("HOME");
  return h.empty() ? fs::path("/") : fs::path(h);
}

fs::path hf_home() {
  std::string h = env("HF_HOME");
  if (!h.empty()) return h;
  std::string xdg = env("XDG_CACHE_HOME");
  return (xdg.empty() ? home_dir() / ".cache" : fs::path(xdg)) / "huggingface";
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string hf_token() {
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    std::string t = trim(env(name));
    if (!t.empty()) return t;
  }
  std::string path = env("HF_TOKEN_PATH");
  std::ifstream in(path.empty() ? hf_home() / "token" : fs::path(path));
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return trim(ss.str());
}

std::string hf_endpoint() {
  std::string e = trim(env("HF_ENDPOINT"));
  if (e.empty()) e = kDefaultEndpoint;
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

// ---- small helpers ------------------------------------------------------------------------------

bool is_hex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}
bool is_commit_hash(std::string_view s) {
  return is_hex(s, 40);
}
bool is_sha256(std::string_view s) {
  return is_hex(s, 64);
}

std::string percent_encode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string human_size(uint64_t n) {
  char buf[32];
  if (n >= (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  }
  return buf;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A file name suffix no other thread or process uses at the same time.
std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  return ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

std::string sha256_file(const fs::path& p) {
  Sha256 h;
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(ErrorCode::kInternal, "cannot read " + p.string());
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) h.update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  return h.hex();
}

// An exclusive flock(2) on a lock file, held for the object's lifetime.
class FileLock {
 public:
  explicit FileLock(const fs::path& p) {
    fs::create_directories(p.parent_path());
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(ErrorCode::kInternal, "cannot create lock file " + p.string());
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw Error(ErrorCode::kInternal, "cannot lock " + p.string());
      }
    }
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// ---- source parsing and the cache ---------------------------------------------------------------

struct RepoRef {
  std::string repo;      // org/name
  std::string revision;  // branch, tag or commit hash
};

bool valid_repo_part(std::string_view s) {
  if (s.empty() || s.size() > 96 || s.front() == '.' || s.front() == '-' || s.back() == '.' ||
      s.find("..") != std::string_view::npos || s.find("--") != std::string_view::npos) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::optional<RepoRef> parse_repo_id(const std::string& source) {
  RepoRef ref;
  size_t at = source.find('@');
  ref.repo = source.substr(0, at);
  ref.revision = at == std::string::npos ? "main" : source.substr(at + 1);
  size_t slash = ref.repo.find('/');
  if (slash == std::string::npos) {
    if (!valid_repo_part(ref.repo)) return std::nullopt;
  } else if (ref.repo.find('/', slash + 1) != std::string::npos ||
             !valid_repo_part(std::string_view(ref.repo).substr(0, slash)) ||
             !valid_repo_part(std::string_view(ref.repo).substr(slash + 1))) {
    return std::nullopt;
  }
  if (ref.revision.empty() || ref.revision.find("..") != std::string::npos ||
      ref.revision.front() == '/' || ref.revision.back() == '/') {
    return std::nullopt;
  }
  for (char c : ref.revision) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '/') {
      return std::nullopt;
    }
  }
  return ref;
}

fs::path repo_folder_name(const std::string& repo) {
  std::string name = "models--" + repo;
  for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p)) {
    name.replace(p, 1, "--");
  }
  return name;
}

// Shard file names listed by a model.safetensors.index.json (its weight_map values).
std::vector<std::string> shards_of_index(const fs::path& index_path) {
  nlohmann::json j = nlohmann::json::parse(read_file(index_path), nullptr, false);
  std::set<std::string> files;
  if (j.is_object() && j.contains("weight_map") && j["weight_map"].is_object()) {
    for (const auto& [tensor, file] : j["weight_map"].items()) {
      if (file.is_string()) files.insert(file.get<std::string>());
    }
  }
  return {files.begin(), files.end()};
}

// What a cached snapshot lacks to be loadable (empty = complete): config.json and its
// safetensors weights (model.safetensors, or the index and every shard it names).
std::vector<std::string> snapshot_missing(const fs::path& dir) {
  std::vector<std::string> missing;
  if (!fs::exists(dir / "config.json")) missing.push_back("config.json");
  if (fs::exists(dir / "model.safetensors")) return missing;
  if (!fs::exists(dir / "model.safetensors.index.json")) {
    missing.push_back("model.safetensors");
    return missing;
  }
  std::vector<std::string> shards = shards_of_index(dir / "model.safetensors.index.json");
  if (shards.empty()) missing.push_back("model.safetensors.index.json (no weight_map)");
  for (const std::string& s : shards) {
    if (!fs::exists(dir / s)) missing.push_back(s);
  }
  return missing;
}

// The snapshot folder a revision points at in the cache, when there is one.
std::optional<fs::path> cached_snapshot(const fs::path& repo_dir, const std::string& revision) {
  std::string commit;
  if (is_commit_hash(revision)) {
    commit = revision;
  } else {
    fs::path ref = repo_dir / "refs" / revision;
    if (!fs::is_regular_file(ref)) return std::nullopt;
    commit = trim(read_file(ref));
    if (commit.empty()) return std::nullopt;
  }
  fs::path snap = repo_dir / "snapshots" / commit;
  if (!fs::is_directory(snap)) return std::nullopt;
  return snap;
}

// ---- HTTP (libcurl) -----------------------------------------------------------------------------

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error(ErrorCode::kInternal, "libcurl initialisation failed");
    }
  });
}

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

enum class Method { kGet, kHead };

// One HTTP exchange, following redirects when `follow`. With `file`, a 200 / 206 body is appended
// to it (a Range request from `offset` when offset > 0); otherwise the body is kept in
// result.body.
HttpResult http_request(Method method, const std::string& url, const std::string& token,
                        bool follow, FILE* file = nullptr, uint64_t offset = 0) {
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

// Failures worth another attempt: the network, the server being busy or broken for a moment.
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

// A short quote of what the server said about an error.
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

// ---- the Hub ------------------------------------------------------------------------------------

class HubDownload {
 public:
  HubDownload(RepoRef ref, fs::path cache)
      : ref_(std::move(ref)),
        cache_(std::move(cache)),
        repo_dir_(cache_ / repo_folder_name(ref_.repo)),
        endpoint_(hf_endpoint()),
        token_(hf_token()) {}

  fs::path run() {
    fetch_repo_info();
    std::vector<std::string> plan = plan_files();
    fs::path snap = repo_dir_ / "snapshots" / commit_;
    for (const std::string& file : plan) fetch_file(snap, file);
    if (ref_.revision != commit_) {
      write_file_durably((repo_dir_ / "refs" / ref_.revision).string(), commit_);
    }
    std::vector<std::string> missing = snapshot_missing(snap);
    if (!missing.empty()) {
      throw Error(ErrorCode::kInternal, "download of '" + ref_.repo + "' left " + snap.string() +
                                            " without " + missing.front());
    }
    log_info("model " + what() + ": commit " + commit_ + " in " + snap.string());
    return snap;
  }

 private:
  std::string what() const { return "'" + ref_.repo + "' (revision " + ref_.revision + ")"; }

  [[noreturn]] void fail_unreachable(const HttpResult& r, const std::string& url) const {
    throw Error(ErrorCode::kUnavailable,
                "cannot reach the Hugging Face Hub at " + endpoint_ + " to download " + what() +
                    " (" + url + ": " + r.curl_error + "); it is not in the local cache " +
                    cache_.string() +
                    ". Check the network or HF_ENDPOINT, or pass a local model folder instead");
  }

  // Throws the error an unsuccessful answer means; `file` names the file for a resolve URL.
  [[noreturn]] void fail_status(const HttpResult& r, const std::string& url,
                                const std::string& file) const {
    if (r.curl != CURLE_OK) fail_unreachable(r, url);
    std::string code_name;
    if (auto it = r.hub.find("x-error-code"); it != r.hub.end()) code_name = it->second;
    std::string says = server_says(r);
    std::string st = "HTTP " + std::to_string(r.status);
    if (r.status == 401) {
      throw Error(
          ErrorCode::kUnauthenticated,
          "Hugging Face Hub: repository " + what() + " was not found or needs a login (" + st +
              says + "). " +
              (token_.empty() ? "If it is private or gated, set HF_TOKEN to a token with access"
                              : "The token in HF_TOKEN was not accepted for it: check the token "
                                "and the repo id"));
    }
    if (r.status == 403) {
      throw Error(ErrorCode::kPermissionDenied,
                  "Hugging Face Hub: access to " + what() + " is restricted (" + st + says +
                      "). It is probably gated: accept its terms on the Hub and set HF_TOKEN to "
                      "a token of that account");
    }
    if (r.status == 404) {
      if (code_name == "RevisionNotFound" ||
          (file.empty() && code_name.empty() && lower(says).find("rev") != std::string::npos)) {
        throw Error(ErrorCode::kNotFound, "Hugging Face Hub: revision '" + ref_.revision +
                                              "' not found in '" + ref_.repo + "' (" + st + says +
                                              ")");
      }
      if (!file.empty() && code_name != "RepoNotFound") {
        throw Error(ErrorCode::kNotFound, "Hugging Face Hub: file '" + file + "' not found in " +
                                              what() + " (" + st + says + ")");
      }
      throw Error(ErrorCode::kNotFound,
                  "Hugging Face Hub: repository '" + ref_.repo + "' not found at " + endpoint_ +
                      " (" + st + says + "); check the repo id" +
                      (token_.empty() ? " (or set HF_TOKEN if private)" : ""));
    }
    throw Error(transient(r) ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                "Hugging Face Hub: " + url + " answered " + st + says);
  }

  // A text request with retries on transient failures.
  HttpResult get_text(Method method, const std::string& url, bool follow = true) const {
    HttpResult r;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (attempt > 0) backoff(attempt);
      r = http_request(method, url, token_, follow);
      if (!transient(r)) break;
      // Nothing listens there at all: failing at once beats five identical refusals.
      if (r.curl == CURLE_COULDNT_CONNECT && attempt >= 1) break;
    }
    return r;
  }

  void fetch_repo_info() {
    std::string url = endpoint_ + "/api/models/" + ref_.repo + "/revision/" +
                      percent_encode(ref_.revision, false);
    HttpResult r = get_text(Method::kGet, url);
    if (r.curl != CURLE_OK) fail_unreachable(r, url);
    if (r.status != 200) fail_status(r, url, "");
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("sha") || !j["sha"].is_string()) {
      throw Error(ErrorCode::kUnavailable, "Hugging Face Hub: unexpected answer from " + url +
                                               " (no \"sha\"): " + r.body.substr(0, 200));
    }
    commit_ = j["sha"].get<std::string>();
    if (!is_commit_hash(commit_)) {
      throw Error(ErrorCode::kUnavailable,
                  "Hugging Face Hub: " + url + " gave an invalid commit hash '" + commit_ + "'");
    }
    if (j.contains("siblings") && j["siblings"].is_array()) {
      for (const auto& s : j["siblings"]) {
        if (s.is_object() && s.contains("rfilename") && s["rfilename"].is_string()) {
          siblings_.insert(s["rfilename"].get<std::string>());
        }
      }
    }
  }

  // The files an encoder needs, in download order: the shard index first (it names the shards),
  // config.json last (a snapshot with config.json and the weights counts as complete).
  std::vector<std::string> plan_files() {
    if (!siblings_.count("config.json")) {
      throw Error(ErrorCode::kInvalidArgument,
                  "Hugging Face Hub: " + what() +
                      " has no config.json: not a transformers model repository");
    }
    std::vector<std::string> plan;
    fs::path snap = repo_dir_ / "snapshots" / commit_;
    if (siblings_.count("model.safetensors")) {
      plan.push_back("model.safetensors");
    } else if (siblings_.count("model.safetensors.index.json")) {
      fetch_file(snap, "model.safetensors.index.json");
      std::vector<std::string> shards = shards_of_index(snap / "model.safetensors.index.json");
      if (shards.empty()) {
        throw Error(ErrorCode::kInvalidArgument, "Hugging Face Hub: " + what() +
                                                     ": model.safetensors.index.json has no "
                                                     "weight_map");
      }
      for (const std::string& s : shards) {
        if (s.find("..") != std::string::npos || s.empty() || s.front() == '/') {
          throw Error(ErrorCode::kInvalidArgument,
                      "Hugging Face Hub: " + what() + ": bad shard name '" + s + "'");
        }
        plan.push_back(s);
      }
    } else {
      std::string found;
      for (const std::string& s : siblings_) {
        if (s.find(".bin") != std::string::npos || s.find(".safetensors") != std::string::npos ||
            s.find(".onnx") != std::string::npos || s.find(".h5") != std::string::npos) {
          found += (found.empty() ? "" : ", ") + s;
        }
      }
      throw Error(ErrorCode::kInvalidArgument,
                  "Hugging Face Hub: " + what() +
                      " has no model.safetensors (nor sharded safetensors with "
                      "model.safetensors.index.json); only safetensors weights can be loaded" +
                      (found.empty() ? std::string() : " (weights found: " + found + ")"));
    }
    static const char* kWanted[] = {
        "tokenizer.json", "tokenizer_config.json",     "special_tokens_map.json",
        "modules.json",   "sentence_bert_config.json", "config_sentence_transformers.json"};
    for (const char* f : kWanted) {
      if (siblings_.count(f)) plan.push_back(f);
    }
    // sentence-transformers modules after the transformer (1_Pooling, 2_Dense, 2_Normalize...).
    for (const std::string& s : siblings_) {
      size_t slash = s.find('/');
      if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) continue;
      std::string dir = s.substr(0, slash), leaf = s.substr(slash + 1);
      size_t us = dir.find('_');
      if (us == std::string::npos || us == 0 ||
          !std::all_of(dir.begin(), dir.begin() + static_cast<long>(us),
                       [](char c) { return c >= '0' && c <= '9'; }) ||
          dir.substr(0, us) == "0") {
        continue;
      }
      if (leaf == "config.json" || leaf == "model.safetensors") plan.push_back(s);
    }
    plan.push_back("config.json");
    return plan;
  }

  // The metadata of a resolve URL, like huggingface_hub: relative redirects (a renamed repo) are
  // followed, an absolute one (the CDN, whose signed URL may refuse HEAD) is not: the Hub puts
  // X-Linked-Etag / X-Linked-Size on that redirect itself.
  HttpResult head_file(const std::string& url) const {
    std::string u = url;
    std::map<std::string, std::string> hub;
    for (int hop = 0; hop < 10; ++hop) {
      HttpResult r = get_text(Method::kHead, u, /*follow=*/false);
      for (const auto& kv : r.hub) hub.emplace(kv);
      r.hub = hub;
      std::string loc = r.headers["location"];
      if (r.curl != CURLE_OK || r.status < 300 || r.status >= 400 || loc.empty()) return r;
      if (loc.front() != '/' || loc.rfind("//", 0) == 0) return r;  // absolute: stop here
      size_t scheme = u.find("://");
      size_t path = u.find('/', scheme == std::string::npos ? 0 : scheme + 3);
      u = u.substr(0, path) + loc;
    }
    HttpResult r;
    r.curl = CURLE_TOO_MANY_REDIRECTS;
    r.curl_error = "too many redirects";
    return r;
  }

  // Downloads one file into blobs/ (unless the snapshot already has it) and links it.
  void fetch_file(const fs::path& snap, const std::string& file) {
    fs::path link = snap / file;
    if (fs::exists(link)) return;  // follows the link: the blob is there
    std::string url =
        endpoint_ + "/" + ref_.repo + "/resolve/" + commit_ + "/" + percent_encode(file, true);
    HttpResult head = head_file(url);
    if (head.curl != CURLE_OK) fail_unreachable(head, url);
    const bool redirected = head.status >= 300 && head.status < 400;
    if (head.status != 200 && !redirected) fail_status(head, url, file);

    std::string etag =
        head.hub.count("x-linked-etag") ? head.hub["x-linked-etag"] : head.headers["etag"];
    if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    if (etag.empty() || etag.find('/') != std::string::npos || etag.front() == '.') {
      throw Error(ErrorCode::kUnavailable, "Hugging Face Hub: " + url +
                                               " sent no usable ETag, so the download cannot be "
                                               "stored in the cache");
    }
    std::optional<uint64_t> size;
    std::string size_text = head.hub.count("x-linked-size") ? head.hub["x-linked-size"]
                            : redirected                    ? std::string()
                                                            : head.headers["content-length"];
    if (!size_text.empty()) {
      try {
        size = std::stoull(size_text);
      } catch (...) {
      }
    }

    fs::path blob = repo_dir_ / "blobs" / etag;
    {
      FileLock lock(cache_ / ".locks" / repo_folder_name(ref_.repo) / (etag + ".lock"));
      if (!fs::exists(blob)) download_blob(url, file, blob, etag, size);
    }
    fs::create_directories(link.parent_path());
    std::error_code ec;
    if (fs::exists(link, ec)) return;  // linked by another caller meanwhile
    fs::path target;
    const fs::path sub = fs::path(file).parent_path();
    for (auto it = sub.begin(); it != sub.end(); ++it) target /= "..";
    target = target / ".." / ".." / "blobs" / etag;
    // Made under a temporary name and renamed over `link` (replacing a dangling link whose blob
    // was deleted), so concurrent callers never see the link missing.
    fs::path tmp = link;
    tmp += unique_suffix();
    fs::create_symlink(target, tmp, ec);
    if (ec) {  // no symlinks on this filesystem: a copy works too
      fs::copy_file(blob, tmp, fs::copy_options::overwrite_existing, ec);
    }
    if (!ec) fs::rename(tmp, link, ec);
    if (!ec) fsync_directory(link.parent_path().string());
    if (ec) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw Error(ErrorCode::kInternal,
                  "cannot place " + link.string() + " in the cache: " + ec.message());
    }
  }

  // Fills blobs/<etag> through blobs/<etag>.incomplete, resuming what is there; verifies it.
  void download_blob(const std::string& url, const std::string& file, const fs::path& blob,
                     const std::string& etag, std::optional<uint64_t> size) {
    fs::path part = blob;
    part += ".incomplete";
    fs::create_directories(blob.parent_path());
    bool resumed = false;
    HttpResult r;
    for (int attempt = 0;; ++attempt) {
      std::error_code ec;
      uint64_t have = fs::exists(part) ? fs::file_size(part, ec) : 0;
      if (ec || (size && have > *size)) {
        fs::remove(part, ec);
        have = 0;
      }
      if (attempt == 0 && (!size || *size >= (1u << 20) || have > 0)) {
        log_info("model download: " + ref_.repo + "/" + file +
                 (size ? " (" + human_size(*size) + ")" : std::string()) +
                 (have > 0 ? ", resuming at " + human_size(have) : std::string()));
      }
      if (size && have == *size && have > 0) break;  // complete, not yet verified
      resumed = resumed || have > 0;
      std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(part.c_str(), "ab"), std::fclose);
      if (!f) throw Error(ErrorCode::kInternal, "cannot write " + part.string());
      r = http_request(Method::kGet, url, token_, /*follow=*/true, f.get(), have);
      f.reset();
      if (r.ok()) break;
      if (r.disk_error) {
        throw Error(ErrorCode::kInternal, "download of " + ref_.repo + "/" + file + " to " +
                                              part.string() + " failed: " + r.curl_error);
      }
      if (r.range_mismatch || (r.curl == CURLE_OK && r.status == 416)) {
        fs::remove(part, ec);  // the partial file does not fit the remote one: start over
      } else if (r.curl == CURLE_OK && !transient(r)) {
        fail_status(r, url, file);
      }
      if (attempt + 1 >= kMaxAttempts) {
        if (r.curl != CURLE_OK && fs::file_size(part, ec) == 0) {
          fs::remove(part, ec);
          fail_unreachable(r, url);
        }
        throw Error(ErrorCode::kUnavailable,
                    "download of " + ref_.repo + "/" + file + " failed after " +
                        std::to_string(kMaxAttempts) + " attempts (" +
                        (r.curl != CURLE_OK ? r.curl_error
                                            : "HTTP " + std::to_string(r.status) + server_says(r)) +
                        "); the partial download is kept in " + part.string() +
                        " and will be resumed next time");
      }
      log_warn("model download: " + ref_.repo + "/" + file + " interrupted (" +
               (r.curl != CURLE_OK ? r.curl_error : "HTTP " + std::to_string(r.status)) +
               "), retrying");
      backoff(attempt);
    }

    std::error_code ec;
    uint64_t got = fs::file_size(part, ec);
    if (size && got != *size) {
      fs::remove(part, ec);
      throw Error(ErrorCode::kInternal, "download of " + ref_.repo + "/" + file + " has " +
                                            std::to_string(got) + " bytes, the Hub announced " +
                                            std::to_string(*size) +
                                            "; the download was removed, run again to retry");
    }
    if (is_sha256(etag)) {
      std::string actual = sha256_file(part);
      if (actual != etag) {
        fs::remove(part, ec);
        if (resumed) {
          // The resumed part may not belong to this file: one more try from scratch.
          log_warn("model download: " + ref_.repo + "/" + file +
                   " failed its checksum after resuming; downloading it again from the start");
          download_blob(url, file, blob, etag, size);
          return;
        }
        throw Error(ErrorCode::kInternal,
                    "checksum mismatch for " + ref_.repo + "/" + file + " (commit " + commit_ +
                        "): expected sha256 " + etag + " (the Hub's ETag), got " + actual +
                        "; the corrupt download was removed, run again to retry");
      }
    }
    rename_durably(part.string(), blob.string());
    log_info("model download: " + ref_.repo + "/" + file + " (" + human_size(got) + ") done");
  }

  RepoRef ref_;
  fs::path cache_;
  fs::path repo_dir_;
  std::string endpoint_;
  std::string token_;
  std::string commit_;
  std::set<std::string> siblings_;
};

}  // namespace

fs::path hf_hub_cache_dir() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    std::string v = env(name);
    if (!v.empty()) return v;
  }
  return hf_home() / "hub";
}

std::string resolve_model_source(const std::string& source) {
  if (source.empty()) throw_invalid("model source is empty: give a folder or a Hub repo id");
  std::string path = source;
  if (path.rfind("~/", 0) == 0) path = (home_dir() / path.substr(2)).string();
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "config.json", ec)) return path;
    throw_not_found("model folder '" + path + "' has no config.json (expected a Hugging Face " +
                    "model folder: config.json, model.safetensors, tokenizer.json)");
  }
  std::optional<RepoRef> ref = parse_repo_id(source);
  if (!ref) {
    throw_not_found("model source '" + source +
                    "' is neither an existing folder nor a Hugging Face repo id (org/name or "
                    "org/name@revision)");
  }
  const fs::path cache = hf_hub_cache_dir();
  const fs::path repo_dir = cache / repo_folder_name(ref->repo);
  const bool offline = env_truthy("HF_HUB_OFFLINE");
  if (std::optional<fs::path> snap = cached_snapshot(repo_dir, ref->revision)) {
    std::vector<std::string> missing = snapshot_missing(*snap);
    if (missing.empty()) return snap->string();
    if (offline) {
      std::string list;
      for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
      throw_not_found("model '" + source + "': the cached snapshot " + snap->string() + " lacks " +
                      list + ", and HF_HUB_OFFLINE is set so nothing is downloaded");
    }
  } else if (offline) {
    throw_not_found("model '" + source + "' (revision " + ref->revision +
                    ") is not in the Hugging Face cache " + cache.string() +
                    " and HF_HUB_OFFLINE is set, so it is not downloaded; unset HF_HUB_OFFLINE, "
                    "set HF_HUB_CACHE / HF_HOME to the cache that has it, or pass a folder");
  }
  try {
    return HubDownload(*ref, cache).run().string();
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound && e.code() != ErrorCode::kUnauthenticated) throw;
    throw Error(e.code(),
                std::string(e.what()) + " (and there is no local folder '" + source + "' either)");
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorCode::kInternal, "model '" + source +
                                          "': cannot write the Hugging Face cache " +
                                          cache.string() + ": " + e.what());
  }
}

}  // namespace ej::hub
