// ApiClient: the command line client's connection to an embedjobs (or Cohere) server: JSON
// requests, a streamed multipart upload of a file and streamed downloads, over libcurl. Errors
// become ClientError with the exit code they map to (cli/exit_codes.h) and the server's
// {"message"}. One object per command; single-threaded.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace ej::cli {

struct ClientError : std::runtime_error {
  ClientError(int exit_code, long http_status, const std::string& message)
      : std::runtime_error(message), exit_code(exit_code), http_status(http_status) {}
  int exit_code;
  long http_status;  // 0 when the server was not reached
};

struct Connection {
  std::string url;      // base URL, e.g. http://127.0.0.1:8911 (a trailing / is ignored)
  std::string api_key;  // sent as "Authorization: Bearer <key>" when not empty
};

class ApiClient {
 public:
  explicit ApiClient(Connection connection);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // `path` is appended to the base URL ("/v1/datasets?limit=10"). The body of a 2xx as JSON
  // (null for an empty body); otherwise throws ClientError.
  nlohmann::json get(const std::string& path);
  nlohmann::json post(const std::string& path, const nlohmann::json& body);
  nlohmann::json del(const std::string& path);
  // POST multipart/form-data with the file at `file_path` as the part `field`, streamed from
  // disk (any size), named `filename` in the part header.
  nlohmann::json upload(const std::string& path, const std::string& field,
                        const std::string& file_path, const std::string& filename);
  // GETs an absolute URL (a signed part link) into `out_path`; returns the bytes written.
  int64_t download(const std::string& absolute_url, const std::string& out_path);

  const std::string& base_url() const { return base_; }

 private:
  nlohmann::json perform(const std::string& method, const std::string& path,
                         const std::string* json_body, const std::string* upload_file,
                         const std::string* field, const std::string* filename);

  std::string base_;
  std::string key_;
  void* curl_ = nullptr;  // CURL*
};

}  // namespace ej::cli
