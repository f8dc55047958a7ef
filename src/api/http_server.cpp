#include "api/http_server.h"

#include <chrono>

#include "api/router.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/api_keys.h"

namespace ej::api {

namespace {
// Any path prefix before /v1 or /v2 (the TS SDK keeps one from `environment`).
const char* kPrefix = "(?:/[A-Za-z0-9._~%-]+)*";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

nlohmann::json parse_json_body(const httplib::Request& req) {
  if (req.body.empty()) throw_invalid("invalid json syntax: the request body is empty");
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) throw_invalid("invalid json syntax: the request body is not valid JSON");
  if (!body.is_object()) throw_invalid("invalid json syntax: the request body must be an object");
  return body;
}

std::string string_field(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_string()) throw_invalid(std::string(name) + " must be a string");
  return it->get<std::string>();
}

std::string Router::authenticate(const httplib::Request& req) {
  if (config_->no_auth) return "local";
  std::string header = req.get_header_value("Authorization");
  if (header.empty()) throw Error(ErrorCode::kUnauthenticated, "no api key supplied");
  size_t sp = header.find(' ');
  if (sp == std::string::npos || lower(header.substr(0, sp)) != "bearer") {
    throw Error(ErrorCode::kUnauthenticated,
                "invalid api token: the Authorization header must be 'Bearer <key>'");
  }
  std::string key = header.substr(sp + 1);
  while (!key.empty() && key.front() == ' ') key.erase(key.begin());
  while (!key.empty() && key.back() == ' ') key.pop_back();
  if (key.empty()) throw Error(ErrorCode::kUnauthenticated, "no api key supplied");
  std::optional<std::string> owner = services_->keys->owner_for_key(key);
  if (!owner) throw Error(ErrorCode::kUnauthenticated, "invalid api token");
  return *owner;
}

void Router::run(const httplib::Request& req, httplib::Response& res, bool auth,
                 const std::function<void(Ctx&)>& body) {
  std::string base = config_->public_url;
  if (base.empty()) base = "http://" + req.get_header_value("Host");
  while (!base.empty() && base.back() == '/') base.pop_back();
  Ctx ctx{req, res, "", base};
  try {
    if (auth) ctx.owner = authenticate(req);
    body(ctx);
  } catch (const Error& e) {
    int status = http_status(e.code());
    if (status == 429 || status == 503) res.set_header("Retry-After", "1");
    send_json(res, status, {{"message", e.what()}});
  } catch (const nlohmann::json::exception& e) {
    send_json(res, 400, {{"message", std::string("invalid request: ") + e.what()}});
  } catch (const std::exception& e) {
    std::string id = random_alnum(12);
    log_error("request " + id + " " + req.method + " " + req.path + ": " + e.what());
    send_json(res, 500, {{"message", "internal error (id " + id + ")"}, {"id", id}});
  }
}

void Router::get(const std::string& path, Handler h, bool auth) {
  server_->Get(kPrefix + path, [this, h, auth](const httplib::Request& req,
                                               httplib::Response& res) { run(req, res, auth, h); });
}

void Router::post(const std::string& path, Handler h, bool auth) {
  server_->Post(kPrefix + path,
                [this, h, auth](const httplib::Request& req, httplib::Response& res) {
                  run(req, res, auth, h);
                });
}

void Router::post_stream(const std::string& path, StreamHandler h, bool auth) {
  server_->Post(kPrefix + path, [this, h, auth](const httplib::Request& req, httplib::Response& res,
                                                const httplib::ContentReader& reader) {
    // Track whether the handler read the body: one that failed before reading it (bad key,
    // bad options) must still consume it, or the client, still sending, sees a reset
    // connection (EPIPE) instead of the error, and the unread bytes would be parsed as the
    // next request on a kept-alive connection.
    bool used = false;
    httplib::ContentReader tracked(
        [&](httplib::ContentReceiver receiver) {
          used = true;
          return reader.reader_(std::move(receiver));
        },
        [&](httplib::MultipartContentHeader header, httplib::ContentReceiver receiver) {
          used = true;
          return reader.multipart_reader_(std::move(header), std::move(receiver));
        });
    run(req, res, auth, [&](Ctx& ctx) { h(ctx, tracked); });
    if (res.status < 400) return;
    constexpr int64_t kMaxDrainBytes = 64 << 20;
    int64_t len = req.has_header("Content-Length")
                      ? std::atoll(req.get_header_value("Content-Length").c_str())
                      : -1;
    const int64_t max_drain = std::min<int64_t>(kMaxDrainBytes, services_->config.max_upload_bytes);
    const int status = res.status;  // a failed read must not turn the answer into another
    bool drained = false;
    if (!used && len >= 0 && len <= max_drain) {
      auto discard = [](const char*, size_t) { return true; };
      // httplib parses a multipart body even when read as a whole: it needs both callbacks.
      drained = req.is_multipart_form_data()
                    ? reader.multipart_reader_(
                          [](const httplib::MultipartFormData&) { return true; }, discard)
                    : reader.reader_(discard);
    }
    res.status = status;
    if (!drained) res.set_header("Connection", "close");
  });
}

