#include "api/router.h"

#include "service/api_keys.h"

#include <charconv>

#include "api/http/json_body.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "common/log.h"

namespace ej::api {

namespace {
// Any path prefix before /v1 or /v2 (the TS SDK keeps one from `environment`).
const char* kPrefix = "(?:/[A-Za-z0-9._~%-]+)*";
}  // namespace

void send_json(http::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void Router::send_error(http::Response& res, int status, const std::string& message) {
  if (status == 429 || status == 503) res.set_header("Retry-After", "1");
  send_json(res, status, {{"message", message}});
}

nlohmann::json parse_json_body(const http::Request& req) {
  if (req.body.empty()) throw_invalid("invalid json syntax: the request body is empty");
  nlohmann::json body = http::parse_bounded_json(req.body);
  if (!body.is_object()) throw_invalid("invalid json syntax: the request body must be an object");
  return body;
}

std::string string_field(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_string()) throw_invalid(std::string(name) + " must be a string");
  return it->get<std::string>();
}

int64_t int_param(const http::Request& req, const char* key, int64_t def, int64_t lo, int64_t hi) {
  if (!req.has_param(key)) return def;
  std::string v = req.get_param_value(key);
  if (v.empty()) return def;
  int64_t out = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || out < lo || out > hi) {
    throw_invalid(std::string(key) + " must be an integer between " + std::to_string(lo) + " and " +
                  std::to_string(hi) + ", got '" + http::escape_for_log(v, 64) + "'");
  }
  return out;
}

void Router::add(const char* method, const std::string& path, Handler h, StreamHandler sh,
                 bool auth) {
  Route r;
  r.method = method;
  r.pattern = path;
  r.re = std::regex(kPrefix + path);
  r.handler = std::move(h);
  r.stream_handler = std::move(sh);
  r.auth = auth;
  routes_.push_back(std::move(r));
}

void Router::get(const std::string& path, Handler h, bool auth) {
  add("GET", path, std::move(h), nullptr, auth);
}
void Router::post(const std::string& path, Handler h, bool auth) {
  add("POST", path, std::move(h), nullptr, auth);
}
void Router::post_stream(const std::string& path, StreamHandler h, bool auth,
                         AuthErrorWriter auth_error) {
  add("POST", path, nullptr, std::move(h), auth);
  routes_.back().auth_error = auth_error;
}
void Router::del(const std::string& path, Handler h, bool auth) {
  add("DELETE", path, std::move(h), nullptr, auth);
}

const Router::Route* Router::match(http::Request* req, bool* path_known) const {
  *path_known = false;
  std::smatch m;
  for (const Route& r : routes_) {
    if (!std::regex_match(req->path, m, r.re)) continue;
    if (r.method != req->method && !(r.method == "GET" && req->method == "HEAD")) {
      *path_known = true;
      continue;
    }
    req->matches.clear();
    for (const auto& g : m) req->matches.push_back(g.str());
    return &r;
  }
  return nullptr;
}

std::string Router::owner_for(const http::Request& req) const {
  std::string header = req.get_header_value("Authorization");
  if (header.empty()) throw Error(ErrorCode::kUnauthenticated, "no api key supplied");
  size_t sp = header.find(' ');
  if (sp == std::string::npos || http::to_lower(header.substr(0, sp)) != "bearer") {
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

namespace {
// Runs fn, turning what it throws into the response. A 5xx never carries the exception's text
// (SQL, file paths, library messages): that goes to the log under a request id, and the body
// names the operation and the id.
template <typename Fn>
bool guarded(const Router::Route& route, const http::Request& req, http::Response& res, Fn&& fn) {
  auto internal = [&](const char* kind, const std::string& detail) {
    std::string id = req.request_id.empty() ? random_alnum(12) : req.request_id;
    log_error("request " + id + " " + req.method + " " + http::escape_for_log(req.path) + ": " +
              kind + ": " + http::escape_for_log(detail, 2048));
    res = http::Response();
    send_json(res, 500,
              {{"message", "internal error while handling " + route.method + " " +
                               readable_route(route.pattern) +
                               "; the server log has the details under request id " + id},
               {"id", id}});
  };
  try {
    fn();
    return true;
  } catch (const Error& e) {
    int status = http_status(e.code());
    if (status == 500) {
      internal("internal", e.what());
    } else {
      res = http::Response();
      Router::send_error(res, status, e.what());
    }
  } catch (const nlohmann::json::exception& e) {
    res = http::Response();
    send_json(res, 400, {{"message", std::string("invalid request: ") + e.what()}});
  } catch (const std::exception& e) {
    internal("exception", e.what());
  } catch (...) {
    internal("exception", "unknown");
  }
  return false;
}
}  // namespace

std::string Router::owner_of(const http::Request& req) const {
  if (config_->no_auth) return "local";
  return owner_for(req);
}

bool Router::authenticate(const Route& route, const http::Request& req, http::Response& res,
                          std::string* owner) const {
  if (!route.auth) return true;
  if (config_->no_auth) {
    *owner = "local";
    return true;
  }
  bool refused = false;
  bool ok = guarded(route, req, res, [&] {
    try {
      *owner = owner_for(req);
    } catch (const Error& e) {
      if (!route.auth_error || e.code() != ErrorCode::kUnauthenticated) throw;
      res = http::Response();
      route.auth_error(res, 401, e.what());
      refused = true;
    }
  });
  return ok && !refused;
}

void Router::handle(const Route& route, const http::Request& req, http::Response& res,
                    const std::string& owner, const ContentReader* reader) const {
  std::string base = config_->public_url;
  if (base.empty()) base = "http://" + req.get_header_value("Host");
  while (!base.empty() && base.back() == '/') base.pop_back();
  Ctx ctx{req, res, owner, base};
  guarded(route, req, res, [&] {
    if (route.stream()) {
      route.stream_handler(ctx, *reader);
    } else {
      route.handler(ctx);
    }
  });
}

}  // namespace ej::api
