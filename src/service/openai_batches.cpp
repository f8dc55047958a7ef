#include "service/openai_batches.h"

#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "service/job_service.h"
#include "service/model_registry.h"
#include "service/openai_batch_input.h"
#include "service/openai_batch_job_kind.h"
#include "service/openai_embeddings.h"
#include "service/openai_file_ref.h"
#include "service/openai_files.h"

namespace ej::service {

namespace {

using nlohmann::json;

constexpr const char* kEndpoint = "/v1/embeddings";
constexpr int64_t kWindowS = 24 * 3600;
constexpr int64_t kFileWaitMs = 60000;  // how long create waits for a file being stored

[[noreturn]] void invalid(const std::string& message, const std::string& param) {
  openai_invalid(message, param);
}

int64_t seconds(int64_t us) {
  return us / 1000000;
}

// OpenAI's metadata: up to 16 string pairs, keys up to 64 characters, values up to 512.
json check_metadata(const json& body) {
  auto it = body.find("metadata");
  if (it == body.end() || it->is_null()) return nullptr;
  if (!it->is_object()) invalid("'metadata' must be an object of strings", "metadata");
  if (it->size() > 16) invalid("'metadata' may hold at most 16 keys", "metadata");
  for (const auto& [k, v] : it->items()) {
    if (k.size() > 64) invalid("'metadata' keys may be at most 64 characters", "metadata");
    if (!v.is_string() || v.get_ref<const std::string&>().size() > 512) {
      invalid("'metadata' values must be strings of at most 512 characters", "metadata");
    }
  }
  return *it;
}

std::string string_param(const json& body, const char* name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) invalid(std::string("'") + name + "' is required", name);
    return "";
  }
  if (!it->is_string()) invalid(std::string("'") + name + "' must be a string", name);
  return it->get<std::string>();
}

json error_object(const std::string& code, const std::string& message, const json& param,
                  const json& line) {
  return {{"code", code}, {"message", message}, {"param", param}, {"line", line}};
}

}  // namespace