void Router::del(const std::string& path, Handler h, bool auth) {
  server_->Delete(kPrefix + path,
                  [this, h, auth](const httplib::Request& req, httplib::Response& res) {
                    run(req, res, auth, h);
                  });
}

struct HttpServer::Impl {
  service::Services* services;
  HttpConfig config;
  PartUrlSigner signer;
  httplib::Server server;
  Router router;

  Impl(service::Services* s, HttpConfig c, std::string secret)
      : services(s),
        config(std::move(c)),
        signer(std::move(secret), config.url_ttl_s),
        router(&server, services, &config, &signer) {}
};

HttpServer::HttpServer(service::Services* services, HttpConfig config, std::string url_secret)
    : impl_(std::make_unique<Impl>(services, std::move(config), std::move(url_secret))) {
  httplib::Server& svr = impl_->server;
  const HttpConfig& cfg = impl_->config;
  int threads = cfg.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_read_timeout(cfg.read_timeout_s, 0);
  svr.set_write_timeout(cfg.write_timeout_s, 0);
  svr.set_keep_alive_timeout(cfg.keep_alive_s);
  svr.set_payload_max_length(static_cast<size_t>(services->config.max_upload_bytes) + (1 << 20));

  // Early size check for JSON endpoints, before httplib reads the body.
  int64_t max_json = cfg.max_json_bytes;
  svr.set_pre_routing_handler([max_json](const httplib::Request& req, httplib::Response& res) {
    bool upload = req.method == "POST" && req.path.size() >= 12 &&
                  req.path.compare(req.path.size() - 12, 12, "/v1/datasets") == 0;
    if (!upload && req.has_header("Content-Length")) {
      int64_t len = std::atoll(req.get_header_value("Content-Length").c_str());
      if (len > max_json) {
        send_json(res, 413,
                  {{"message", "request body too large: " + std::to_string(len) +
                                   " bytes, the limit is " + std::to_string(max_json)}});
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Statuses httplib sets itself (404 unknown route, 413, 400 bad request line) get JSON too.
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string msg;
        if (res.status == 404) {
          msg = "unknown endpoint: " + req.method + " " + req.path;
        } else if (res.status == 413) {
          msg = "request body too large";
        } else {
          msg = "request failed with status " + std::to_string(res.status);
        }
        send_json(res, res.status, {{"message", msg}});
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        send_json(res, 500, {{"message", "internal error"}});
      });
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    std::string client = req.get_header_value("X-Client-Name");
    log_info(req.method + " " + req.path + " " + std::to_string(res.status) +
             (client.empty() ? "" : " client=" + client));
  });

  register_dataset_routes(impl_->router);
  register_job_routes(impl_->router);
  register_model_routes(impl_->router);
  register_embed_routes(impl_->router);
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  const HttpConfig& cfg = impl_->config;
  int port = cfg.port;
  if (port == 0) {
    port = impl_->server.bind_to_any_port(cfg.host);
    if (port < 0) throw Error(ErrorCode::kInternal, "cannot bind " + cfg.host);
  } else if (!impl_->server.bind_to_port(cfg.host, port)) {
    throw Error(ErrorCode::kInternal, "cannot listen on " + cfg.host + ":" + std::to_string(port) +
                                          " (address in use or not available)");
  }
  return port;
}

void HttpServer::serve() {
  impl_->server.listen_after_bind();
}

void HttpServer::stop() {
  impl_->server.stop();
}

}  // namespace ej::api
