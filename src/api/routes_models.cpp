// /v1/models routes, and the unauthenticated, signed download of a model's tokenizer.json
// (`tokenizer_url`: the Python SDK fetches it to tokenize offline).
#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

#include "api/cohere_types.h"
#include "api/router.h"
#include "common/clock.h"
#include "common/error.h"

namespace ej::api {

namespace {

// The signer's subject for a model's tokenizer: ':' never occurs in a dataset id, so these
// signatures cannot be replayed as part URLs (nor the other way round).
std::string tokenizer_subject(const std::string& model) {
  return "model:" + model;
}
constexpr const char* kTokenizerPart = "tokenizer.json";

std::string url_encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// model_json plus what only the routes know: the tokenizer link and the default marker.
// When this process started serving: OpenAI's `created` of a model (Unix seconds).
int64_t served_since_s() {
  static const int64_t started_s = now_us() / 1000000;
  return started_s;
}

nlohmann::json model_entry(const service::ServedModel& m, Router& r, const Ctx& ctx) {
  nlohmann::json j = model_json(m);
  j["dtype"] = m.embedder->info().dtype;  // the engine's compute mode: fp32, bf16 or int8
  // OpenAI's model object beside Cohere's fields (each SDK reads its own keys).
  j["id"] = m.name;
  j["object"] = "model";
  j["created"] = served_since_s();
  j["owned_by"] = "embedjobs";
  if (!m.embedder->info().tokenizer_file.empty()) {
    std::string signed_path =
        r.signer().signed_path(tokenizer_subject(m.name), kTokenizerPart, now_us() / 1000000);
    const std::string query = signed_path.substr(signed_path.find('?'));
    j["tokenizer_url"] =
        ctx.base_url + "/v1/models/" + url_encode(m.name) + "/tokenizer.json" + query;
  }
  if (r.services().models->default_model() == &m) {
    j["default_endpoints"] = nlohmann::json::array({"embed"});
  }
  if (!m.output_dimensions.empty()) j["output_dimensions"] = m.output_dimensions;
  return j;
}

bool bool_param(const Ctx& ctx, const char* name) {
  if (!ctx.req.has_param(name)) return false;
  const std::string v = ctx.req.get_param_value(name);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0" || v.empty()) return false;
  throw_invalid(std::string("invalid request: ") + name + " must be true or false, got '" + v +
                "'");
}

}  // namespace

void register_model_routes(Router& r) {
  r.get("/v1/models", [&r](Ctx& ctx) {
    std::string endpoint = ctx.req.get_param_value("endpoint");
    // Bounded so that start + page_size cannot overflow.
    int64_t page_size = int_param(ctx.req, "page_size", 20, 1, 1000);
    int64_t start = int_param(ctx.req, "page_token", 0, 0, 1000000000);
    const bool default_only = bool_param(ctx, "default_only");
    std::vector<const service::ServedModel*> models;
    if (endpoint.empty() || endpoint == "embed") {
      if (default_only) {
        if (const service::ServedModel* d = r.services().models->default_model()) {
          models.push_back(d);
        }
      } else {
        models = r.services().models->list();
      }
    }
    nlohmann::json list = nlohmann::json::array();
    for (int64_t i = start; i < static_cast<int64_t>(models.size()) && i < start + page_size; ++i) {
      list.push_back(model_entry(*models[static_cast<size_t>(i)], r, ctx));
    }
    // One body for both clients: Cohere's {"models"} and OpenAI's {"object": "list", "data"}.
    nlohmann::json body = {{"models", list}, {"object", "list"}, {"data", list}};
    if (start + page_size < static_cast<int64_t>(models.size())) {
      body["next_page_token"] = std::to_string(start + page_size);
    }
    send_json(ctx.res, 200, body);
  });

  r.get("/v1/models/([^/]+)", [&r](Ctx& ctx) {
    send_json(ctx.res, 200, model_entry(r.services().models->get(ctx.req.matches[1]), r, ctx));
  });

  // No API key: the link itself is the capability (like part URLs).
  r.get(
      "/v1/models/([^/]+)/tokenizer\\.json",
      [&r](Ctx& ctx) {
        const std::string name = ctx.req.matches[1];
        const std::string expires_s = ctx.req.get_param_value("expires");
        const std::string sig = ctx.req.get_param_value("sig");
        const int64_t expires = std::atoll(expires_s.c_str());
        if (expires_s.empty() || sig.empty() ||
            !r.signer().verify(tokenizer_subject(name), kTokenizerPart, expires, sig,
                               now_us() / 1000000)) {
          throw Error(ErrorCode::kPermissionDenied,
                      "this tokenizer link is invalid or has expired; get a new one from "
                      "GET /v1/models/" +
                          name);
        }
        const service::ServedModel& m = r.services().models->get(name);
        const std::string& file = m.embedder->info().tokenizer_file;
        std::ifstream in(file, std::ios::binary);
        if (file.empty() || !in) throw_not_found("model '" + name + "' has no tokenizer file");
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        ctx.res.status = 200;
        ctx.res.set_content(std::move(content), "application/json");
      },
      false);
}

}  // namespace ej::api
