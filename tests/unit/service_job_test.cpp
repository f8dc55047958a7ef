// The job runner against a real SQLite file and the lexical model: output order, resume after a
// dead worker, cancel, and the block-copy concatenation of chunk files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/error.h"
#include "engine/embedder.h"
#include "service/avro_concat.h"
#include "service/avro_parts.h"
#include "service/blob_store.h"
#include "service/dataset_service.h"
#include "service/embedding_service.h"
#include "service/job_service.h"
#include "store/store.h"

namespace ej::service {
namespace {

namespace fs = std::filesystem;

class JobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ej-job-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = store::open_sqlite_store((dir_ / "t.db").string());
    models_.add("m", engine::open_embedder("lexical", {}));
    services_.config.data_dir = dir_.string();
    services_.config.worker_id = "test";
    services_.config.chunk_rows = 7;
    services_.config.part_max_rows = 20;
    services_.store = store_.get();
    blobs_ = open_filesystem_blob_store(dir_.string());
    services_.blobs = blobs_.get();
    services_.models = &models_;
    embeddings_ = std::make_unique<EmbeddingService>(&models_, EmbeddingServiceOptions{});
    services_.embeddings = embeddings_.get();
    datasets_ = std::make_unique<DatasetService>(&services_);
    jobs_ = std::make_unique<JobService>(&services_);
    services_.datasets = datasets_.get();
    services_.jobs = jobs_.get();
  }
  void TearDown() override {
    jobs_.reset();
    datasets_.reset();
    embeddings_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // Uploads n JSONL rows {"text": "row i ...", "id": i} and validates them.
  std::string make_dataset(int n) {
    std::string path = datasets_->new_upload_path();
    std::ofstream out(path);
    for (int i = 0; i < n; ++i) {
      out << "{\"text\": \"row " << i << " about topic " << (i % 5) << "\", \"id\": " << i << "}\n";
    }
    out.close();
    CreateDatasetRequest r;
    r.name = "input";
    r.type = "embed-input";
    r.filename = "in.jsonl";
    r.keep_fields = {"id"};
    std::string id = datasets_->create("alice", r, path).id;
    EXPECT_TRUE(datasets_->validate_one("v"));
    EXPECT_EQ(store_->get_dataset(id)->status, DatasetStatus::kValidated);
    return id;
  }

  std::vector<nlohmann::json> read_output(const std::string& dataset_id) {
    std::vector<nlohmann::json> rows;
    auto ds = store_->get_dataset(dataset_id);
    EXPECT_TRUE(ds.has_value());
    for (const auto& p : ds->info["parts"]) {
      AvroPartReader reader((dir_ / p["file"].get<std::string>()).string());
      nlohmann::json row;
      while (reader.next(&row)) rows.push_back(row);
    }
    return rows;
  }

  Job wait_done(const std::string& job_id) {
    for (int i = 0; i < 500; ++i) {
      Job j = jobs_->get("alice", job_id);
      if (is_final(j.status)) return j;
      usleep(10000);
    }
    ADD_FAILURE() << "job did not finish";
    return jobs_->get("alice", job_id);
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<BlobStore> blobs_;
  ModelRegistry models_;
  Services services_;
  std::unique_ptr<EmbeddingService> embeddings_;
  std::unique_ptr<DatasetService> datasets_;
  std::unique_ptr<JobService> jobs_;
};

CreateJobRequest job_request(const std::string& dataset) {
  CreateJobRequest r;
  r.model = "m";
  r.dataset_id = dataset;
  r.input_type = "search_document";
  r.embedding_types = {"float", "ubinary"};
  return r;
}

TEST_F(JobTest, OutputHasEveryRowOnceInInputOrderAcrossParts) {
  std::string ds = make_dataset(53);
  jobs_->start_workers(1);
  Job job = wait_done(jobs_->create("alice", job_request(ds)).id);
  ASSERT_EQ(job.status, JobStatus::kComplete) << job.error;
  EXPECT_EQ(job.rows_done, 53);
  EXPECT_GT(job.input_tokens, 53);
  auto out = store_->get_dataset(job.output_dataset_id);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->dataset_type, "embed-result");
  // chunks of 7 rows, at most 20 rows a part: 14 + 14 + 14 + 11
  EXPECT_EQ(out->info["parts"].size(), 4u);
  auto rows = read_output(job.output_dataset_id);
  ASSERT_EQ(rows.size(), 53u);
  for (int i = 0; i < 53; ++i) {
    EXPECT_EQ(rows[static_cast<size_t>(i)]["id"], i);
    EXPECT_EQ(rows[static_cast<size_t>(i)]["embeddings"]["float"].size(), 384u);
    EXPECT_EQ(rows[static_cast<size_t>(i)]["embeddings"]["ubinary"].size(), 48u);
    EXPECT_TRUE(rows[static_cast<size_t>(i)]["embeddings"]["int8"].is_null());
  }
  jobs_->stop_workers();                             // lets the run finish its clean-up
  EXPECT_FALSE(fs::exists(dir_ / "jobs" / job.id));  // chunk files removed
}

TEST_F(JobTest, ResumesAfterADeadWorkerWithoutRedoingCommittedChunks) {
  std::string ds = make_dataset(30);
  std::string id = jobs_->create("alice", job_request(ds)).id;
  // A worker claims chunks 0 and 1, commits chunk 1 only (out of order) and dies; chunk 0 is
  // handed back (as its lease would run out).
  std::optional<store::ChunkClaim> c0 = store_->claim_chunk("dead", 60000);
  std::optional<store::ChunkClaim> c1 = store_->claim_chunk("dead", 60000);
  ASSERT_TRUE(c0.has_value() && c1.has_value());
  ASSERT_EQ(c1->chunk_index, 1);
  EXPECT_EQ(c1->job.chunk_rows, 7);
  // Produce chunk 1 the way the runner would, by running a full job elsewhere is overkill: just
  // commit a bogus chunk record whose file the resumed run must not rewrite.
  fs::create_directories(dir_ / "jobs" / id);
  {
    EmbedResultWriter w(
        (dir_ / "jobs" / id / "chunk-1.avro").string(),
        kept_field_entries(store_->get_dataset(ds)->info["schema"].get<std::string>()), "null");
    std::vector<float> v(384, 0.5f);
    for (int i = 7; i < 14; ++i) {
      nlohmann::json kept = {{"id", i}};
      std::string text = "from the dead worker";
      EmbedResultRow r;
      r.text = text;
      r.dims = 384;
      r.float_values = v.data();
      r.kept_fields = &kept;
      w.append_result(r);
    }
    w.close();
  }
  ASSERT_TRUE(store_->commit_chunk(
      c1->lease("dead"), store::ChunkRow{1, 7, 7, 99, 1, "jobs/" + id + "/chunk-1.avro"}));
  store_->release_chunk(c0->lease("dead"), false);
  jobs_->start_workers(1);
  Job job = wait_done(id);
  ASSERT_EQ(job.status, JobStatus::kComplete) << job.error;
  EXPECT_EQ(store_->get_job(id)->attempts, 1);  // one claim of the final step
  auto rows = read_output(job.output_dataset_id);
  ASSERT_EQ(rows.size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(rows[static_cast<size_t>(i)]["id"], i) << i;
  // Rows 7..13 come from the committed chunk, untouched by the resumed run.
  EXPECT_EQ(rows[7]["text"], "from the dead worker");
  EXPECT_EQ(rows[6]["text"], "row 6 about topic 1");
  EXPECT_EQ(rows[14]["text"], "row 14 about topic 4");
}

// The lexical model, except that tokenizing a text that starts with `prefix` throws
// ej::Error(kInternal) the first `failures` times (a poison row; -1: every time), and that every
// batch takes `delay_ms` longer (a slow model).
class FailingEmbedder : public engine::Embedder {
 public:
  FailingEmbedder(std::shared_ptr<engine::Embedder> inner, std::string prefix, int failures,
                  int delay_ms = 0)
      : inner_(std::move(inner)),
        prefix_(std::move(prefix)),
        failures_(failures),
        delay_ms_(delay_ms) {}
  const engine::ModelInfo& info() const override { return inner_->info(); }
  void embed(std::span<const std::string_view> texts, engine::InputType input_type,
             engine::Truncate truncate, engine::EmbedOutput* out) override {
    if (delay_ms_ > 0) usleep(static_cast<useconds_t>(delay_ms_) * 1000);
    inner_->embed(texts, input_type, truncate, out);
  }
  engine::TokenizedInput tokenize_for(std::string_view text, engine::InputType input_type,
                                      engine::Truncate truncate, int max_tokens,
                                      size_t index) const override {
    if (text.rfind(prefix_, 0) == 0 && (failures_ < 0 || thrown_ < failures_)) {
      ++thrown_;
      throw Error(ErrorCode::kInternal, "poisoned text at index " + std::to_string(index));
    }
    return inner_->tokenize_for(text, input_type, truncate, max_tokens, index);
  }
  void embed_tokens(std::span<const engine::TokenSeq> seqs, std::vector<float>* vectors) override {
    if (delay_ms_ > 0) usleep(static_cast<useconds_t>(delay_ms_) * 1000);
    inner_->embed_tokens(seqs, vectors);
  }
  int max_batch_tokens() const override { return inner_->max_batch_tokens(); }
  engine::TextTokens tokenize_text(std::string_view text) const override {
    return inner_->tokenize_text(text);
  }
  std::string detokenize(std::span<const int32_t> ids) const override {
    return inner_->detokenize(ids);
  }
  int thrown() const { return thrown_; }

 private:
  std::shared_ptr<engine::Embedder> inner_;
  std::string prefix_;
  int failures_;
  int delay_ms_;
  mutable std::atomic<int> thrown_{0};
};

TEST_F(JobTest, AChunkThatKeepsThrowingEndsTheJobFailedNamingItsRows) {
  auto poison =
      std::make_shared<FailingEmbedder>(engine::open_embedder("lexical", {}), "row 10 ", -1);
  models_.add("m", poison, "poison-test");
  // Schedulers are made per model when the service starts: start it again with this one.
  embeddings_ = std::make_unique<EmbeddingService>(&models_, EmbeddingServiceOptions{});
  services_.embeddings = embeddings_.get();
  std::string ds = make_dataset(30);
  std::string id = jobs_->create("alice", job_request(ds)).id;
  jobs_->start_workers(1);
  Job job = wait_done(id);
  ASSERT_EQ(job.status, JobStatus::kFailed);
  // Chunk 1 (7 rows per chunk) holds rows 7-13; it was tried max_chunk_attempts = 3 times.
  EXPECT_NE(job.error.find("rows 7-13 failed 3 times: "), std::string::npos) << job.error;
  EXPECT_EQ(poison->thrown(), 3);
  EXPECT_EQ(store_->list_chunks(id).size(), 1u);  // chunk 0 committed, nothing after
  jobs_->stop_workers();
  EXPECT_FALSE(fs::exists(dir_ / "jobs" / id));
}

TEST_F(JobTest, AChunkThatFailsOnceIsRetriedAndTheJobCompletes) {
  auto flaky =
      std::make_shared<FailingEmbedder>(engine::open_embedder("lexical", {}), "row 10 ", 1);
  models_.add("m", flaky, "flaky-test");
  // Schedulers are made per model when the service starts: start it again with this one.
  embeddings_ = std::make_unique<EmbeddingService>(&models_, EmbeddingServiceOptions{});
  services_.embeddings = embeddings_.get();
  std::string ds = make_dataset(30);
  std::string id = jobs_->create("alice", job_request(ds)).id;
  jobs_->start_workers(1);
  Job job = wait_done(id);
  ASSERT_EQ(job.status, JobStatus::kComplete) << job.error;
  EXPECT_EQ(flaky->thrown(), 1);
  auto rows = read_output(job.output_dataset_id);
  ASSERT_EQ(rows.size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(rows[static_cast<size_t>(i)]["id"], i) << i;
}

TEST_F(JobTest, AChunkThatKilledItsWorkerThreeTimesEndsTheJobFailed) {
  std::string ds = make_dataset(30);
  std::string id = jobs_->create("alice", job_request(ds)).id;
  // Three processes claimed chunk 0, began it and died (SIGKILL, OOM): nothing recorded but
  // the attempts counted at the start of the chunk.
  for (int i = 0; i < 3; ++i) {
    const std::string worker = "dying-" + std::to_string(i);
    std::optional<store::ChunkClaim> c = store_->claim_chunk(worker, -1);
    ASSERT_TRUE(c.has_value());
    ASSERT_EQ(c->chunk_index, 0);
    ASSERT_TRUE(store_->begin_chunk(c->lease(worker)).held);
  }
  jobs_->start_workers(1);
  Job job = wait_done(id);
  ASSERT_EQ(job.status, JobStatus::kFailed);
  EXPECT_NE(job.error.find("rows 0-6 failed 3 times: the worker stopped"), std::string::npos)
      << job.error;
  EXPECT_TRUE(store_->list_chunks(id).empty());
}

TEST_F(JobTest, AJobFromBeforeChunkLeasesFailsSayingSo) {
  std::string ds = make_dataset(10);
  // As an older embedjobs left it in flight: no chunk size stored.
  store::JobRow old = *store_->get_job(jobs_->create("alice", job_request(ds)).id);
  store_->request_cancel(old.id);  // (the created one is not the subject)
  old.id = "old-job";
  old.chunk_rows = 0;
  store_->insert_job(old);
  jobs_->start_workers(1);
  Job job = wait_done("old-job");
  EXPECT_EQ(job.status, JobStatus::kFailed);
  EXPECT_NE(job.error.find("started by an older embedjobs"), std::string::npos) << job.error;
}

TEST_F(JobTest, CancelBeforeAnyWorkEndsCancelledWithAnEmptyOutput) {
  std::string ds = make_dataset(10);
  std::string id = jobs_->create("alice", job_request(ds)).id;
  jobs_->cancel("alice", id);
  EXPECT_EQ(jobs_->get("alice", id).status, JobStatus::kCancelling);
  jobs_->cancel("alice", id);  // harmless
  jobs_->start_workers(1);
  Job job = wait_done(id);
  EXPECT_EQ(job.status, JobStatus::kCancelled);
  EXPECT_EQ(read_output(job.output_dataset_id).size(), 0u);
  jobs_->cancel("alice", id);  // on a finished job: nothing changes
  EXPECT_EQ(jobs_->get("alice", id).status, JobStatus::kCancelled);
}

// A cancel made by another process (an API process: it runs no workers, so it has no handle on
// the running chunk) reaches the worker through the store: the job ends cancelled with at most
// the chunk that was in flight committed after the cancel.
TEST_F(JobTest, ACancelFromAnotherProcessReachesTheWorkerWithinOneChunk) {
  std::string ds = make_dataset(140);  // 20 chunks of 7 rows
  // The worker process: its own store handle and services, and a model that takes a while.
  std::unique_ptr<store::Store> worker_store = store::open_sqlite_store((dir_ / "t.db").string());
  ModelRegistry worker_models;
  worker_models.add(
      "m", std::make_shared<FailingEmbedder>(engine::open_embedder("lexical", {}), "", 0, 40));
  Services worker = services_;
  worker.config.worker_id = "worker-process";
  worker.store = worker_store.get();
  worker.models = &worker_models;
  EmbeddingService worker_embeddings(&worker_models, EmbeddingServiceOptions{});
  worker.embeddings = &worker_embeddings;
  JobService worker_jobs(&worker);
  worker.jobs = &worker_jobs;
  worker_jobs.start_workers(1);

  std::string id = jobs_->create("alice", job_request(ds)).id;  // this process only takes requests
  for (int i = 0; i < 1000 && store_->get_job(id)->rows_done < 14; ++i) usleep(5000);
  ASSERT_GE(store_->get_job(id)->rows_done, 14) << "the worker made no progress";
  jobs_->cancel("alice", id);
  const int64_t at_cancel = store_->get_job(id)->rows_done;
  Job job = wait_done(id);
  worker_jobs.stop_workers();
  EXPECT_EQ(job.status, JobStatus::kCancelled);
  EXPECT_LE(job.rows_done, at_cancel + 7) << "more than the chunk in flight ran after the cancel";
  EXPECT_LT(job.rows_done, 140);
  EXPECT_EQ(read_output(job.output_dataset_id).size(), static_cast<size_t>(job.rows_done));
}

TEST_F(JobTest, AJobNeverContinuesUnderAnotherModelOfTheSameName) {
  std::string ds = make_dataset(20);
  std::string id = jobs_->create("alice", job_request(ds)).id;
  const std::string started_as = models_.get("m").identity;
  EXPECT_EQ(store_->get_job(id)->model_identity, started_as);
  // The server restarts serving something else as "m" (here: same kind, other identity).
  models_.add("m", models_.get("m").embedder, "sha256:another-model");
  jobs_->start_workers(1);
  Job job = wait_done(id);
  EXPECT_EQ(job.status, JobStatus::kFailed);
  EXPECT_NE(job.error.find("cannot continue with a different model"), std::string::npos)
      << job.error;
  EXPECT_NE(job.error.find(started_as), std::string::npos) << job.error;
  EXPECT_TRUE(job.output_dataset_id.empty());
  // Under the model it started with, a new job runs to the end.
  Job again = wait_done(jobs_->create("alice", job_request(ds)).id);
  EXPECT_EQ(again.status, JobStatus::kComplete) << again.error;
}

TEST_F(JobTest, AJobWhoseInputIsDeletedFailsAndLeavesNoChunkFiles) {
  std::string ds = make_dataset(30);
  std::string id = jobs_->create("alice", job_request(ds)).id;
  // A first run committed a chunk (its file is on disk), then the input dataset is deleted.
  std::optional<store::ChunkClaim> first = store_->claim_chunk("first", 60000);
  ASSERT_TRUE(first.has_value());
  fs::create_directories(dir_ / "jobs" / id);
  std::ofstream(dir_ / "jobs" / id / "chunk-0.avro") << std::string(4096, 'x');
  ASSERT_TRUE(store_->commit_chunk(
      first->lease("first"), store::ChunkRow{0, 0, 7, 10, 4096, "jobs/" + id + "/chunk-0.avro"}));
  // Deleting the input of an unfinished job is refused (the API answers 409 naming the job)...
  EXPECT_EQ(datasets_->remove("alice", ds), id);
  ASSERT_TRUE(store_->get_dataset(ds).has_value());
  // ...but should its row vanish anyway, the job fails and removes its chunk files.
  ASSERT_TRUE(store_->delete_dataset(ds));
  jobs_->start_workers(1);
  Job job = wait_done(id);
  EXPECT_EQ(job.status, JobStatus::kFailed);
  EXPECT_NE(job.error.find("was deleted while the job ran"), std::string::npos) << job.error;
  jobs_->stop_workers();
  EXPECT_FALSE(fs::exists(dir_ / "jobs" / id));
}

TEST_F(JobTest, RetentionDeletesOldDatasetsButNotTheInputOfARunningJob) {
  services_.config.dataset_ttl_s = 3600;
  std::string busy = make_dataset(5);
  std::string idle = make_dataset(5);
  std::string job = jobs_->create("alice", job_request(busy)).id;  // not started: processing
  int64_t now = now_us();
  EXPECT_EQ(datasets_->delete_expired(now), 0);  // younger than an hour
  EXPECT_EQ(datasets_->delete_expired(now + 2 * 3600 * 1000000LL), 1);
  EXPECT_FALSE(store_->get_dataset(idle).has_value());
  EXPECT_FALSE(fs::exists(dir_ / "datasets" / idle));
  ASSERT_TRUE(store_->get_dataset(busy).has_value());  // its job still needs it
  EXPECT_TRUE(fs::exists(dir_ / "datasets" / busy));
  // Once the job is over, its input goes too.
  jobs_->cancel("alice", job);
  jobs_->start_workers(1);
  EXPECT_EQ(wait_done(job).status, JobStatus::kCancelled);
  jobs_->stop_workers();
  // The cancelled job's (empty) output is a dataset of its own, created now: also expired later.
  EXPECT_EQ(datasets_->delete_expired(now + 2 * 3600 * 1000000LL), 2);
  EXPECT_FALSE(store_->get_dataset(busy).has_value());
  services_.config.dataset_ttl_s = 0;  // keep forever
  std::string kept = make_dataset(2);
  EXPECT_EQ(datasets_->delete_expired(now + 1000LL * 86400 * 1000000), 0);
  EXPECT_TRUE(store_->get_dataset(kept).has_value());
}

TEST_F(JobTest, CreateChecksModelDatasetAndOwner) {
  std::string ds = make_dataset(3);
  CreateJobRequest r = job_request(ds);
  r.model = "nope";
  EXPECT_THROW(jobs_->create("alice", r), Error);
  r = job_request(ds);
  r.input_type = "bogus";
  EXPECT_THROW(jobs_->create("alice", r), Error);
  r = job_request(ds);
  r.truncate = "NONE";
  EXPECT_THROW(jobs_->create("alice", r), Error);
  r = job_request(ds);
  try {
    jobs_->create("bob", r);
    FAIL() << "another owner's dataset must be invisible";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  EXPECT_THROW(jobs_->get("bob", jobs_->create("alice", r).id), Error);
}

TEST(AvroConcat, ConcatenatesBlocksOfSeveralFilesInOrder) {
  fs::path dir = fs::temp_directory_path() / ("ej-concat-" + std::to_string(getpid()));
  fs::create_directories(dir);
  nlohmann::json kept = nlohmann::json::array({{{"name", "n"}, {"type", "long"}}});
  std::vector<std::string> files;
  int n = 0;
  for (int f = 0; f < 3; ++f) {
    std::string path = (dir / ("c" + std::to_string(f) + ".avro")).string();
    EmbedResultWriter w(path, kept, f == 1 ? "null" : "null");
    std::vector<float> v(8, static_cast<float>(f));
    for (int i = 0; i < 5 + f; ++i, ++n) {
      nlohmann::json k = {{"n", n}};
      std::string text = "t" + std::to_string(n);
      EmbedResultRow r;
      r.text = text;
      r.dims = 8;
      r.float_values = v.data();
      r.kept_fields = &k;
      w.append_result(r);
    }
    w.close();
    files.push_back("c" + std::to_string(f) + ".avro");  // blob keys
  }
  std::unique_ptr<BlobStore> blobs = open_filesystem_blob_store(dir.string());
  std::string out = (dir / "out.avro").string();
  EXPECT_GT(concat_avro_files(*blobs, files, out), 0);
  AvroPartReader reader(out);
  nlohmann::json row;
  int i = 0;
  while (reader.next(&row)) {
    EXPECT_EQ(row["n"], i);
    EXPECT_EQ(row["text"], "t" + std::to_string(i));
    ++i;
  }
  EXPECT_EQ(i, n);
  // A non-Avro input is refused.
  std::ofstream(dir / "bad.avro") << "not avro";
  EXPECT_THROW(concat_avro_files(*blobs, {"bad.avro"}, out), Error);
  EXPECT_THROW(concat_avro_files(*blobs, {"missing.avro"}, out), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ej::service
