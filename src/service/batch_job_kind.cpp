#include "service/batch_job_kind.h"

#include <algorithm>

#include "common/clock.h"
#include "common/error.h"
#include "common/failpoint.h"
#include "common/ids.h"
#include "common/log.h"
#include "service/avro_parts.h"
#include "service/embed_request.h"
#include "service/embedding_service.h"
#include "service/ingest/batch_input.h"

namespace ej::service {

namespace {

using nlohmann::json;

json nullable(json type) {
  return json::array({"null", std::move(type)});
}
json array_of(json items) {
  return {{"type", "array"}, {"items", std::move(items)}};
}
json field(const char* name, json type) {
  return {{"name", name}, {"type", std::move(type)}};
}
json record(const char* name, json fields) {
  return {{"type", "record"}, {"name", name}, {"fields", std::move(fields)}};
}

// One record of a chunk: its decoded call and task, or its output (an error) already.
struct Record {
  std::string custom_id;
  std::unique_ptr<BatchCall> call;
  std::shared_ptr<EmbedTask> task;
  json refused;  // null unless the record failed
};

class BatchChunk final : public ChunkRun {
 public:
  BatchChunk(Services* services, const BatchFormat& format, const store::ChunkLease& lease,
             const std::string& owner, const ServedModel& model, std::vector<json> rows,
             const std::string& path)
      : services_(services),
        format_(format),
        lease_(lease),
        owner_(owner),
        model_(model),
        writer_(path, format.output_schema_json(), kEmbedResultAvroCodec) {
    records_.reserve(rows.size());
    try {
      submit_all(rows);
    } catch (...) {
      cancel();  // what fails the batch: drop the records already queued
      throw;
    }
  }
  ~BatchChunk() override {
    if (!written_) writer_.abort();
  }

  bool wait_for(int64_t timeout_ms) override {
    const int64_t deadline = now_ms() + timeout_ms;
    for (; next_ < records_.size(); ++next_) {
      const auto& task = records_[next_].task;
      if (task && !task->wait_for(std::max<int64_t>(0, deadline - now_ms()))) return false;
    }
    return true;
  }
  void cancel() override {
    cancelled_ = true;
    for (auto& r : records_) {
      if (r.task) r.task->cancel();
    }
  }
  bool cancelled() const override { return cancelled_.load(); }

  void write(store::ChunkRow* c) override {
    int64_t tokens = 0, cached_tokens = 0, failed = 0;
    for (auto& r : records_) {
      if (r.task) {
        try {
          r.task->wait();
        } catch (const Error& e) {
          // A record the engine refuses fails alone; anything else fails the batch.
          if (e.code() != ErrorCode::kInvalidArgument) throw;
          r.refused = format_.refuse(r.custom_id, e);
        }
      }
      if (r.refused.is_null()) {
        // The embedding cache keeps what this record computed.
        services_->embeddings->remember(model_, *r.task);
        EmbedResult result;
        result.vectors = std::move(r.task->vectors);
        result.num_tokens = r.task->num_tokens;  // cache hits have no tokenized inputs
        for (int n : result.num_tokens) result.total_tokens += n;
        result.cached_tokens = r.task->cached_tokens;
        tokens += result.total_tokens;
        cached_tokens += result.cached_tokens;
        writer_.append(format_.answer(r.custom_id, *r.call, result, model_));
      } else {
        writer_.append(r.refused);
        ++failed;
      }
    }
    failpoint("job.before_chunk_close");
    // Fenced: refused once another worker holds the chunk (whose commit then counts its own).
    services_->store->put_chunk_failures(lease_, failed);
    c->tokens = tokens;
    c->cached_tokens = cached_tokens;
    c->size_bytes = static_cast<int64_t>(writer_.close());
    written_ = true;
  }

 private:
  // Decodes each record for the model and queues it as one bulk task.
  void submit_all(std::vector<json>& rows) {
    for (auto& row : rows) {
      Record r;
      r.custom_id = row.at("custom_id").get<std::string>();
      try {
        r.call = format_.decode(row, model_);
        r.call->request.owner = owner_;  // embedding cache entries are per owner
        r.task = services_->embeddings->submit_bulk(model_, r.call->request);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kInternal || e.code() == ErrorCode::kUnavailable) throw;
        r.task.reset();
        r.refused = format_.refuse(r.custom_id, e);
      }
      records_.push_back(std::move(r));
    }
  }

