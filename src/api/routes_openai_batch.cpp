// OpenAI's Files and Batch APIs (/v1/files, /v1/batches) for batches of /v1/embeddings
// requests: the wire side of service/openai_files.h and service/openai_batches.h (which build
// OpenAI's objects). Errors use OpenAI's body (routes_openai.h); the JSON routes authenticate
// inside the handler like /v1/embeddings, the upload route before its body is read (a 401 with
// OpenAI's body too). Choices for what OpenAI leaves open: docs/openai.md.
#include "api/file_response.h"
#include "api/routes_openai.h"
#include "api/upload_spool.h"
#include "service/openai_batches.h"
#include "service/openai_files.h"

namespace ej::api {

namespace {

void create_file(Ctx& ctx, const ContentReader& reader, Router& r) {
  if (!ctx.req.is_multipart_form_data()) {
    service::openai_invalid(
        "send the file as multipart/form-data: the file in a part named 'file', and 'purpose'",
        "file");
  }
  service::OpenAiFiles& files = *r.services().openai_files;
  UploadRules rules;
  rules.file_parts = {"file"};
  rules.refuse_part = [](const std::string&) { return std::optional<std::string>(); };
  rules.one_file_only = "send one file only, in the part named 'file'";
  rules.too_large = "file too large";
  rules.max_bytes = r.services().config.max_upload_bytes;
  const std::string path = files.new_upload_path();
  UploadForm form = spool_upload(reader, path, rules);
  if (!form.got_file) {
    service::openai_invalid("'file' is required: send the file in a multipart part named 'file'",
                            "file");
  }
  if (form.file_bytes == 0) {
    std::remove(path.c_str());
    service::openai_invalid("the file is empty: a batch file has one request per line", "file");
  }
  auto purpose = form.fields.find("purpose");
  send_json(ctx.res, 200,
            files.create(ctx.owner, purpose == form.fields.end() ? "" : purpose->second,
                         form.filename, path));
}

service::ListFilesRequest list_files_request(const http::Request& req) {
  service::ListFilesRequest l;
  l.purpose = req.get_param_value("purpose");
  l.after = req.get_param_value("after");
  l.limit = int_param(req, "limit", 10000, 1, 10000);
  const std::string order = req.get_param_value("order");
  if (!order.empty() && order != "asc" && order != "desc") {
    service::openai_invalid("'order' must be 'asc' or 'desc', got '" + order + "'", "order");
  }
  l.ascending = order == "asc";
  return l;
}

// An OpenAI route: authenticated inside, answered with OpenAI's error body.
Router::Handler openai_route(Router& r, std::function<void(Ctx&, const std::string&)> fn) {
  return [&r, fn = std::move(fn)](Ctx& ctx) {
    openai_guarded(ctx, [&] { fn(ctx, r.owner_of(ctx.req)); });
  };
}

void send_openai_401(http::Response& res, int status, const std::string& message) {
  send_openai_error(res, status, message, "", status == 401 ? "invalid_api_key" : "");
}

}  // namespace

void register_openai_batch_routes(Router& r) {
  r.post_stream(
      "/v1/files",
      [&r](Ctx& ctx, const ContentReader& reader) {
        openai_guarded(ctx, [&] {
          try {
            create_file(ctx, reader, r);
          } catch (const StorageFull& e) {
            send_openai_error(ctx.res, 507, e.message, "", "");
          }
        });
      },
      true, &send_openai_401);

  r.get("/v1/files",
        openai_route(r,
                     [&r](Ctx& ctx, const std::string& owner) {
                       send_json(
                           ctx.res, 200,
                           r.services().openai_files->list(owner, list_files_request(ctx.req)));
                     }),
        false);
  r.get("/v1/files/([^/]+)",
        openai_route(r,
                     [&r](Ctx& ctx, const std::string& owner) {
                       send_json(ctx.res, 200,
                                 r.services().openai_files->get(owner, ctx.req.matches[1]));
                     }),
        false);
  r.get("/v1/files/([^/]+)/content",
        openai_route(r,
                     [&r](Ctx& ctx, const std::string& owner) {
                       service::OpenAiFileContent c =
                           r.services().openai_files->content(owner, ctx.req.matches[1]);
                       serve_blob(ctx.res, *r.services().blobs, c.key, c.filename,
                                  "application/octet-stream");
                     }),
        false);
  r.del("/v1/files/([^/]+)",
        openai_route(r,
                     [&r](Ctx& ctx, const std::string& owner) {
                       send_json(ctx.res, 200,
                                 r.services().openai_files->remove(owner, ctx.req.matches[1]));
                     }),
        false);

  r.post("/v1/batches",
         openai_route(r,
                      [&r](Ctx& ctx, const std::string& owner) {
                        send_json(
                            ctx.res, 200,
                            r.services().openai_batches->create(owner, parse_json_body(ctx.req)));
                      }),
         false);
  r.get("/v1/batches",
        openai_route(r,
                     [&r](Ctx& ctx, const std::string& owner) {
                       send_json(ctx.res, 200,
                                 r.services().openai_batches->list(
                                     owner, ctx.req.get_param_value("after"),
                                     int_param(ctx.req, "limit", 20, 1, 100)));
                     }),
        false);
  r.get("/v1/batches/([^/]+)",
        openai_route(r,
                     [&r](Ctx& ctx, const std::string& owner) {
                       send_json(ctx.res, 200,
                                 r.services().openai_batches->get(owner, ctx.req.matches[1]));
                     }),
        false);
  // The SDK sends no body; a body is not read.
  r.post("/v1/batches/([^/]+)/cancel",
         openai_route(r,
                      [&r](Ctx& ctx, const std::string& owner) {
                        send_json(ctx.res, 200,
                                  r.services().openai_batches->cancel(owner, ctx.req.matches[1]));
                      }),
         false);
}

}  // namespace ej::api
