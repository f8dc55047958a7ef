#include "service/openai_batch_job_kind.h"

#include "common/durable_file.h"
#include "common/ids.h"
#include "service/avro_parts.h"
#include "service/batch_job_kind.h"
#include "service/blob_store.h"
#include "service/openai_batch_input.h"
#include "service/openai_embeddings.h"
#include "service/paths.h"

namespace ej::service {

namespace {

using nlohmann::json;

constexpr std::string_view kOutputPrefix = "file-out";
constexpr std::string_view kErrorPrefix = "file-err";

std::string output_schema_json() {
  return json{{"type", "record"},
              {"name", "openai_batch_line"},
              {"namespace", std::string(kAvroNamespace)},
              {"fields",
               {{{"name", "line"}, {"type", "string"}}, {{"name", "failed"}, {"type", "boolean"}}}}}
      .dump();
}

std::string file_suffix(const std::string& job_id) {
  return sha256_hex("openai-batch-output:" + job_id).substr(0, 24);
}

struct OpenAiCall final : BatchCall {
  OpenAiEmbedCall embed;
};

// OpenAI's output lines for one batch.
class OpenAiFormat final : public BatchFormat {
 public:
  OpenAiFormat(Services* services, std::string job_id)
      : services_(services), job_id_(std::move(job_id)) {}

  std::string output_schema_json() const override { return ej::service::output_schema_json(); }

  std::unique_ptr<BatchCall> decode(const json& row, const ServedModel& model) const override {
    auto call = std::make_unique<OpenAiCall>();
    call->embed = decode_openai_embeddings(json::parse(row.at("body").get<std::string>()), model,
                                           *services_->embeddings);
    call->request = std::move(call->embed.request);
    return call;
  }

  json answer(const std::string& custom_id, const BatchCall& call, const EmbedResult& result,
              const ServedModel& model) const override {
    const auto& c = static_cast<const OpenAiCall&>(call);
    return line(custom_id, 200, openai_embeddings_response(c.embed, result, model), false);
  }

  json refuse(const std::string& custom_id, const std::exception& e) const override {
    OpenAiFailure f = openai_failure(e);
    return line(custom_id, f.status, openai_error_body(f.status, f.message, f.param, f.code), true);
  }

 private:
  // {"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error": null}, in
  // OpenAI's key order.
  json line(const std::string& custom_id, int status, const json& body, bool failed) const {
    const std::string h = sha256_hex("openai-batch-line:" + job_id_ + "\n" + custom_id);
    const auto dump = [](const json& j) {
      return j.dump(-1, ' ', false, json::error_handler_t::replace);
    };
    std::string text = "{\"id\":" + dump("batch_req_" + h.substr(0, 32)) +
                       ",\"custom_id\":" + dump(custom_id) +
                       ",\"response\":{\"status_code\":" + std::to_string(status) +
                       ",\"request_id\":" + dump(h.substr(32, 32)) + ",\"body\":" + dump(body) +
                       "},\"error\":null}";
    return {{"line", std::move(text)}, {"failed", failed}};
  }

  Services* services_;
  std::string job_id_;
};

class OpenAiRun final : public KindRun {
 public:
  OpenAiRun(Services* services, const store::JobRow& job)
      : services_(services), job_(job), format_(services, job.id) {}

  std::unique_ptr<ChunkRun> start_chunk(const ServedModel& model, const store::ChunkLease& lease,
                                        std::vector<json> rows, const std::string& path) override {
    return start_batch_chunk(services_, format_, lease, job_.owner, model, std::move(rows), path);
  }

  void describe_output(store::DatasetRow* out, JobStatus, int64_t rows) override {
    out->id = openai_output_file_id(job_.id);
    out->name = "batch_" + job_.id + "_output";
    out->dataset_type = std::string(kOpenAiBatchOutputType);
    BlobStore& blobs = *services_->blobs;
    // The two downloads, from the committed chunks the runner assembles (the first `rows` rows):
    // written at their staging paths, then published.
    const std::string keys[2] = {openai_output_jsonl_key(out->id, false),
                                 openai_output_jsonl_key(out->id, true)};
    const std::string staged[2] = {blobs.staging_path(keys[0]), blobs.staging_path(keys[1])};
    DurableFile files[2] = {DurableFile(staged[0]), DurableFile(staged[1])};
    int64_t lines[2] = {0, 0};
    int64_t next_row = 0;
    for (const store::ChunkRow& c : services_->store->list_chunks(job_.id)) {
      if (c.first_row != next_row || next_row >= rows) break;
      AvroPartReader reader(blobs.must_open(c.file), c.file);
      json rec;
      while (reader.next(&rec)) {
        const int failed = rec.at("failed").get<bool>() ? 1 : 0;
        files[failed].write(rec.at("line").get_ref<const std::string&>());
        files[failed].write("\n", 1);
        ++lines[failed];
      }
      next_row += c.num_rows;
    }
    uint64_t bytes[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      bytes[i] = files[i].commit();
      blobs.put_file(keys[i], staged[i]);
    }
    out->info = {{"schema", ej::service::output_schema_json()},
                 {"required_fields", {"line"}},
                 {"preserve_fields", json::array()},
                 {"warnings", json::array()},
                 {"job_id", job_.id},
                 {"openai",
                  {{"batch_id", job_.id},
                   {"output", {{"lines", lines[0]}, {"bytes", bytes[0]}}},
                   {"error", {{"lines", lines[1]}, {"bytes", bytes[1]}}}}}};
  }

  int64_t write_empty_part(const std::string& path) override {
    AvroPartWriter empty(path, ej::service::output_schema_json(), kEmbedResultAvroCodec);
    return static_cast<int64_t>(empty.close());
  }

 private:
  Services* services_;
  store::JobRow job_;
  OpenAiFormat format_;
};

}  // namespace

std::string openai_output_file_id(const std::string& job_id) {
  return std::string(kOutputPrefix) + file_suffix(job_id);
}

std::string openai_error_file_id(const std::string& job_id) {
  return std::string(kErrorPrefix) + file_suffix(job_id);
}

bool openai_output_dataset_of(const std::string& file_id, std::string* dataset_id,
                              bool* error_view) {
  const size_t n = kOutputPrefix.size();
  if (file_id.size() != n + 24) return false;
  const std::string_view prefix = std::string_view(file_id).substr(0, n);
  if (prefix != kOutputPrefix && prefix != kErrorPrefix) return false;
  *error_view = prefix == kErrorPrefix;
  *dataset_id = std::string(kOutputPrefix) + file_id.substr(n);
  return true;
}

std::string openai_output_jsonl_key(const std::string& dataset_id, bool error_view) {
  return dataset_key(dataset_id) + (error_view ? "/error.jsonl" : "/output.jsonl");
}

std::unique_ptr<KindRun> OpenAiBatchJobKind::begin(const store::JobRow& job,
                                                   const store::DatasetRow&) const {
  return std::make_unique<OpenAiRun>(services_, job);
}

}  // namespace ej::service
