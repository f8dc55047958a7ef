// HttpServer: the Cohere-compatible HTTP API. Owns the route table, authentication, request
// limits, and the ONE place where exceptions become HTTP statuses with {"message": ...} bodies.
// Handlers run on httplib's thread pool; everything they touch (services, store) is
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "service/services.h"

namespace ej::api {

struct HttpConfig {
  std::string host = "127.0.0.1";
  int port = 8911;
  bool no_auth = false;
  std::string public_url;  // base of part download URLs; empty = http://<Host header>
  int64_t url_ttl_s = 24 * 3600;
  int threads = 16;
  int read_timeout_s = 60;
  int write_timeout_s = 300;
  int keep_alive_s = 5;
  int64_t max_json_bytes = 16LL * 1024 * 1024;
};

class HttpServer {
 public:
  HttpServer(service::Services* services, HttpConfig config, std::string url_secret);
  ~HttpServer();
  // Binds the listening socket; returns the bound port (useful with port 0). Throws on failure.
  int bind();
  // Serves until stop() is called (from any thread, e.g. a signal watcher).
  void serve();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ej::api
