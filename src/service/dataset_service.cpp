#include "service/dataset_service.h"

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/durable_file.h"
#include "common/error.h"
#include "common/failpoint.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/blob_store.h"
#include "service/dataset_ingest.h"
#include "service/ingest/batch_input.h"
#include "service/ingest/text_util.h"
#include "service/openai_batch_input.h"
#include "service/paths.h"
#include "service/storage_error.h"
#include "store/store.h"

namespace ej::service {

namespace fs = std::filesystem;

namespace {

IngestOptions ingest_options(const nlohmann::json& o, const ServiceConfig& cfg) {
  IngestOptions opt;
  opt.filename = o.value("filename", std::string());
  opt.keep_fields = o.value("keep_fields", std::vector<std::string>());
  opt.optional_fields = o.value("optional_fields", std::vector<std::string>());
  opt.skip_malformed_input = o.value("skip_malformed_input", false);
  if (o.contains("csv_delimiter")) opt.csv_delimiter = o["csv_delimiter"].get<std::string>();
  if (o.contains("text_separator")) opt.text_separator = o["text_separator"].get<std::string>();
  opt.max_rows_per_part = cfg.part_max_rows;
  return opt;
}

// Dataset names and upload filenames are labels shown back to clients (JSON, download
// headers, logs); they never become paths. What cannot be shown faithfully is refused.
void check_label(const char* field, const std::string& value) {
  if (size_t bad = ingest::first_invalid_utf8(value); bad != std::string::npos) {
    throw_invalid(std::string(field) + " is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7F) {
      throw_invalid(std::string(field) + " must not contain control characters (byte " +
                    std::to_string(i) + ")");
    }
  }
}

// The last path component of a client's filename ("../../x.csv" -> "x.csv", "C:\\a\\b.csv" ->
// "b.csv"), as browsers send it; "" for a name that is only separators or dots. 400 for a
// filename that is not UTF-8, holds control characters, or is over 255 bytes.
std::string harmless_filename(const std::string& raw) {
  check_label("filename", raw);
  const size_t slash = raw.find_last_of("/\\");
  std::string name = slash == std::string::npos ? raw : raw.substr(slash + 1);
  if (name == "." || name == "..") name.clear();
  if (name.size() > 255) throw_invalid("filename must be at most 255 bytes");
  return name;
}

std::string read_head(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string buf(n, '\0');
  in.read(buf.data(), static_cast<std::streamsize>(n));
  buf.resize(static_cast<size_t>(in.gcount()));
  return buf;
}

}  // namespace

DatasetService::DatasetService(Services* services) : services_(services) {
  fs::create_directories(services_->config.data_dir + "/uploads");
  fs::create_directories(services_->config.data_dir + "/datasets");
  // Uploads that were streaming when a process died never reached the database. Older versions
  // named them incoming-<random>.tmp; now they carry their process (unique_tmp_path), so that a
  // process starting on a shared data dir leaves the uploads of live API processes alone.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(services_->config.data_dir + "/uploads", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("incoming-", 0) == 0 && name.ends_with(".tmp")) fs::remove(e.path(), ec);
  }
  // Uploads, part, chunk and key files a dead process was writing (never published).
  int abandoned = remove_abandoned_temp_files(services_->config.data_dir);
  if (abandoned > 0)
    log_info("removed " + std::to_string(abandoned) + " abandoned temporary files");
}

DatasetService::~DatasetService() {
  stop_validator();
}

std::string DatasetService::new_upload_path() {
  return unique_tmp_path(services_->config.data_dir + "/uploads/incoming-" + random_alnum(16));
}

