// Batches in the service layer, against a real SQLite file and the lexical model: the v2 body
// decoder with and without a model, batch-embed-v2-input ingest (errors naming the line, unique
// custom_id, skip_malformed_input), a batch run on the job runner (failed records do not fail
// it, output in input order, counters), resume from a committed chunk, and list paging.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "engine/embedder.h"
#include "service/avro_parts.h"
#include "service/batch_job_kind.h"
#include "service/batch_service.h"
#include "service/blob_store.h"
#include "service/dataset_service.h"
#include "service/embed_request.h"
#include "service/embedding_service.h"
#include "service/ingest/batch_input.h"
#include "service/job_service.h"
#include "store/store.h"

namespace ej::service {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ej-batch-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = store::open_sqlite_store((dir_ / "t.db").string());
    models_.add("m", engine::open_embedder("lexical", {}));
    services_.config.data_dir = dir_.string();
    services_.config.worker_id = "test";
    services_.config.chunk_rows = 4;
    services_.store = store_.get();
    blobs_ = open_filesystem_blob_store(dir_.string());
    services_.blobs = blobs_.get();
    services_.models = &models_;
    embeddings_ = std::make_unique<EmbeddingService>(&models_, EmbeddingServiceOptions{});
    services_.embeddings = embeddings_.get();
    datasets_ = std::make_unique<DatasetService>(&services_);
    jobs_ = std::make_unique<JobService>(&services_);
    jobs_->add_kind(std::make_unique<BatchJobKind>(&services_));
    batches_ = std::make_unique<BatchService>(&services_);
    services_.datasets = datasets_.get();
    services_.jobs = jobs_.get();
    services_.batches = batches_.get();
  }
  void TearDown() override {
    jobs_.reset();
    datasets_.reset();
    embeddings_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::string write_file(const std::vector<std::string>& lines) {
    std::string path = datasets_->new_upload_path();
    std::ofstream out(path);
    for (const auto& l : lines) out << l << "\n";
    return path;
  }

  // Uploads the lines as a batch-embed-v2-input dataset and validates it.
  store::DatasetRow make_dataset(const std::vector<std::string>& lines) {
    CreateDatasetRequest r;
    r.name = "batch-in";
    r.type = "batch-embed-v2-input";
    r.filename = "in.jsonl";
    std::string id = datasets_->create("alice", r, write_file(lines)).id;
    EXPECT_TRUE(datasets_->validate_one("v"));
    return *store_->get_dataset(id);
  }

  Batch wait_done(const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      Batch b = batches_->get("alice", id);
      if (b.status == BatchStatus::kCompleted || b.status == BatchStatus::kFailed ||
          b.status == BatchStatus::kCanceled) {
        return b;
      }
      usleep(10000);
    }
    ADD_FAILURE() << "batch did not finish";
    return batches_->get("alice", id);
  }

  std::vector<json> read_output(const std::string& dataset_id) {
    std::vector<json> rows;
    const json parts = store_->get_dataset(dataset_id)->info["parts"];
    for (const auto& p : parts) {
      AvroPartReader reader((dir_ / p["file"].get<std::string>()).string());
      json row;
      while (reader.next(&row)) rows.push_back(row);
    }
    return rows;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<BlobStore> blobs_;
  ModelRegistry models_;
  Services services_;
  std::unique_ptr<EmbeddingService> embeddings_;
  std::unique_ptr<DatasetService> datasets_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<BatchService> batches_;
};

std::string line(const std::string& id, const json& body) {
  return json{{"custom_id", id}, {"body", body}}.dump();
}

const json kBody = {{"input_type", "search_document"}, {"texts", {"hello world"}}};