json OpenAiBatches::create(const std::string& owner, const json& body) {
  const std::string file_id = string_param(body, "input_file_id", true);
  const std::string endpoint = string_param(body, "endpoint", true);
  if (endpoint != kEndpoint) {
    invalid(
        "'endpoint' must be '/v1/embeddings' (the only batch endpoint this server serves), "
        "got '" +
            endpoint + "'",
        "endpoint");
  }
  const std::string window = string_param(body, "completion_window", true);
  if (window != "24h")
    invalid("'completion_window' must be '24h', got '" + window + "'", "completion_window");
  const json metadata = check_metadata(body);

  OpenAiFiles files(services_);
  OpenAiFileRef file = files.resolve(owner, file_id);
  if (file.view != OpenAiFileRef::View::kInput) {
    invalid("file " + file_id + " is a batch's output, not a batch input file", "input_file_id");
  }
  // The validator stores a file within moments; a batch needs its lines checked.
  for (const int64_t until = now_ms() + kFileWaitMs;
       file.row.status == DatasetStatus::kQueued ||
       file.row.status == DatasetStatus::kProcessing;) {
    if (now_ms() > until) {
      invalid("file " + file_id + " is still being processed: retry in a moment", "input_file_id");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    file = files.resolve(owner, file_id);
  }

  store::JobRow job;
  job.kind = std::string(kOpenAiBatchKind);
  job.id = "batch_" + random_alnum(24);
  job.owner = owner;
  job.name = metadata.dump();
  job.status = JobStatus::kProcessing;
  job.input_dataset_id = file.row.id;
  job.created_us = now_us();
  job.updated_us = job.created_us;
  job.chunk_rows = services_->config.chunk_rows;  // as JobService::create
  job.total_rows = file.row.num_rows;

  // What OpenAI's validation fails a batch for: the file's broken lines, or its model.
  json errors = json::array();
  const json o = file.row.info.value("openai", json::object());
  if (file.row.status == DatasetStatus::kFailed) {
    errors.push_back(error_object("invalid_file", file.row.validation_error, nullptr, nullptr));
  } else if (o.value("num_errors", int64_t{0}) > 0) {
    errors = o.value("errors", json::array());
  } else {
    job.model = o.value("model", std::string());
    try {
      job.model_identity = services_->models->get(job.model).identity;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      errors.push_back(error_object("model_not_found",
                                    "model '" + job.model + "' is not served by this server",
                                    "body.model", 1));
    }
  }
  if (!errors.empty()) {
    job.status = JobStatus::kFailed;
    job.error = json{{"errors", errors}}.dump();
    job.total_rows = o.value("requests", job.total_rows);
  }
  services_->store->insert_job(job);
  if (errors.empty()) services_->jobs->wake();
  return batch_json(job);
}

store::JobRow OpenAiBatches::owned(const std::string& owner, const std::string& batch_id) {
  std::optional<store::JobRow> job = services_->store->get_job(batch_id);
  if (!job || job->owner != owner || job->kind != kOpenAiBatchKind) {
    throw OpenAiError(ErrorCode::kNotFound, "No such Batch object: " + batch_id, "batch_id", "");
  }
  return *job;
}

json OpenAiBatches::get(const std::string& owner, const std::string& batch_id) {
  return batch_json(owned(owner, batch_id));
}

json OpenAiBatches::list(const std::string& owner, const std::string& after, int64_t limit) {
  std::optional<store::JobPageKey> key;
  if (!after.empty()) {
    store::JobRow last = owned(owner, after);
    key = store::JobPageKey{last.created_us, last.id};
  }
  std::vector<store::JobRow> rows = services_->store->list_jobs_page(
      owner, std::string(kOpenAiBatchKind), false, false, key, limit + 1);
  const bool more = static_cast<int64_t>(rows.size()) > limit;
  if (more) rows.pop_back();
  json data = json::array();
  for (const auto& row : rows) data.push_back(batch_json(row));
  json page = {{"object", "list"}, {"data", data}, {"has_more", more}};
  page["first_id"] = data.empty() ? json(nullptr) : data.front()["id"];
  page["last_id"] = data.empty() ? json(nullptr) : data.back()["id"];
  return page;
}

json OpenAiBatches::cancel(const std::string& owner, const std::string& batch_id) {
  store::JobRow job = owned(owner, batch_id);
  if (job.status != JobStatus::kProcessing) {
    invalid("batch " + batch_id +
                " cannot be cancelled: only a validating or in_progress batch "
                "can be (its status is " +
                batch_json(job)["status"].get<std::string>() + ")",
            "batch_id");
  }
  services_->jobs->cancel_run(batch_id);
  return batch_json(owned(owner, batch_id));
}

json OpenAiBatches::batch_json(const store::JobRow& row) {
  std::string status;
  switch (row.status) {
    case JobStatus::kProcessing:
      // started_us: set by the first claim of one of its chunks (or of its final step).
      status = row.started_us == 0 ? "validating" : "in_progress";
      break;
    case JobStatus::kCancelling:
      status = "cancelling";
      break;
    case JobStatus::kCancelled:
      status = "cancelled";
      break;
    case JobStatus::kComplete:
      status = "completed";
      break;
    case JobStatus::kFailed:
      status = "failed";
      break;
  }
  json metadata = json::parse(row.name, nullptr, false);
  if (metadata.is_discarded()) metadata = nullptr;
  const int64_t failed = row.rows_done > 0 ? services_->store->failed_rows(row.id) : 0;
  json j = {
      {"id", row.id},
      {"object", "batch"},
      {"endpoint", kEndpoint},
      {"errors", nullptr},
      {"input_file_id", row.input_dataset_id},
      {"completion_window", "24h"},
      {"status", status},
      {"output_file_id", nullptr},
      {"error_file_id", nullptr},
      {"created_at", seconds(row.created_us)},
      {"in_progress_at", nullptr},
      {"expires_at", seconds(row.created_us) + kWindowS},
      {"finalizing_at", nullptr},
      {"completed_at", nullptr},
      {"failed_at", nullptr},
      {"expired_at", nullptr},
      {"cancelling_at", nullptr},
      {"cancelled_at", nullptr},
      {"request_counts",
       {{"total", row.total_rows}, {"completed", row.rows_done - failed}, {"failed", failed}}},
      {"metadata", metadata}};
  // The first claim of one of its chunks (docs/openai.md); a batch refused at create has none.
  if (row.started_us > 0 && !row.error.starts_with("{\"errors\"")) {
    j["in_progress_at"] = seconds(row.started_us);
  }
  const json updated = seconds(row.updated_us);
  if (status == "cancelling") j["cancelling_at"] = updated;
  if (status == "cancelled") j["cancelled_at"] = updated;
  if (status == "completed") j["completed_at"] = updated;
  if (status == "failed") {
    j["failed_at"] = updated;
    json stored = json::parse(row.error, nullptr, false);
    json errors = stored.is_object() && stored.contains("errors")
                      ? stored["errors"]
                      : json::array({error_object("batch_failed", row.error, nullptr, nullptr)});
    j["errors"] = {{"object", "list"}, {"data", errors}};
  }
  if (!row.output_dataset_id.empty()) {
    std::optional<store::DatasetRow> out = services_->store->get_dataset(row.output_dataset_id);
    if (out) {
      const json o = out->info.value("openai", json::object());
      if (o.value("output", json::object()).value("lines", int64_t{0}) > 0) {
        j["output_file_id"] = openai_output_file_id(row.id);
      }
      if (o.value("error", json::object()).value("lines", int64_t{0}) > 0) {
        j["error_file_id"] = openai_error_file_id(row.id);
      }
    }
  }
  return j;
}

}  // namespace ej::service
