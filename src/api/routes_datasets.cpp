// /v1/datasets routes and the signed part downloads.
#include <cctype>
#include <cstring>
#include <map>
#include <memory>

#include "api/cohere_types.h"
#include "api/file_response.h"
#include "api/http/json_body.h"
#include "api/idempotency.h"
#include "api/router.h"
#include "api/upload_spool.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "service/blob_store.h"
#include "service/dataset_service.h"
#include "service/storage_error.h"

namespace ej::api {

namespace {

const char* kFormFields[] = {"name",
                             "type",
                             "keep_original_file",
                             "skip_malformed_input",
                             "keep_fields",
                             "optional_fields",
                             "text_separator",
                             "csv_delimiter",
                             "dataset_type"};

bool is_form_field(const std::string& name) {
  for (const char* f : kFormFields) {
    if (name == f) return true;
  }
  return false;
}

// A parameter from the query string, else from the form fields.
std::optional<std::string> param(const http::Request& req,
                                 const std::map<std::string, std::string>& form,
                                 const std::string& key) {
  if (req.has_param(key.c_str())) return req.get_param_value(key.c_str());
  auto it = form.find(key);
  if (it != form.end()) return it->second;
  return std::nullopt;
}

bool parse_bool(const std::optional<std::string>& v, const char* name) {
  if (!v) return false;
  if (*v == "true" || *v == "True" || *v == "1") return true;
  if (*v == "false" || *v == "False" || *v == "0" || v->empty()) return false;
  throw_invalid(std::string(name) + " must be true or false, got '" + *v + "'");
}

// Repeated query keys (what the SDKs send), or one form field holding a JSON array (what the
// docs' curl examples send) or comma-separated names.
std::vector<std::string> list_param(const http::Request& req,
                                    const std::map<std::string, std::string>& form,
                                    const std::string& key) {
  std::vector<std::string> out;
  size_t n = req.get_param_value_count(key.c_str());
  for (size_t i = 0; i < n; ++i) out.push_back(req.get_param_value(key.c_str(), i));
  auto it = form.find(key);
  if (n > 0 || it == form.end() || it->second.empty()) return out;
  const std::string& v = it->second;
  if (v.front() == '[') {
    nlohmann::json arr = http::parse_bounded_json(v);
    if (!arr.is_array()) throw_invalid(key + " must be a JSON array of strings");
    for (const auto& e : arr) {
      if (!e.is_string()) throw_invalid(key + " must be a JSON array of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  for (size_t pos = 0; pos <= v.size();) {
    size_t end = std::min(v.find(',', pos), v.size());
    if (end > pos) out.push_back(v.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

using service::storage_problem;

void create_dataset(Ctx& ctx, const ContentReader& reader, Router& r) {
  service::DatasetService& datasets = *r.services().datasets;
  if (!ctx.req.is_multipart_form_data()) {
    throw_invalid("send the file as multipart/form-data, in a part named 'data'");
  }
  // The front refused a body over max_upload_bytes + 1 MiB (413) before it was read; the
  // body is spooled to disk by now and the data part is counted against the limit below.
  UploadRules rules;
  rules.file_parts = {"data", "file"};
  rules.refuse_part = [](const std::string& name) -> std::optional<std::string> {
    if (name == "eval_data") {
      return "eval_data is only for fine-tuning datasets; embed-input datasets take one file in "
             "the 'data' part";
    }
    if (is_form_field(name)) return std::nullopt;
    return "unknown multipart part '" + name +
           "': use data (or file) for the file, or one of the dataset options";
  };
  rules.one_file_only = "send one file only, in a part named 'data' (or 'file')";
  rules.too_large = "dataset too large";
  rules.max_bytes = r.services().config.max_upload_bytes;
  std::string path = datasets.new_upload_path();
  UploadForm upload = spool_upload(reader, path, rules);
  if (!upload.got_file) throw_invalid("no file: send the file in a multipart part named 'data'");
  const std::map<std::string, std::string>& form = upload.fields;
  const std::string& filename = upload.filename;

  service::CreateDatasetRequest req;
  req.name = param(ctx.req, form, "name").value_or("");
  req.type =
      param(ctx.req, form, "type").value_or(param(ctx.req, form, "dataset_type").value_or(""));
  req.filename = filename;
  req.keep_fields = list_param(ctx.req, form, "keep_fields");
  req.optional_fields = list_param(ctx.req, form, "optional_fields");
  req.skip_malformed_input =
      parse_bool(param(ctx.req, form, "skip_malformed_input"), "skip_malformed_input");
  req.keep_original_file =
      parse_bool(param(ctx.req, form, "keep_original_file"), "keep_original_file");
  req.csv_delimiter = param(ctx.req, form, "csv_delimiter");
  req.text_separator = param(ctx.req, form, "text_separator");
  // create() owns the file from here on (and removes it on error)
  service::Dataset dataset;
  try {
    dataset = datasets.create(ctx.owner, req, path);
  } catch (const Error& e) {
    const char* p = e.code() == ErrorCode::kInternal ? storage_problem(e.what()) : nullptr;
    if (!p) throw;
    log_warn(std::string("dataset upload refused: ") + e.what());
    throw_storage_full(p);
  }
  send_json(ctx.res, 200, {{"id", dataset.id}});
}

std::optional<int64_t> time_param(const http::Request& req, const char* key) {
  if (!req.has_param(key)) return std::nullopt;
  std::string v = req.get_param_value(key);
  if (v.empty()) return std::nullopt;
  std::optional<int64_t> t = parse_rfc3339(v);
  if (!t) throw_invalid(std::string(key) + " must be an RFC 3339 date-time, got '" + v + "'");
  return t;
}

std::string first_param(const http::Request& req, const char* a, const char* b) {
  if (req.has_param(a)) return req.get_param_value(a);
  if (req.has_param(b)) return req.get_param_value(b);
  return "";
}

}  // namespace

// RFC 6266: an ASCII `filename=` any client can show (quotes, backslashes, separators, control
// and non-ASCII bytes become '_') and, for anything else, `filename*=UTF-8''` percent-encoded.
static std::string content_disposition(const std::string& name) {
  std::string ascii;
  bool plain = true;
  for (unsigned char c : name) {
    bool ok = c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '/' && c != '%';
    ascii.push_back(ok ? static_cast<char>(c) : '_');
    plain = plain && ok;
  }
  if (ascii.empty()) ascii = "download";
  std::string out = "attachment; filename=\"" + ascii + "\"";
  if (plain) return out;
  static const char* kHex = "0123456789ABCDEF";
  std::string enc;
  for (unsigned char c : name) {
    if (std::isalnum(c) || std::strchr("!#$&+-.^_`|~", c) != nullptr) {
      enc.push_back(static_cast<char>(c));
    } else {
      enc += '%';
      enc += kHex[c >> 4];
      enc += kHex[c & 15];
    }
  }
  return out + "; filename*=UTF-8''" + enc;
}

// Declared in api/file_response.h.
void serve_blob(http::Response& res, service::BlobStore& blobs, const std::string& key,
                const std::string& name, const char* content_type) {
  failpoint("api.part_open");
  std::shared_ptr<service::BlobReader> blob = blobs.open(key);
  if (!blob) throw_not_found("dataset part not found");
  auto source = std::make_shared<http::FileSource>(-1, blob->size());
  source->read_at = [blob](uint64_t offset, void* buf, size_t n) -> int64_t {
    try {
      return static_cast<int64_t>(blob->read_at(offset, buf, n));
    } catch (const std::exception&) {
      return -1;  // the body ends with an I/O error
    }
  };
  res.set_header("Content-Disposition", content_disposition(name));
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_file(std::move(source), content_type);
}

void register_dataset_routes(Router& r) {
  r.post_stream("/v1/datasets", idempotent(r, [&r](Ctx& ctx, const ContentReader& reader) {
                  try {
                    create_dataset(ctx, reader, r);
                  } catch (const StorageFull& e) {
                    Router::send_error(ctx.res, 507, e.message);
                  }
                }));

  r.get("/v1/datasets", [&r](Ctx& ctx) {
    DatasetFilter f;
    f.dataset_type = first_param(ctx.req, "datasetType", "dataset_type");
    std::string status = first_param(ctx.req, "validationStatus", "validation_status");
    if (!status.empty()) {
      f.status = parse_dataset_status(status);
      // unknown / skipped are Cohere statuses this server never gives a dataset: none match.
      if (!f.status && status != "unknown" && status != "skipped") {
        throw_invalid(
            "validationStatus must be one of unknown, queued, processing, failed, "
            "validated, skipped; got '" +
            status + "'");
      }
      if (!f.status) {
        send_json(ctx.res, 200, {{"datasets", nlohmann::json::array()}});
        return;
      }
    }
    f.before_us = time_param(ctx.req, "before");
    f.after_us = time_param(ctx.req, "after");
    f.limit = int_param(ctx.req, "limit", 100, 1, 1000);
    f.offset = int_param(ctx.req, "offset", 0, 0, INT64_MAX / 2);
    nlohmann::json list = nlohmann::json::array();
    int64_t now_s = now_us() / 1000000;
    for (const auto& ds : r.services().datasets->list(ctx.owner, f)) {
      list.push_back(dataset_json(ds, r.signer(), ctx.base_url, now_s));
    }
    send_json(ctx.res, 200, {{"datasets", list}});
  });

  r.get("/v1/datasets/usage", [&r](Ctx& ctx) {
    int64_t usage = r.services().datasets->usage(ctx.owner);
    send_json(ctx.res, 200, {{"organization_usage", usage}, {"user_usage", usage}});
  });

  r.get("/v1/datasets/([^/]+)", [&r](Ctx& ctx) {
    service::Dataset ds = r.services().datasets->get(ctx.owner, ctx.req.matches[1]);
    send_json(ctx.res, 200,
              {{"dataset", dataset_json(ds, r.signer(), ctx.base_url, now_us() / 1000000)}});
  });

  r.del("/v1/datasets/([^/]+)", [&r](Ctx& ctx) {
    std::string kind;
    std::string job = r.services().datasets->remove(ctx.owner, ctx.req.matches[1], &kind);
    if (!job.empty()) {
      const std::string what = kind == "batch" ? "batch " : "embed job ";
      Router::send_error(ctx.res, 409,
                         "dataset " + ctx.req.matches[1] + " is the input of " + what + job +
                             ", which is still running: cancel it or wait for it to finish "
                             "before deleting the dataset");
      return;
    }
    send_json(ctx.res, 200, nlohmann::json::object());
  });

  // Signed, expiring part downloads: no API key; the signature is the capability.
  r.get(
      "/v1/dataset-parts/([^/]+)/([^/]+)",
      [&r](Ctx& ctx) {
        std::string id = ctx.req.matches[1];
        std::string part = ctx.req.matches[2];
        int64_t expires = int_param(ctx.req, "expires", 0, 0, INT64_MAX);
        std::string sig = ctx.req.get_param_value("sig");
        int64_t now_s = now_us() / 1000000;
        if (!r.signer().verify(id, part, expires, sig, now_s)) {
          throw Error(ErrorCode::kPermissionDenied,
                      expires < now_s && !sig.empty()
                          ? "this download link has expired: get the dataset again for a fresh one"
                          : "invalid download link signature");
        }
        service::DownloadFile file = r.services().datasets->download_file(id, part);
        serve_blob(ctx.res, *r.services().blobs, file.key, file.filename,
                   "application/octet-stream");
      },
      false);
}

}  // namespace ej::api
