// /v1/models routes.
#include "api/cohere_types.h"
#include "api/router.h"
#include "common/error.h"

namespace ej::api {

void register_model_routes(Router& r) {
  r.get("/v1/models", [&r](Ctx& ctx) {
    std::string endpoint = ctx.req.get_param_value("endpoint");
    int64_t page_size = 20;
    if (ctx.req.has_param("page_size")) {
      page_size = std::atoll(ctx.req.get_param_value("page_size").c_str());
      if (page_size < 1 || page_size > 1000) throw_invalid("page_size must be between 1 and 1000");
    }
    int64_t start = 0;
    if (ctx.req.has_param("page_token") && !ctx.req.get_param_value("page_token").empty()) {
      start = std::atoll(ctx.req.get_param_value("page_token").c_str());
      if (start < 0) throw_invalid("invalid page_token");
    }
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
