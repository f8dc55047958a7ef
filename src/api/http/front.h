// Front: the event-driven HTTP/1.1 server under HttpServer (Boost.Beast on Asio). It owns the
// listening socket, the I/O threads (HttpConfig::io_threads) and the worker pool
// (HttpConfig::threads). A connection costs a socket, a buffer and a timer while it reads or
// writes; a worker is taken only to run a handler once a request is complete (or to check the
// API key before a large body is accepted). Connection caps (total, per client address) are
// enforced at accept. bind/serve/stop: as HttpServer's; stop() may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "api/http_server.h"

namespace ej::api {
class Router;
}

namespace ej::api::http {

class Front {
 public:
  // `spool_dir`: where streamed (upload) bodies are written while they arrive.
  Front(const Router* router, const HttpConfig* config, std::string spool_dir,
        int64_t max_upload_bytes);
  ~Front();
  int bind();
  void serve();
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ej::api::http
