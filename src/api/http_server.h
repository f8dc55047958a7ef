// HttpServer: the Cohere-compatible HTTP API. Owns the route table (api/router.h, where
// exceptions become HTTP statuses) and the event-driven HTTP/1.1 front (api/http/front.h):
// `io_threads` Asio threads own every socket, parse requests and enforce the limits below as
// bytes arrive; handlers run on a bounded pool of `threads` workers. Everything handlers touch
// (services, store) is thread-safe.
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
  int threads = 16;                // workers that run handlers (store, engine)
  int io_threads = 2;              // Asio threads that own the sockets
  int max_queued_requests = 1024;  // requests waiting for a worker before 503
  // Limits, enforced as the bytes arrive (see docs/architecture.md, "HTTP front").
  int max_connections = 4096;                   // open connections in total; more are refused (503)
  int max_connections_per_ip = 512;             // open connections from one client address
  int max_header_bytes = 64 * 1024;             // request line + all header lines (431)
  int max_headers = 100;                        // header lines (431)
  int max_target_bytes = 8 * 1024;              // the request target, path + query (414)
  int64_t max_json_bytes = 16LL * 1024 * 1024;  // a buffered (JSON) body, any encoding (413)
  int64_t max_small_body_bytes = 64 * 1024;     // a GET/DELETE body
  int64_t max_buffered_bytes = 512LL * 1024 * 1024;  // all buffered bodies together (503)
  int header_timeout_s = 10;    // from a request's first byte to the end of its header
  int request_timeout_s = 60;   // from the end of the header to the end of a buffered body
  int upload_timeout_s = 3600;  // the same for a streamed (upload) body
  int idle_timeout_s = 30;      // no byte moves either way in the middle of an exchange
  int keep_alive_s = 5;         // an idle kept-alive connection (and a new one) waits this long
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