TEST(EmbedRequestTest, WithoutAModelImagesAndOutputDimensionWaitForTheModel) {
  ModelRegistry models;
  models.add("m", engine::open_embedder("lexical", {}));
  const ServedModel& m = models.get("m");
  json images = {{"input_type", "search_query"},
                 {"inputs",
                  {{{"content",
                     {{{"type", "text"}, {"text", "a"}},
                      {{"type", "image_url"}, {"image_url", {{"url", "data:x"}}}}}}}}}};
  EXPECT_TRUE(decode_v2_embed(images, nullptr).has_images);
  EXPECT_NE(error_of([&] { decode_v2_embed(images, &m); }).find("model 'm' takes no images"),
            std::string::npos);
  json dim = kBody;
  dim["output_dimension"] = 256;
  EXPECT_EQ(decode_v2_embed(dim, nullptr).output_dimension, 0);
  EXPECT_NE(error_of([&] { decode_v2_embed(dim, &m); }).find("output_dimension is not supported"),
            std::string::npos);
  dim["output_dimension"] = "256";
  EXPECT_NE(error_of([&] { decode_v2_embed(dim, nullptr); }).find("positive integer"),
            std::string::npos);
  // What needs no model is checked either way, with /v2/embed's messages.
  json empty = {{"input_type", "search_document"}, {"texts", json::array()}};
  EXPECT_EQ(error_of([&] { decode_v2_embed(empty, nullptr); }),
            "invalid request: texts must not be empty");
  EXPECT_EQ(error_of([&] { decode_v2_embed(empty, &m); }),
            "invalid request: texts must not be empty");
  json call_body = kBody;
  call_body["embedding_types"] = {"int8", "base64"};
  EmbedCall call = decode_v2_embed(call_body, &m);
  EXPECT_TRUE(call.types.int8 && call.types.base64 && !call.types.float_);
}

TEST_F(BatchTest, IngestNamesTheLineOfABadRecordAndOfADuplicateCustomId) {
  IngestOptions o;
  o.filename = "in.jsonl";
  fs::create_directories(dir_ / "out");
  const std::string out = (dir_ / "out").string();
  json bad = kBody;
  bad["truncate"] = "SIDEWAYS";
  EXPECT_NE(error_of([&] {
              ingest_batch_embed_input(write_file({line("a", kBody), line("b", bad)}), out, "p", o);
            }).find("line 2: body: "),
            std::string::npos);
  EXPECT_EQ(error_of([&] {
              ingest_batch_embed_input(
                  write_file({line("a", kBody), "", line("b", kBody), line("a", kBody)}), out, "p",
                  o);
            }),
            "line 4: custom_id \"a\" is used again (first on line 1); custom_id must be unique");
  EXPECT_TRUE(fs::is_empty(out)) << "a failed ingest leaves no part behind";
  // skip_malformed_input drops them with a warning each.
  o.skip_malformed_input = true;
  IngestResult r = ingest_batch_embed_input(
      write_file({line("a", kBody), line("a", kBody), "[1]", line("c", kBody)}), out, "p", o);
  EXPECT_EQ(r.num_rows, 2);
  EXPECT_EQ(r.skipped_rows, 2);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[1].rfind("line 3: a line must be a JSON object", 0), 0u) << r.warnings[1];
  AvroPartReader reader(r.parts.at(0).path);
  json rec;
  ASSERT_TRUE(reader.next(&rec));
  EXPECT_EQ(rec["custom_id"], "a");
  EXPECT_EQ(json::parse(rec["body"].get<std::string>()), kBody);
  // Not JSON Lines.
  o.filename = "in.csv";
  EXPECT_NE(error_of([&] {
              ingest_batch_embed_input(write_file({"text", "x"}), out, "q", o);
            }).find("are JSON Lines"),
            std::string::npos);
}