Dataset DatasetService::create(const std::string& owner, const CreateDatasetRequest& r,
                               const std::string& upload_path) {
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      if (!path.empty()) {
        std::error_code ec;
        fs::remove(path, ec);
      }
    }
  } cleanup{upload_path};

  if (r.name.empty()) throw_invalid("name must be set");
  if (r.name.size() >= 50) throw_invalid("name must be less than 50 characters");
  check_label("name", r.name);
  std::string filename = harmless_filename(r.filename);
  if (r.type.empty()) throw_invalid("type must be set");
  if (r.type != "embed-input" && r.type != kBatchEmbedInputType &&
      r.type != kOpenAiBatchInputType) {
    throw_invalid("dataset type is invalid: '" + r.type +
                  "' (this server accepts embed-input and batch-embed-v2-input uploads)");
  }
  if (r.type == kOpenAiBatchInputType && !r.keep_original_file) {
    throw_invalid(
        "openai-batch-input datasets are OpenAI batch files: upload them with POST "
        "/v1/files (purpose batch)");
  }
  nlohmann::json o = {{"filename", filename},
                      {"keep_fields", r.keep_fields},
                      {"optional_fields", r.optional_fields},
                      {"skip_malformed_input", r.skip_malformed_input},
                      {"keep_original_file", r.keep_original_file}};
  if (r.csv_delimiter) o["csv_delimiter"] = *r.csv_delimiter;
  if (r.text_separator) o["text_separator"] = *r.text_separator;
  IngestOptions opt = ingest_options(o, services_->config);
  validate_ingest_options(opt);

  std::error_code ec;
  auto size = fs::file_size(upload_path, ec);
  if (ec || size == 0)
    throw_invalid("the uploaded file is empty: send the file in the 'data' part");
  // Rejects what can never parse (e.g. the SDK's "[object Object]") before queueing.
  detect_input_format(opt.filename, read_head(upload_path, 64 * 1024), opt.csv_delimiter[0]);
  if (services_->store->usage_bytes(owner) + static_cast<int64_t>(size) >
      services_->config.org_quota_bytes) {
    throw_invalid("storage capacity exceeded: datasets may use at most " +
                  std::to_string(services_->config.org_quota_bytes) + " bytes");
  }

  store::DatasetRow row;
  row.id = make_dataset_id(r.name);
  row.owner = owner;
  row.name = r.name;
  row.dataset_type = r.type;
  row.status = DatasetStatus::kQueued;
  row.created_us = now_us();
  row.updated_us = row.created_us;
  row.size_bytes = static_cast<int64_t>(size);
  row.options = o;
  row.info = {{"parts", nlohmann::json::array()}};
  // Published where any worker can validate it; the upload survives a crash from here.
  services_->blobs->put_file(upload_key(row.id), upload_path);
  cleanup.path.clear();
  try {
    services_->store->insert_dataset(row);
  } catch (...) {
    services_->blobs->remove(upload_key(row.id));
    throw;
  }
  wake_.notify_all();
  return to_dataset(row);
}

namespace {

store::DatasetRow owned_row(store::Store& store, const std::string& owner, const std::string& id) {
  std::optional<store::DatasetRow> row = store.get_dataset(id);
  if (!row || row->owner != owner) throw_not_found("dataset with id " + id + " not found");
  return *row;
}

}  // namespace

Dataset DatasetService::get(const std::string& owner, const std::string& id) {
  return to_dataset(owned_row(*services_->store, owner, id));
}

std::vector<Dataset> DatasetService::list(const std::string& owner, const DatasetFilter& f) {
  std::vector<Dataset> out;
  for (const auto& row : services_->store->list_datasets(owner, f)) out.push_back(to_dataset(row));
  return out;
}

DownloadFile DatasetService::download_file(const std::string& id, const std::string& part) {
  std::optional<store::DatasetRow> row = services_->store->get_dataset(id);
  if (!row || row->status != DatasetStatus::kValidated) {
    throw_not_found("dataset with id " + id + " not found");
  }
  if (part == "original") {
    if (!row->info.contains("original_file")) throw_not_found("no original file kept");
    return {row->info["original_file"].get<std::string>(),
            row->options.value("filename", std::string("original"))};
  }
  for (const auto& p : row->info.value("parts", nlohmann::json::array())) {
    if (std::to_string(p.value("index", -1)) == part) {
      return {p.at("file").get<std::string>(), p.value("name", std::string("part.avro"))};
    }
  }
  throw_not_found("dataset " + id + " has no part " + part);
}

std::string DatasetService::remove(const std::string& owner, const std::string& id,
                                   std::string* job_kind) {
  owned_row(*services_->store, owner, id);
  for (const store::JobRow& job : services_->store->list_jobs(owner)) {
    if (job.input_dataset_id == id &&
        (job.status == JobStatus::kProcessing || job.status == JobStatus::kCancelling)) {
      if (job_kind) *job_kind = job.kind;
      return job.id;
    }
  }
  delete_files_and_row(id);
  return "";
}

void DatasetService::delete_files_and_row(const std::string& id) {
  services_->store->delete_dataset(id);  // first: no link or job sees the files after this
  services_->blobs->remove_prefix(dataset_key(id));
  services_->blobs->remove(upload_key(id));
}

int DatasetService::delete_expired(int64_t now_us) {
  const int64_t ttl_s = services_->config.dataset_ttl_s;
  if (ttl_s <= 0) return 0;
  int deleted = 0;
  for (;;) {
    std::vector<std::string> ids =
        services_->store->list_expired_datasets(now_us - ttl_s * 1000000, 100);
    for (const std::string& id : ids) {
      delete_files_and_row(id);
      log_info("dataset " + id + ": deleted, older than the retention of " + std::to_string(ttl_s) +
               " s");
      ++deleted;
    }
    if (ids.size() < 100) return deleted;
  }
}

