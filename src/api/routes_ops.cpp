// Routes for operators and people, not SDKs: GET /health (the process answers), GET /ready
// (the store answers and models are loaded: a load balancer may send traffic), GET /metrics
// (Prometheus), GET /openapi.json, and the
// dashboard: GET / and GET /ui/<file> serve web/ (compiled in, api/web_assets.h). None needs an
// API key: the dashboard signs in with one from the browser and calls the public API with it.
#include "api/router.h"
#include "api/web_assets.h"
#include "common/error.h"
#include "common/log.h"
#include "service/api_keys.h"
#include "service/model_registry.h"

namespace ej::api {

namespace {

void send_asset(Ctx& ctx, const WebAsset& asset) {
  ctx.res.set_content(std::string(asset.bytes()), asset.content_type);
  // The page is small and changes with the binary: revalidate each load, never go stale.
  ctx.res.set_header("Cache-Control", "no-cache");
  ctx.res.set_header("X-Content-Type-Options", "nosniff");
  ctx.res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                     "frame-ancestors 'none'; base-uri 'none'");
  ctx.res.set_header("Referrer-Policy", "no-referrer");
}

const WebAsset* find_asset(const std::string& path) {
  for (const WebAsset& a : web_assets()) {
    if (path == a.path) return &a;
  }
  return nullptr;
}

}  // namespace

void register_ops_routes(Router& r) {
  r.get(
      "/health",
      [](Ctx& ctx) {
        send_json(ctx.res, 200, {{"status", "ok"}});
      },
      false);

  r.get(
      "/ready",
      [&r](Ctx& ctx) {
        nlohmann::json checks = nlohmann::json::object();
        bool ready = true;
        try {
          r.services().keys->count();  // one query: the store is reachable and answers
          checks["store"] = "ok";
        } catch (const std::exception& e) {
          log_warn(std::string("ready: store check failed: ") + e.what());
          checks["store"] = "unreachable";
          ready = false;
        }
        size_t models = r.services().models->list().size();
        checks["models"] = models;
        if (models == 0) ready = false;
        send_json(ctx.res, ready ? 200 : 503,
                  {{"status", ready ? "ready" : "not ready"}, {"checks", checks}});
      },
      false);

  // Prometheus scrape: aggregate numbers only (no owner's data), so no key, like /health.
  r.get(
      "/metrics",
      [&r](Ctx& ctx) {
        ctx.res.set_content(r.metrics().render(r.services()), "text/plain; version=0.0.4");
      },
      false);

  // The API described (web/openapi.json, compiled in; tests check it against the route table).
  r.get(
      "/openapi.json", [](Ctx& ctx) { send_asset(ctx, *find_asset("/ui/openapi.json")); }, false);

  r.get(
      "/", [](Ctx& ctx) { send_asset(ctx, *find_asset("/ui/index.html")); }, false);
  r.get(
      "/ui/([^/]+)",
      [](Ctx& ctx) {
        const WebAsset* asset = find_asset(ctx.req.path.substr(ctx.req.path.rfind("/ui/")));
        if (!asset) throw Error(ErrorCode::kNotFound, "no such dashboard file");
        send_asset(ctx, *asset);
      },
      false);
}

}  // namespace ej::api