TEST_F(BatchTest, AFailedRecordDoesNotFailTheBatchAndTheOutputKeepsInputOrder) {
  json nones = {{"input_type", "search_document"},
                {"texts", {"one two three four"}},
                {"truncate", "NONE"},
                {"max_tokens", 2}};
  json typed = kBody;
  typed["embedding_types"] = {"int8", "ubinary"};
  std::vector<std::string> lines;
  for (int i = 0; i < 10; ++i) {
    lines.push_back(line("r" + std::to_string(i), i == 5 ? nones : (i % 2 ? typed : kBody)));
  }
  store::DatasetRow ds = make_dataset(lines);
  ASSERT_EQ(ds.status, DatasetStatus::kValidated) << ds.validation_error;
  Batch b = batches_->create("alice", {"my batch", ds.id, "m"});
  EXPECT_EQ(b.status, BatchStatus::kQueued);
  EXPECT_EQ(b.num_records, 10);
  jobs_->start_workers(1);
  Batch done = wait_done(b.id);
  ASSERT_EQ(done.status, BatchStatus::kCompleted) << done.status_reason;
  EXPECT_EQ(done.num_failed_records, 1);
  EXPECT_EQ(done.num_successful_records, 9);
  EXPECT_EQ(done.input_tokens, 9 * 2);  // "hello world": two lexical tokens
  auto out = store_->get_dataset(done.output_dataset_id);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->dataset_type, "batch-embed-v2-output");
  EXPECT_EQ(out->name.rfind("my batch-output-", 0), 0u) << out->name;
  EXPECT_EQ(out->id, "my-batch-output-" + batch_output_suffix(b.id));
  std::vector<json> rows = read_output(done.output_dataset_id);
  ASSERT_EQ(rows.size(), 10u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["custom_id"], "r" + std::to_string(i));
    if (i == 5) {
      EXPECT_TRUE(rows[i]["body"].is_null());
      EXPECT_EQ(rows[i]["error"]["status_code"], 400);
      EXPECT_NE(rows[i]["error"]["message"].get<std::string>().find("truncate is NONE"),
                std::string::npos);
      continue;
    }
    EXPECT_TRUE(rows[i]["error"].is_null());
    const json& e = rows[i]["body"]["embeddings"];
    EXPECT_EQ(e["float"].is_null(), i % 2 == 1);
    EXPECT_EQ(e["int8"].is_null(), i % 2 == 0);
    EXPECT_EQ(rows[i]["body"]["meta"]["billed_units"]["input_tokens"], 2);
  }
  // Only queued / in-progress batches can be cancelled; a batch is no embed job.
  EXPECT_NE(error_of([&] { batches_->cancel("alice", b.id); }).find("only queued or in-progress"),
            std::string::npos);
  EXPECT_NE(error_of([&] { jobs_->get("alice", b.id); }).find("not found"), std::string::npos);
  EXPECT_NE(error_of([&] { batches_->get("bob", b.id); }).find("not found"), std::string::npos);
}

