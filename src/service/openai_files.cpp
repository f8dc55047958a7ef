#include "service/openai_files.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "service/dataset_service.h"
#include "service/openai_batch_input.h"
#include "service/openai_batch_job_kind.h"
#include "service/openai_embeddings.h"
#include "service/openai_file_ref.h"
#include "service/paths.h"

namespace ej::service {

namespace {

using nlohmann::json;
using View = OpenAiFileRef::View;

[[noreturn]] void no_such_file(const std::string& id) {
  throw OpenAiError(ErrorCode::kNotFound, "No such File object: " + id, "file_id", "");
}

const json& openai_info(const store::DatasetRow& row) {
  static const json empty = json::object();
  auto it = row.info.find("openai");
  return it == row.info.end() ? empty : *it;
}

// The output dataset's view (output or error) has lines.
bool view_has_lines(const store::DatasetRow& row, View view) {
  const json& o = openai_info(row);
  const char* key = view == View::kError ? "error" : "output";
  return o.contains(key) && o[key].value("lines", int64_t{0}) > 0;
}

// Every file of `owner`: the input datasets and the output datasets' views that have lines.
std::vector<OpenAiFileRef> all_files(store::Store& store, const std::string& owner) {
  std::vector<OpenAiFileRef> out;
  for (std::string_view type : {kOpenAiBatchInputType, kOpenAiBatchOutputType}) {
    DatasetFilter f;
    f.dataset_type = std::string(type);
    f.limit = 1000;
    for (f.offset = 0;; f.offset += f.limit) {
      std::vector<store::DatasetRow> rows = store.list_datasets(owner, f);
      for (auto& row : rows) {
        if (type == kOpenAiBatchInputType) {
          out.push_back({row, View::kInput});
          continue;
        }
        for (View v : {View::kOutput, View::kError}) {
          if (view_has_lines(row, v)) out.push_back({row, v});
        }
      }
      if (static_cast<int64_t>(rows.size()) < f.limit) break;
    }
  }
  return out;
}

std::string ref_id(const OpenAiFileRef& ref) {
  if (ref.view == View::kInput) return ref.row.id;
  const std::string job = openai_info(ref.row).value("batch_id", std::string());
  return ref.view == View::kError ? openai_error_file_id(job) : openai_output_file_id(job);
}

}  // namespace

std::string OpenAiFiles::new_upload_path() {
  return services_->datasets->new_upload_path();
}

json OpenAiFiles::create(const std::string& owner, const std::string& purpose,
                         const std::string& filename, const std::string& upload_path) {
  if (purpose != "batch") {
    std::error_code ec;
    std::filesystem::remove(upload_path, ec);
    throw OpenAiError(ErrorCode::kInvalidArgument,
                      purpose.empty() ? "'purpose' is required: this server takes 'batch' files"
                                      : "'purpose' must be 'batch' (the only purpose served: "
                                        "files for the Batch API), got '" +
                                            purpose + "'",
                      "purpose", "");
  }
  CreateDatasetRequest req;
  req.name = "file";
  req.type = std::string(kOpenAiBatchInputType);
  req.filename = filename;
  req.keep_original_file = true;  // GET /v1/files/{id}/content sends it back
  Dataset ds = services_->datasets->create(owner, req, upload_path);
  return get(owner, ds.id);
}

OpenAiFileRef OpenAiFiles::resolve(const std::string& owner, const std::string& file_id) {
  std::string dataset_id = file_id;
  bool error_view = false;
  const bool output = openai_output_dataset_of(file_id, &dataset_id, &error_view);
  std::optional<store::DatasetRow> row = services_->store->get_dataset(dataset_id);
  if (!row || row->owner != owner) no_such_file(file_id);
  OpenAiFileRef ref{*row, View::kInput};
  if (output) {
    ref.view = error_view ? View::kError : View::kOutput;
    if (row->dataset_type != kOpenAiBatchOutputType || !view_has_lines(*row, ref.view)) {
      no_such_file(file_id);
    }
  } else if (row->dataset_type != kOpenAiBatchInputType) {
    no_such_file(file_id);
  }
  return ref;
}

json OpenAiFiles::file_json(const OpenAiFileRef& ref) {
  const store::DatasetRow& row = ref.row;
  const json& o = openai_info(row);
  json j = {{"id", ref_id(ref)},
            {"object", "file"},
            {"created_at", row.created_us / 1000000},
            {"expires_at", nullptr},
            {"status_details", nullptr}};
  if (ref.view == View::kInput) {
    j["purpose"] = "batch";
    j["filename"] = row.options.value("filename", std::string("file.jsonl"));
    // Until validated, size_bytes is the upload's size; after, info.openai.bytes is.
    j["bytes"] = o.value("bytes", row.size_bytes);
    switch (row.status) {
      case DatasetStatus::kValidated:
        j["status"] = "processed";
        break;
      case DatasetStatus::kFailed:
        j["status"] = "error";
        j["status_details"] = row.validation_error;
        break;
      default:
        j["status"] = "uploaded";
    }
  } else {
    const bool err = ref.view == View::kError;
    const std::string batch = o.value("batch_id", std::string());
    j["purpose"] = "batch_output";
    j["filename"] = "batch_" + batch + (err ? "_error.jsonl" : "_output.jsonl");
    j["bytes"] = o[err ? "error" : "output"].value("bytes", int64_t{0});
    j["status"] = "processed";
  }
  return j;
}

json OpenAiFiles::get(const std::string& owner, const std::string& file_id) {
  return file_json(resolve(owner, file_id));
}

json OpenAiFiles::list(const std::string& owner, const ListFilesRequest& r) {
  std::vector<OpenAiFileRef> files = all_files(*services_->store, owner);
  // Newest first (ties: output before error, then id), or the reverse for order=asc.
  auto key = [](const OpenAiFileRef& f) {
    return std::make_tuple(f.row.created_us, static_cast<int>(f.view), f.row.id);
  };
  std::sort(files.begin(), files.end(), [&](const OpenAiFileRef& a, const OpenAiFileRef& b) {
    return r.ascending ? key(a) < key(b) : key(a) > key(b);
  });
  json data = json::array();
  bool started = r.after.empty(), more = false;
  for (const auto& f : files) {
    if (!r.purpose.empty() && (f.view == View::kInput ? "batch" : "batch_output") != r.purpose) {
      continue;
    }
    if (!started) {
      started = ref_id(f) == r.after;
      continue;
    }
    if (static_cast<int64_t>(data.size()) == r.limit) {
      more = true;
      break;
    }
    data.push_back(file_json(f));
  }
  json page = {{"object", "list"}, {"data", data}, {"has_more", more}};
  page["first_id"] = data.empty() ? json(nullptr) : data.front()["id"];
  page["last_id"] = data.empty() ? json(nullptr) : data.back()["id"];
  return page;
}

OpenAiFileContent OpenAiFiles::content(const std::string& owner, const std::string& file_id) {
  OpenAiFileRef ref = resolve(owner, file_id);
  const std::string name = file_json(ref)["filename"].get<std::string>();
  if (ref.view != View::kInput) {
    return {openai_output_jsonl_key(ref.row.id, ref.view == View::kError), name};
  }
  if (ref.row.status == DatasetStatus::kValidated) {
    return {services_->datasets->download_file(ref.row.id, "original").key, name};
  }
  if (ref.row.status == DatasetStatus::kFailed) {
    throw OpenAiError(ErrorCode::kInvalidArgument,
                      "file " + file_id + " could not be stored: " + ref.row.validation_error,
                      "file_id", "");
  }
  return {upload_key(ref.row.id), name};  // still waiting for the validator
}

json OpenAiFiles::remove(const std::string& owner, const std::string& file_id) {
  OpenAiFileRef ref = resolve(owner, file_id);
  std::string job = services_->datasets->remove(owner, ref.row.id);
  if (!job.empty()) {
    throw OpenAiError(ErrorCode::kInvalidArgument,
                      "file " + file_id + " is the input of batch " + job +
                          ", which is still running: cancel it or wait for it to finish before "
                          "deleting the file",
                      "file_id", "");
  }
  return {{"id", file_id}, {"object", "file"}, {"deleted", true}};
}

}  // namespace ej::service
