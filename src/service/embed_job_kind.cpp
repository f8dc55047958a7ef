#include "service/embed_job_kind.h"

#include "common/failpoint.h"
#include "common/ids.h"
#include "service/avro_parts.h"
#include "service/embedding_service.h"
#include "service/embedding_types.h"

namespace ej::service {

namespace {

// Deterministic suffix so that re-assembling after a crash reuses the same dataset id.
std::string output_dataset_id(const store::JobRow& job) {
  std::string h = sha256_hex("output:" + job.id);
  static const char* kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  for (size_t i = 0; i < 6; ++i) {
    suffix.push_back(kAlphabet[std::stoi(h.substr(i * 2, 2), nullptr, 16) % 36]);
  }
  return slugify(job.name.empty() ? job.id : job.name) + "-output-" + suffix;
}

class EmbedChunk final : public ChunkRun {
 public:
  EmbedChunk(Services* services, const ServedModel& model, const EmbeddingTypes& types,
             const nlohmann::json& kept, engine::InputType input_type, engine::Truncate truncate,
             const std::string& owner, std::vector<nlohmann::json> rows, const std::string& path)
      : services_(services),
        model_(model),
        types_(types),
        rows_(std::move(rows)),
        // Vectors barely compress (~10% with deflate) and deflate dominated the job's CPU time:
        // results are written uncompressed.
        writer_(path, kept, "null") {
    // The whole chunk goes to the model's scheduler at bulk priority.
    EmbedRequest request;
    request.input_type = input_type;
    request.truncate = truncate;
    request.owner = owner;  // embedding cache entries are per owner
    request.texts.reserve(rows_.size());
    for (const auto& r : rows_) request.texts.push_back(r.at("text").get<std::string>());
    task_ = services->embeddings->submit_bulk(model, request);
  }
  ~EmbedChunk() override {
    if (!written_) writer_.abort();
  }
  bool wait_for(int64_t timeout_ms) override { return task_->wait_for(timeout_ms); }
  void cancel() override { task_->cancel(); }
  bool cancelled() const override { return task_->cancelled(); }

  void write(store::ChunkRow* c) override {
    task_->wait();  // rethrows an engine failure
    // The embedding cache keeps what this chunk computed.
    services_->embeddings->remember(model_, *task_);
    const engine::ModelInfo& info = model_.embedder->info();
    int64_t tokens = 0;
    nlohmann::json kept_values;
    const size_t dims = static_cast<size_t>(info.dims);
    for (size_t i = 0; i < rows_.size(); ++i) {
      std::span<const float> span(task_->vectors.data() + i * dims, dims);
      ConvertedEmbedding conv;
      convert_embedding(span, info, types_, &conv);
      kept_values = rows_[i];
      kept_values.erase("text");
      EmbedResultRow r;
      r.text = task_->texts[i];
      r.dims = info.dims;
      r.float_values = types_.float_ ? span.data() : nullptr;
      r.int8_values = types_.int8 ? conv.int8.data() : nullptr;
      r.uint8_values = types_.uint8 ? conv.uint8.data() : nullptr;
      r.packed_len = (info.dims + 7) / 8;
      r.binary_values = types_.binary ? conv.binary.data() : nullptr;
      r.ubinary_values = types_.ubinary ? conv.ubinary.data() : nullptr;
      r.kept_fields = &kept_values;
      writer_.append_result(r);
      tokens += task_->num_tokens[i];  // cache hits have no tokenized inputs
    }
    failpoint("job.before_chunk_close");
    c->tokens = tokens;
    c->cached_tokens = task_->cached_tokens;
    c->size_bytes = static_cast<int64_t>(writer_.close());
    written_ = true;
  }

 private:
  Services* services_;
  const ServedModel& model_;
  EmbeddingTypes types_;
  std::vector<nlohmann::json> rows_;
  EmbedResultWriter writer_;
  std::shared_ptr<EmbedTask> task_;
  bool written_ = false;
};

class EmbedRun final : public KindRun {
 public:
  EmbedRun(Services* services, const store::JobRow& job, const store::DatasetRow& input)
      : services_(services),
        job_(job),
        kept_(kept_field_entries(input.info.value("schema", std::string("{}")))) {}

  std::unique_ptr<ChunkRun> start_chunk(const ServedModel& model, const store::ChunkLease&,
                                        std::vector<nlohmann::json> rows,
                                        const std::string& path) override {
    return std::make_unique<EmbedChunk>(
        services_, model, parse_embedding_types(nlohmann::json(job_.embedding_types), false), kept_,
        parse_input_type(job_.input_type), parse_truncate(job_.truncate, false), job_.owner,
        std::move(rows), path);
  }

  void describe_output(store::DatasetRow* out, JobStatus, int64_t) override {
    out->id = output_dataset_id(job_);
    out->name = (job_.name.empty() ? job_.id : job_.name) + "-output";
    out->dataset_type = "embed-result";
    nlohmann::json preserve = nlohmann::json::array();
    for (const auto& e : kept_) preserve.push_back(e.at("name"));
    out->info = {{"schema", embed_result_schema_json(kept_)},
                 {"required_fields", {"text", "embeddings"}},
                 {"preserve_fields", preserve},
                 {"warnings", nlohmann::json::array()},
                 {"job_id", job_.id}};
  }

  int64_t write_empty_part(const std::string& path) override {
    EmbedResultWriter empty(path, kept_, "null");
    return static_cast<int64_t>(empty.close());
  }

 private:
  Services* services_;
  store::JobRow job_;
  nlohmann::json kept_;
};

}  // namespace

std::unique_ptr<KindRun> EmbedJobKind::begin(const store::JobRow& job,
                                             const store::DatasetRow& input) const {
  return std::make_unique<EmbedRun>(services_, job, input);
}

}  // namespace ej::service