TEST_F(BatchTest, ResumesWithoutRedoingACommittedChunk) {
  std::vector<std::string> lines;
  for (int i = 0; i < 10; ++i) lines.push_back(line("r" + std::to_string(i), kBody));
  store::DatasetRow ds = make_dataset(lines);
  Batch b = batches_->create("alice", {"resume", ds.id, "m"});
  // A worker claims chunks 0-2, commits chunk 1 (records 4..7, all failed) and dies; its other
  // chunks are handed back (as their leases would run out).
  std::vector<store::ChunkLease> dead;
  for (int k = 0; k < 3; ++k) {
    std::optional<store::ChunkClaim> c = store_->claim_chunk("dead", 60000);
    ASSERT_TRUE(c.has_value());
    ASSERT_EQ(c->chunk_index, k);
    dead.push_back(c->lease("dead"));
  }
  const store::ChunkLease& lease = dead[1];
  EXPECT_EQ(batches_->get("alice", b.id).status, BatchStatus::kInProgress);
  fs::create_directories(dir_ / "jobs" / b.id);
  std::string rel = "jobs/" + b.id + "/chunk-1-g" + std::to_string(lease.generation) + ".avro";
  {
    AvroPartWriter w((dir_ / rel).string(), batch_output_schema_json(), "null");
    for (int i = 4; i < 8; ++i) {
      w.append({{"custom_id", "r" + std::to_string(i)},
                {"error", {{"status_code", 400}, {"message", "from the dead worker"}}}});
    }
    w.close();
  }
  ASSERT_TRUE(store_->put_chunk_failures(lease, 4));
  ASSERT_TRUE(store_->put_chunk_failures(dead[2], 3));  // never committed: not counted
  ASSERT_TRUE(store_->commit_chunk(lease, store::ChunkRow{1, 4, 4, 0, 1, rel}));
  store_->release_chunk(dead[0], false);
  store_->release_chunk(dead[2], false);
  EXPECT_EQ(batches_->get("alice", b.id).num_failed_records, 4);
  jobs_->start_workers(1);
  Batch done = wait_done(b.id);
  ASSERT_EQ(done.status, BatchStatus::kCompleted) << done.status_reason;
  EXPECT_EQ(done.num_failed_records, 4);
  EXPECT_EQ(done.num_successful_records, 6);
  std::vector<json> rows = read_output(done.output_dataset_id);
  ASSERT_EQ(rows.size(), 10u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["custom_id"], "r" + std::to_string(i));
    EXPECT_EQ(rows[i]["error"].is_null(), i < 4 || i >= 8) << i;
  }
}

TEST_F(BatchTest, ListPagesInBothOrdersAndCancelWhileQueued) {
  store::DatasetRow ds = make_dataset({line("a", kBody)});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(batches_->create("alice", {"b" + std::to_string(i), ds.id, "m"}).id);
    usleep(2000);
  }
  batches_->cancel("alice", ids[1]);  // queued -> canceling: updated last
  EXPECT_EQ(batches_->get("alice", ids[1]).status, BatchStatus::kCanceling);
  auto page_through = [&](bool by_updated, bool ascending) {
    std::vector<std::string> seen;
    ListBatchesRequest r;
    r.page_size = 2;
    r.by_updated = by_updated;
    r.ascending = ascending;
    for (int pages = 0; pages < 5; ++pages) {
      BatchPage p = batches_->list("alice", r);
      for (const auto& b : p.batches) seen.push_back(b.id);
      if (p.next_page_token.empty()) break;
      r.page_token = p.next_page_token;
    }
    return seen;
  };
  EXPECT_EQ(page_through(false, false),
            (std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]}));
  EXPECT_EQ(page_through(false, true), ids);
  EXPECT_EQ(page_through(true, false),
            (std::vector<std::string>{ids[1], ids[4], ids[3], ids[2], ids[0]}));
  ListBatchesRequest filtered;
  filtered.status = BatchStatus::kCanceling;
  BatchPage p = batches_->list("alice", filtered);
  ASSERT_EQ(p.batches.size(), 1u);
  EXPECT_EQ(p.batches[0].id, ids[1]);
  ListBatchesRequest wrong;
  wrong.page_token = "xx.1.y";
  EXPECT_NE(error_of([&] { batches_->list("alice", wrong); }).find("page_token is invalid"),
            std::string::npos);
  EXPECT_TRUE(batches_->list("bob", ListBatchesRequest{}).batches.empty());
  // The input of unfinished batches is not deleted; what blocks it is named as a batch (409).
  std::string kind;
  EXPECT_FALSE(datasets_->remove("alice", ds.id, &kind).empty());
  EXPECT_EQ(kind, "batch");
  jobs_->start_workers(1);
  Batch canceled = wait_done(ids[1]);
  EXPECT_EQ(canceled.status, BatchStatus::kCanceled);
  EXPECT_EQ(canceled.num_successful_records, 0);
  EXPECT_TRUE(read_output(canceled.output_dataset_id).empty());
}

}  // namespace
}  // namespace ej::service
