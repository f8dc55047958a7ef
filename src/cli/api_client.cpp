#include "cli/api_client.h"

#include <curl/curl.h>

#include <cstdio>
#include <memory>

#include "cli/exit_codes.h"

namespace ej::cli {

namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

size_t append_to_string(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t write_to_file(char* data, size_t size, size_t n, void* out) {
  return std::fwrite(data, size, n, static_cast<FILE*>(out)) * size;
}

// The server's {"message"} (Cohere's error body), else the body itself, else the status line.
std::string error_message(long status, const std::string& body) {
  try {
    nlohmann::json j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) {
      return j["message"].get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  std::string text = body.substr(0, 300);
  return text.empty() ? "HTTP status " + std::to_string(status) : text;
}

struct SList {
  curl_slist* list = nullptr;
  ~SList() { curl_slist_free_all(list); }
  void add(const std::string& h) { list = curl_slist_append(list, h.c_str()); }
};

}  // namespace

ApiClient::ApiClient(Connection c) : base_(std::move(c.url)), key_(std::move(c.api_key)) {
  static CurlGlobal global;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (base_.find("://") == std::string::npos) base_ = "http://" + base_;
  curl_ = curl_easy_init();
  if (!curl_) throw ClientError(kExitError, 0, "cannot initialise libcurl");
}

ApiClient::~ApiClient() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

nlohmann::json ApiClient::get(const std::string& path) {
  return perform("GET", path, nullptr, nullptr, nullptr, nullptr);
}

nlohmann::json ApiClient::post(const std::string& path, const nlohmann::json& body) {
  std::string text = body.dump();
  return perform("POST", path, &text, nullptr, nullptr, nullptr);
}

nlohmann::json ApiClient::del(const std::string& path) {
  return perform("DELETE", path, nullptr, nullptr, nullptr, nullptr);
}

nlohmann::json ApiClient::upload(const std::string& path, const std::string& field,
                                 const std::string& file_path, const std::string& filename) {
  return perform("POST", path, nullptr, &file_path, &field, &filename);
}

nlohmann::json ApiClient::perform(const std::string& method, const std::string& path,
                                  const std::string* json_body, const std::string* upload_file,
                                  const std::string* field, const std::string* filename) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  std::string url = base_ + path;
  std::string response;
  SList headers;
  if (!key_.empty()) headers.add("Authorization: Bearer " + key_);
  headers.add("Accept: application/json");
  headers.add("X-Client-Name: embedjobs-cli");
  curl_mime* mime = nullptr;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (method == "DELETE") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
  if (json_body) {
    headers.add("Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json_body->size()));
  }
  if (upload_file) {
    FILE* probe = std::fopen(upload_file->c_str(), "rb");
    if (!probe) throw ClientError(kExitError, 0, "cannot read " + *upload_file);
    std::fclose(probe);
    mime = curl_mime_init(curl);
    curl_mimepart* part = curl_mime_addpart(mime);
    curl_mime_name(part, field->c_str());
    curl_mime_filedata(part, upload_file->c_str());  // streamed from disk as curl sends
    curl_mime_filename(part, filename->c_str());
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    headers.add("Expect:");
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  CURLcode rc = curl_easy_perform(curl);
  if (mime) curl_mime_free(mime);
  if (rc != CURLE_OK) {
    throw ClientError(kExitUnreachable, 0, "cannot reach " + base_ + ": " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {
    throw ClientError(exit_code_for_status(status), status, error_message(status, response));
  }
  if (response.empty()) return nullptr;
  try {
    return nlohmann::json::parse(response);
  } catch (const nlohmann::json::exception&) {
    throw ClientError(
        kExitServer, status,
        "the server answered " + method + " " + path + " with a body that is not JSON");
  }
}

int64_t ApiClient::download(const std::string& absolute_url, const std::string& out_path) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(out_path.c_str(), "wb"), &std::fclose);
  if (!out) throw ClientError(kExitError, 0, "cannot write " + out_path);
  std::string error_body;
  curl_easy_setopt(curl, CURLOPT_URL, absolute_url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_to_file);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, out.get());
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    throw ClientError(exit_code_for_status(status), status,
                      "download failed with HTTP status " + std::to_string(status));
  }
  if (rc != CURLE_OK) {
    throw ClientError(kExitUnreachable, 0,
                      "download failed: " + std::string(curl_easy_strerror(rc)));
  }
  curl_off_t bytes = 0;
  curl_easy_getinfo(curl, CURLINFO_SIZE_DOWNLOAD_T, &bytes);
  return static_cast<int64_t>(bytes);
}

}  // namespace ej::cli