int64_t DatasetService::usage(const std::string& owner) {
  return services_->store->usage_bytes(owner);
}

bool DatasetService::validate_one(const std::string& worker) {
  const ServiceConfig& cfg = services_->config;
  std::optional<store::DatasetRow> row =
      services_->store->claim_dataset_validation(worker, cfg.lease_ms * 20);
  if (!row) return false;
  log_info("dataset " + row->id + ": validating (attempt " + std::to_string(row->attempts) + ")");
  BlobStore& blobs = *services_->blobs;
  const std::string upload = upload_key(row->id);
  const std::string prefix = dataset_key(row->id);
  // The parts are written locally (for the filesystem blob store: in place) and then published.
  const std::string dir = blobs.staging_path(prefix);
  try {
    if (row->attempts > cfg.max_attempts) {
      throw Error(ErrorCode::kInternal, "validation was started " +
                                            std::to_string(row->attempts - 1) +
                                            " times without finishing");
    }
    fs::create_directories(dir);
    std::unique_ptr<LocalBlobFile> input = blobs.fetch(upload);
    const IngestOptions opt = ingest_options(row->options, cfg);
    IngestResult res =
        row->dataset_type == kBatchEmbedInputType  // batches (service/ingest/batch_input.h)
            ? ingest_batch_embed_input(input->path(), dir, "part", opt)
            : row->dataset_type == kOpenAiBatchInputType  // OpenAI files (openai_batch_input.h)
                  ? ingest_openai_batch_input(input->path(), dir, "part", opt)
                  : ingest_embed_input(input->path(), dir, "part", opt);
    input.reset();
    failpoint("dataset.after_ingest");
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& p : res.parts) {
      const std::string key = prefix + "/" + p.name;
      blobs.put_file(key, p.path);
      parts.push_back({{"index", p.index},
                       {"name", p.name},
                       {"file", key},
                       {"size_bytes", p.size_bytes},
                       {"num_rows", p.num_rows},
                       {"samples", p.samples}});
    }
    std::error_code ec;
    fs::remove(dir, ec);  // the staging dir, once empty (the filesystem store keeps its parts)
    int64_t size = static_cast<int64_t>(res.total_bytes);
    row->info = {{"schema", res.schema_json},
                 {"parts", parts},
                 {"warnings", res.warnings},
                 {"required_fields", res.required_fields},
                 {"preserve_fields", res.preserve_fields},
                 {"format", std::string(to_string(res.format))},
                 {"skipped_rows", res.skipped_rows}};
    if (res.extra_info.is_object()) row->info.update(res.extra_info);
    if (row->options.value("keep_original_file", false)) {
      row->info["original_file"] = upload;
      size += static_cast<int64_t>(blobs.size(upload).value_or(0));
    } else {
      blobs.remove(upload);
    }
    row->status = DatasetStatus::kValidated;
    row->validation_error.clear();
    row->num_rows = res.num_rows;
    row->size_bytes = size;
  } catch (const std::exception& e) {
    row->status = DatasetStatus::kFailed;
    const char* full = storage_problem(e.what(), cfg.data_dir);
    row->validation_error = full ? storage_message(full, "writing the dataset's parts")
                                 : public_message(e, "validating dataset " + row->id);
    row->num_rows = 0;
    std::error_code ec;
    fs::remove_all(dir, ec);  // what was staged (the filesystem store: the parts themselves)
    blobs.remove_prefix(prefix);
    blobs.remove(upload);
    row->size_bytes = 0;
    row->info = {{"parts", nlohmann::json::array()}};
  }
  if (!services_->store->finish_dataset_validation(*row, worker)) {
    log_warn("dataset " + row->id + ": lost its validation lease");
  } else {
    log_info("dataset " + row->id + ": " + std::string(status_name(row->status)) +
             (row->validation_error.empty() ? "" : " (" + row->validation_error + ")"));
  }
  return true;
}

void DatasetService::start_validator() {
  stopping_ = false;
  validator_ = std::thread([this] { validator_loop(); });
}

void DatasetService::stop_validator() {
  stopping_ = true;
  wake_.notify_all();
  if (validator_.joinable()) validator_.join();
}

void DatasetService::validator_loop() {
  std::string worker = services_->config.worker_id + "/validator";
  int64_t next_retention_us = 0;
  while (!stopping_) {
    bool did = false;
    try {
      did = validate_one(worker);
      if (now_us() >= next_retention_us) {
        delete_expired(now_us());
        next_retention_us = now_us() + 60 * 1000000LL;
      }
    } catch (const std::exception& e) {
      log_error(std::string("validator: ") + e.what());
    }
    if (!did) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(250));
    }
  }
}

}  // namespace ej::service
