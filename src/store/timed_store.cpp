#include "store/timed_store.h"

#include <chrono>

namespace ej::store {

namespace {

// Every method: the same call on inner_, timed. (A method added to Store must be added here:
// the compiler says so, since Store's methods are pure virtual.)
class TimedStore final : public Store {
 public:
  TimedStore(std::unique_ptr<Store> inner, CallTimings* timings)
      : inner_(std::move(inner)), timings_(timings) {}

  void add_api_key(const std::string& key_hash, const std::string& owner,
                   const std::string& name) override {
    timed("add_api_key", [&] { inner_->add_api_key(key_hash, owner, name); });
  }

  std::optional<std::string> owner_for_key_hash(const std::string& key_hash) override {
    return timed("owner_for_key_hash", [&] { return inner_->owner_for_key_hash(key_hash); });
  }

  int64_t count_api_keys() override {
    return timed("count_api_keys", [&] { return inner_->count_api_keys(); });
  }

  bool rehash_api_key(const std::string& old_hash, const std::string& new_hash) override {
    return timed("rehash_api_key", [&] { return inner_->rehash_api_key(old_hash, new_hash); });
  }

  std::vector<ApiKeyRow> list_api_keys() override {
    return timed("list_api_keys", [&] { return inner_->list_api_keys(); });
  }

  bool delete_api_key(const std::string& key_hash) override {
    return timed("delete_api_key", [&] { return inner_->delete_api_key(key_hash); });
  }

  std::string get_or_create_secret(const std::string& name, const std::string& candidate) override {
    return timed("get_or_create_secret",
                 [&] { return inner_->get_or_create_secret(name, candidate); });
  }

  void insert_dataset(const DatasetRow& row) override {
    timed("insert_dataset", [&] { inner_->insert_dataset(row); });
  }

  std::optional<DatasetRow> get_dataset(const std::string& id) override {
    return timed("get_dataset", [&] { return inner_->get_dataset(id); });
  }

  std::vector<DatasetRow> list_datasets(const std::string& owner,
                                        const DatasetFilter& filter) override {
    return timed("list_datasets", [&] { return inner_->list_datasets(owner, filter); });
  }

  bool delete_dataset(const std::string& id) override {
    return timed("delete_dataset", [&] { return inner_->delete_dataset(id); });
  }

  std::vector<std::string> list_expired_datasets(int64_t created_before_us,
                                                 int64_t limit) override {
    return timed("list_expired_datasets",
                 [&] { return inner_->list_expired_datasets(created_before_us, limit); });
  }

  int64_t usage_bytes(const std::string& owner) override {
    return timed("usage_bytes", [&] { return inner_->usage_bytes(owner); });
  }

  std::optional<DatasetRow> claim_dataset_validation(const std::string& worker,
                                                     int64_t lease_ms) override {
    return timed("claim_dataset_validation",
                 [&] { return inner_->claim_dataset_validation(worker, lease_ms); });
  }

  bool finish_dataset_validation(const DatasetRow& row, const std::string& worker) override {
    return timed("finish_dataset_validation",
                 [&] { return inner_->finish_dataset_validation(row, worker); });
  }

  std::vector<JobRow> list_jobs_page(const std::string& owner, const std::string& kind,
                                     bool by_updated, bool ascending,
                                     const std::optional<JobPageKey>& after,
                                     int64_t limit) override {
    return timed("list_jobs_page", [&] {
      return inner_->list_jobs_page(owner, kind, by_updated, ascending, after, limit);
    });
  }

  bool put_chunk_failures(const ChunkLease& lease, int64_t failed_rows) override {
    return timed("put_chunk_failures",
                 [&] { return inner_->put_chunk_failures(lease, failed_rows); });
  }

  int64_t failed_rows(const std::string& job_id) override {
    return timed("failed_rows", [&] { return inner_->failed_rows(job_id); });
  }

  void insert_job(const JobRow& row) override {
    timed("insert_job", [&] { inner_->insert_job(row); });
  }

  std::optional<JobRow> get_job(const std::string& id) override {
    return timed("get_job", [&] { return inner_->get_job(id); });
  }

  std::vector<JobRow> list_jobs(const std::string& owner) override {
    return timed("list_jobs", [&] { return inner_->list_jobs(owner); });
  }