  Services* services_;
  const BatchFormat& format_;
  store::ChunkLease lease_;
  std::string owner_;
  const ServedModel& model_;
  AvroPartWriter writer_;
  // Built by the constructor; from then on cancel() (any thread) only reads the tasks, and
  // write() (the worker) leaves them in place.
  std::vector<Record> records_;
  size_t next_ = 0;  // records before it are finished (worker only)
  std::atomic<bool> cancelled_{false};
  bool written_ = false;
};

// Cohere's records: a v2 embed body each, answered with the v2 embed response.
struct CohereCall final : BatchCall {
  EmbedCall embed;
};

class CohereFormat final : public BatchFormat {
 public:
  std::string output_schema_json() const override { return batch_output_schema_json(); }
  std::unique_ptr<BatchCall> decode(const json& row, const ServedModel& model) const override {
    auto call = std::make_unique<CohereCall>();
    call->embed = decode_v2_embed(json::parse(row.at("body").get<std::string>()), &model);
    call->request = call->embed.request;
    return call;
  }
  json answer(const std::string& custom_id, const BatchCall& call, const EmbedResult& result,
              const ServedModel& model) const override {
    return {{"custom_id", custom_id},
            {"body", v2_embed_response(static_cast<const CohereCall&>(call).embed, result, model,
                                       random_uuid())},
            {"error", nullptr}};
  }
  json refuse(const std::string& custom_id, const std::exception& e) const override {
    const auto* err = dynamic_cast<const Error*>(&e);
    return {{"custom_id", custom_id},
            {"body", nullptr},
            {"error",
             {{"status_code", err ? batch_record_status(*err) : 500},
              {"message", public_message(e, "embedding record " + custom_id)}}}};
  }
};

class BatchRun final : public KindRun {
 public:
  BatchRun(Services* services, const store::JobRow& job) : services_(services), job_(job) {}

  std::unique_ptr<ChunkRun> start_chunk(const ServedModel& model, const store::ChunkLease& lease,
                                        std::vector<json> rows, const std::string& path) override {
    return start_batch_chunk(services_, format_, lease, job_.owner, model, std::move(rows), path);
  }

  void describe_output(store::DatasetRow* out, JobStatus status, int64_t rows) override {
    const std::string suffix = batch_output_suffix(job_.id);
    out->id = slugify(job_.name) + "-output-" + suffix;
    out->name = job_.name + "-output-" + suffix;
    out->dataset_type = std::string(kBatchEmbedOutputType);
    json warnings = json::array();
    if (status == JobStatus::kCancelled) {
      warnings.push_back("the batch was canceled: this dataset holds the first " +
                         std::to_string(rows) + " of " + std::to_string(job_.total_rows) +
                         " records, those finished before the cancel");
    }
    out->info = {{"schema", batch_output_schema_json()},
                 {"required_fields", {"custom_id"}},
                 {"preserve_fields", json::array()},
                 {"warnings", warnings},
                 {"job_id", job_.id}};
  }

  int64_t write_empty_part(const std::string& path) override {
    AvroPartWriter empty(path, batch_output_schema_json(), kEmbedResultAvroCodec);
    return static_cast<int64_t>(empty.close());
  }

 private:
  Services* services_;
  store::JobRow job_;
  CohereFormat format_;
};

}  // namespace

int batch_record_status(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kUnprocessable:
      return 422;
    default:
      return 500;
  }
}

std::unique_ptr<ChunkRun> start_batch_chunk(Services* services, const BatchFormat& format,
                                            const store::ChunkLease& lease,
                                            const std::string& owner, const ServedModel& model,
                                            std::vector<json> rows, const std::string& path) {
  return std::make_unique<BatchChunk>(services, format, lease, owner, model, std::move(rows), path);
}

std::string batch_output_schema_json() {
  static const std::string schema = [] {
    json int_lists = nullable(array_of(array_of("int")));
    json embeddings =
        record("embeddings_by_type",
               {field("float", nullable(array_of(array_of("float")))), field("int8", int_lists),
                field("uint8", int_lists), field("binary", int_lists), field("ubinary", int_lists),
                field("base64", nullable(array_of("string")))});
    json tokens = json::array({field("input_tokens", "long")});
    json meta = record("api_meta",
                       {field("api_version", record("api_version", {field("version", "string")})),
                        field("billed_units", record("billed_units", tokens)),
                        field("tokens", record("tokens", tokens)), field("cached_tokens", "long"),
                        field("warnings", nullable(array_of("string")))});
    json body =
        record("v2_embed_response", {field("id", "string"), field("response_type", "string"),
                                     field("embeddings", embeddings),
                                     field("texts", array_of("string")), field("meta", meta)});
    json error = record("batch_error", {field("status_code", "int"), field("message", "string")});
    json root =
        record("batch_embed_result", {field("custom_id", "string"), field("body", nullable(body)),
                                      field("error", nullable(error))});
    root["namespace"] = std::string(kAvroNamespace);
    return root.dump();
  }();
  return schema;
}

std::string batch_output_suffix(const std::string& job_id) {
  std::string h = sha256_hex("batch-output:" + job_id);
  static const char* kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  for (size_t i = 0; i < 6; ++i) {
    suffix.push_back(kAlphabet[std::stoi(h.substr(i * 2, 2), nullptr, 16) % 36]);
  }
  return suffix;
}

std::unique_ptr<KindRun> BatchJobKind::begin(const store::JobRow& job,
                                             const store::DatasetRow&) const {
  return std::make_unique<BatchRun>(services_, job);
}

}  // namespace ej::service
