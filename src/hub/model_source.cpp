#include "hub/model_source.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <system_error>
#include <vector>

#include "common/durable_file.h"
#include "common/error.h"
#include "common/ids.h"
#include "common/log.h"
#include "hub/hub_cache.h"
#include "hub/hub_env.h"
#include "hub/hub_http.h"

namespace ej::hub {
namespace {

namespace fs = std::filesystem;
using namespace detail;

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
