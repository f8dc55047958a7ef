// /v1/models routes.
#include "api/cohere_types.h"
#include "api/router.h"
#include "common/error.h"

namespace ej::api {

void register_model_routes(Router& r) {
  r.get("/v1/models", [&r](Ctx& ctx) {
    std::string endpoint = ctx.req.get_param_value("endpoint");
    // Bounded so that start + page_size cannot overflow.
    int64_t page_size = int_param(ctx.req, "page_size", 20, 1, 1000);
    int64_t start = int_param(ctx.req, "page_token", 0, 0, 1000000000);
    std::vector<const service::ServedModel*> models;
    if (endpoint.empty() || endpoint == "embed") models = r.services().models->list();
    nlohmann::json list = nlohmann::json::array();
    for (int64_t i = start; i < static_cast<int64_t>(models.size()) && i < start + page_size; ++i) {
      list.push_back(model_json(*models[static_cast<size_t>(i)]));
    }
    nlohmann::json body = {{"models", list}};
    if (start + page_size < static_cast<int64_t>(models.size())) {
      body["next_page_token"] = std::to_string(start + page_size);
    }
    send_json(ctx.res, 200, body);
  });

  r.get("/v1/models/([^/]+)", [&r](Ctx& ctx) {
    send_json(ctx.res, 200, model_json(r.services().models->get(ctx.req.matches[1])));
  });
}

}  // namespace ej::api
