// /openapi.json (web/openapi.json, compiled in) against the route table the server registers:
// every registered (method, route) is documented, and every documented operation is registered.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/router.h"
#include "api/web_assets.h"

namespace ej::api {

namespace {

// "/v1/datasets/([^/]+)/([^/]+)" -> "/v1/datasets/{}/{}"; "tokenizer\\.json" -> "tokenizer.json".
std::string from_pattern(std::string p) {
  p = std::regex_replace(p, std::regex(R"(\(\[\^[^\]]*\]\+\))"), "{}");
  p = std::regex_replace(p, std::regex(R"(\\\.)"), ".");
  return p;
}

// "/v1/datasets/{id}/{part}" -> "/v1/datasets/{}/{}".
std::string from_openapi(const std::string& p) {
  return std::regex_replace(p, std::regex(R"(\{[^}]*\})"), "{}");
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

nlohmann::json document() {
  for (const WebAsset& a : web_assets()) {
    if (std::string(a.path) == "/ui/openapi.json") return nlohmann::json::parse(a.bytes());
  }
  ADD_FAILURE() << "web/openapi.json is not compiled in";
  return nlohmann::json::object();
}

TEST(OpenApi, DocumentsExactlyTheRegisteredRoutes) {
  HttpConfig config;
  Router router(nullptr, &config, nullptr);
  register_dataset_routes(router);
  register_job_routes(router);
  register_model_routes(router);
  register_embed_routes(router);
  register_ops_routes(router);
  register_batch_routes(router);
  register_openai_routes(router);
  std::set<std::string> served;
  for (const Router::Route& r : router.routes())
    served.insert(r.method + " " + from_pattern(r.pattern));

  nlohmann::json doc = document();
  ASSERT_TRUE(doc.contains("paths"));
  std::set<std::string> documented;
  for (auto& [path, ops] : doc["paths"].items()) {
    for (auto& [method, op] : ops.items()) {
      documented.insert(upper(method) + " " + from_openapi(path));
      EXPECT_TRUE(op.contains("responses")) << method << " " << path;
      EXPECT_TRUE(op.contains("summary")) << method << " " << path;
    }
  }
  for (const std::string& s : served) EXPECT_TRUE(documented.count(s)) << "not documented: " << s;
  for (const std::string& d : documented) EXPECT_TRUE(served.count(d)) << "not served: " << d;
  EXPECT_GE(served.size(), 20u);
}

}  // namespace
}  // namespace ej::api
