// Router: the route table shared by the routes_*.cpp files, authentication, and the ONE place
// where exceptions become HTTP statuses with {"message": ...} bodies. Internal to the API layer.
// A Handler gets a Ctx with the authenticated owner; it returns by writing ctx.res (via
// send_json) or throws ej::Error. Routes are registered before serving; afterwards the table is
// read-only and match()/handle() are called from any thread (I/O threads match, workers handle).
#pragma once

#include <functional>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http/body_reader.h"
#include "api/http/message.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "api/part_urls.h"
#include "service/services.h"

namespace ej::api {

using ContentReader = http::ContentReader;
using http::MultipartPart;

struct Ctx {
  const http::Request& req;
  http::Response& res;
  std::string owner;     // empty for unauthenticated routes
  std::string base_url;  // scheme://host[:port] for absolute links
};

class Router {
 public:
  using Handler = std::function<void(Ctx&)>;
  using StreamHandler = std::function<void(Ctx&, const ContentReader&)>;
  // Writes a failed authentication's answer (status 401) in a route's own error body.
  using AuthErrorWriter = void (*)(http::Response& res, int status, const std::string& message);

  struct Route {
    std::string method;
    std::string pattern;  // as registered, for logs and error messages
    std::regex re;
    Handler handler;
    StreamHandler stream_handler;  // set for post_stream routes (body spooled to disk)
    bool auth = true;
    AuthErrorWriter auth_error = nullptr;  // null: send_error's {"message"} body
    bool stream() const { return static_cast<bool>(stream_handler); }
  };

  Router(service::Services* services, const HttpConfig* config, const PartUrlSigner* signer)
      : services_(services), config_(config), signer_(signer) {}

  // `path` is a regex for the path after an optional prefix (e.g. "/v1/datasets/([^/]+)").
  void get(const std::string& path, Handler h, bool auth = true);
  void post(const std::string& path, Handler h, bool auth = true);
  void post_stream(const std::string& path, StreamHandler h, bool auth = true,
                   AuthErrorWriter auth_error = nullptr);
  void del(const std::string& path, Handler h, bool auth = true);

  // The route for (method, path), filling req->matches; nullptr when none (then *path_known
  // says whether another method would have matched).
  const Route* match(http::Request* req, bool* path_known) const;
  // Authenticates req for `route` (no-op for open routes). On failure writes the error to res
  // and returns false. Blocking (store); worker threads.
  bool authenticate(const Route& route, const http::Request& req, http::Response& res,
                    std::string* owner) const;
  // The owner of the request's Bearer key ("local" with --no-auth); throws ej::Error
  // (kUnauthenticated) otherwise. For routes that authenticate inside their handler (the OpenAI
  // routes, whose error body differs). Blocking (store); worker threads.
  std::string owner_of(const http::Request& req) const;
  // Runs the handler with `owner` (already authenticated) and maps what it throws. Workers.
  void handle(const Route& route, const http::Request& req, http::Response& res,
              const std::string& owner, const ContentReader* reader) const;
  // Writes an error status + {"message"} (and Retry-After for 429/503).
  static void send_error(http::Response& res, int status, const std::string& message);

  service::Services& services() { return *services_; }
  const std::vector<Route>& routes() const { return routes_; }  // in registration order
  const HttpConfig& config() const { return *config_; }
  const PartUrlSigner& signer() const { return *signer_; }
  // Request counters and latencies (filled by the HTTP sessions; GET /metrics renders them).
  Metrics& metrics() const { return metrics_; }

 private:
  void add(const char* method, const std::string& path, Handler h, StreamHandler sh, bool auth);
  std::string owner_for(const http::Request& req) const;

  std::vector<Route> routes_;
  service::Services* services_;
  const HttpConfig* config_;
  const PartUrlSigner* signer_;
  mutable Metrics metrics_;
};

void send_json(http::Response& res, int status, const nlohmann::json& body);
// Parses a JSON object body (nesting bounded while parsing); 400 "invalid json ..." otherwise.
nlohmann::json parse_json_body(const http::Request& req);
// Optional string field (null or absent -> ""); 400 naming the field when not a string.
std::string string_field(const nlohmann::json& body, const char* name);
// Optional integer query parameter in [lo, hi] (absent or "" -> def); 400 naming it otherwise.
int64_t int_param(const http::Request& req, const char* key, int64_t def, int64_t lo, int64_t hi);

void register_batch_routes(Router& r);  // /v2/batches (routes_batches.cpp)
void register_dataset_routes(Router& r);
void register_job_routes(Router& r);
void register_model_routes(Router& r);
void register_embed_routes(Router& r);
void register_tokenize_routes(Router& r);
void register_ops_routes(Router& r);
void register_openai_routes(
    Router& r);  // /v1/embeddings (OpenAI's API)  // /health, /ready, the dashboard

}  // namespace ej::api