  std::optional<JobStatus> request_cancel(const std::string& id) override {
    return timed("request_cancel", [&] { return inner_->request_cancel(id); });
  }

  std::optional<JobRow> claim_job(const std::string& worker, int64_t lease_ms) override {
    return timed("claim_job", [&] { return inner_->claim_job(worker, lease_ms); });
  }

  bool renew_job_lease(const JobLease& lease, int64_t lease_ms, JobStatus* status) override {
    return timed("renew_job_lease",
                 [&] { return inner_->renew_job_lease(lease, lease_ms, status); });
  }

  ChunkAttempts begin_chunk(const JobLease& lease, int64_t step) override {
    return timed("begin_step", [&] { return inner_->begin_chunk(lease, step); });
  }

  int64_t record_chunk_failure(const JobLease& lease, int64_t step,
                               const std::string& error) override {
    return timed("record_step_failure",
                 [&] { return inner_->record_chunk_failure(lease, step, error); });
  }

  std::optional<ChunkClaim> claim_chunk(const std::string& worker, int64_t lease_ms) override {
    return timed("claim_chunk", [&] { return inner_->claim_chunk(worker, lease_ms); });
  }

  bool renew_chunk_lease(const ChunkLease& lease, int64_t lease_ms, JobStatus* status) override {
    return timed("renew_chunk_lease",
                 [&] { return inner_->renew_chunk_lease(lease, lease_ms, status); });
  }

  void release_chunk(const ChunkLease& lease, bool count_attempt) override {
    timed("release_chunk", [&] { inner_->release_chunk(lease, count_attempt); });
  }

  ChunkAttempts begin_chunk(const ChunkLease& lease) override {
    return timed("begin_chunk", [&] { return inner_->begin_chunk(lease); });
  }

  int64_t record_chunk_failure(const ChunkLease& lease, const std::string& error) override {
    return timed("record_chunk_failure",
                 [&] { return inner_->record_chunk_failure(lease, error); });
  }

  bool commit_chunk(const ChunkLease& lease, const ChunkRow& chunk) override {
    return timed("commit_chunk", [&] { return inner_->commit_chunk(lease, chunk); });
  }

  bool fail_job(const ChunkLease& lease, const std::string& error) override {
    return timed("fail_job", [&] { return inner_->fail_job(lease, error); });
  }

  std::vector<ChunkRow> list_chunks(const std::string& job_id) override {
    return timed("list_chunks", [&] { return inner_->list_chunks(job_id); });
  }

  bool finish_job(const JobLease& lease, JobStatus status, const std::optional<DatasetRow>& output,
                  const std::string& error) override {
    return timed("finish_job", [&] { return inner_->finish_job(lease, status, output, error); });
  }

  void release_job(const JobLease& lease, int64_t uncounted_step) override {
    timed("release_job", [&] { inner_->release_job(lease, uncounted_step); });
  }

  IdempotencyClaim begin_idempotent(const std::string& owner, const std::string& key,
                                    const std::string& request_hash, const std::string& holder,
                                    int64_t in_flight_ms, int64_t ttl_ms) override {
    return timed("begin_idempotent", [&] {
      return inner_->begin_idempotent(owner, key, request_hash, holder, in_flight_ms, ttl_ms);
    });
  }

  void finish_idempotent(const std::string& owner, const std::string& key,
                         const std::string& holder, int status, const std::string& body) override {
    timed("finish_idempotent",
          [&] { inner_->finish_idempotent(owner, key, holder, status, body); });
  }

  void abandon_idempotent(const std::string& owner, const std::string& key,
                          const std::string& holder) override {
    timed("abandon_idempotent", [&] { inner_->abandon_idempotent(owner, key, holder); });
  }

 private:
  template <typename F>
  auto timed(const char* op, F&& f) -> decltype(f()) {
    struct Timer {  // records the call also when it throws
      CallTimings* timings;
      const char* op;
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
      ~Timer() {
        timings->add(op, std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count());
      }
    } timer{timings_, op};
    return f();
  }

  std::unique_ptr<Store> inner_;
  CallTimings* timings_;
};

}  // namespace

std::unique_ptr<Store> make_timed_store(std::unique_ptr<Store> inner, CallTimings* timings) {
  return std::make_unique<TimedStore>(std::move(inner), timings);
}

}  // namespace ej::store
