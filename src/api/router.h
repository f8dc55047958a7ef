// Router: the route table shared by the routes_*.cpp files. Internal to the API layer.
// A Handler gets a Ctx with the authenticated owner; it returns by writing ctx.res (via
// send_json) or throws ej::Error, which Router turns into {"message": ...} with its status.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "api/part_urls.h"
#include "service/services.h"

namespace ej::api {

struct Ctx {
  const httplib::Request& req;
  httplib::Response& res;
  std::string owner;     // empty for unauthenticated routes
  std::string base_url;  // scheme://host[:port] for absolute links
};

class Router {
 public:
  using Handler = std::function<void(Ctx&)>;
  using StreamHandler = std::function<void(Ctx&, const httplib::ContentReader&)>;

  Router(httplib::Server* server, service::Services* services, const HttpConfig* config,
         const PartUrlSigner* signer)
      : server_(server), services_(services), config_(config), signer_(signer) {}

  // `path` is a regex for the path after an optional prefix (e.g. "/v1/datasets/([^/]+)").
  void get(const std::string& path, Handler h, bool auth = true);
  void post(const std::string& path, Handler h, bool auth = true);
  void post_stream(const std::string& path, StreamHandler h, bool auth = true);
  void del(const std::string& path, Handler h, bool auth = true);

  service::Services& services() { return *services_; }
  const HttpConfig& config() const { return *config_; }
  const PartUrlSigner& signer() const { return *signer_; }

 private:
  void run(const httplib::Request& req, httplib::Response& res, bool auth,
           const std::function<void(Ctx&)>& body);
  std::string authenticate(const httplib::Request& req);

  httplib::Server* server_;
  service::Services* services_;
  const HttpConfig* config_;
  const PartUrlSigner* signer_;
};

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// Parses a JSON object body; 400 "invalid json syntax: ..." otherwise.
nlohmann::json parse_json_body(const httplib::Request& req);
// Optional string field (null or absent -> ""); 400 naming the field when not a string.
std::string string_field(const nlohmann::json& body, const char* name);

void register_dataset_routes(Router& r);
void register_job_routes(Router& r);
void register_model_routes(Router& r);
void register_embed_routes(Router& r);
void register_tokenize_routes(Router& r);

}  // namespace ej::api
