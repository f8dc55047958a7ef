// embedjobs command line: `serve` (the API server, and unless --no-work the background workers),
// `worker` (the background workers only: dataset validation and job runs, no HTTP), `keys`, and
// the client commands (cli/client_commands.h).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "api/http_server.h"
#include "cli/client_commands.h"
#include "cli/config_file.h"
#include "cli/exit_codes.h"
#include "cli/store_commands.h"
#include "cli/suggest.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ids.h"
#include "common/log.h"
#include "engine/embedder.h"
#include "hub/model_identity.h"
#include "hub/model_source.h"
#include "service/api_keys.h"
#include "service/batch_job_kind.h"
#include "service/batch_service.h"
#include "service/blob_store.h"
#include "service/dataset_service.h"
#include "service/embedding_cache.h"
#include "service/embedding_service.h"
#include "service/job_service.h"
#include "service/model_registry.h"
#include "service/openai_batch_job_kind.h"
#include "service/openai_batches.h"
#include "service/openai_files.h"
#include "service/shared_secret.h"
#include "store/store.h"
#include "store/timed_store.h"

namespace fs = std::filesystem;

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8911";
  std::string data_dir = "./data";
  std::string store_url;  // --store; "" = the SQLite file in data_dir
  std::vector<std::string> api_keys;
  std::vector<std::string> models;
  bool no_auth = false;
  std::string public_url;
  int64_t url_ttl_s = 24 * 3600;
  int http_threads = 16;
  int job_workers = 1;
  int engine_threads = 0;
  int64_t chunk_rows = 1000;
  int64_t lease_ms = 30000;
  int64_t max_chunk_attempts = 3;
  int64_t max_upload_mb = 1536;
  double dataset_ttl_days = 30;
  ej::api::HttpConfig http;                    // the HTTP front's limits (--http-*)
  std::vector<std::string> output_dimensions;  // NAME=D1,D2,...
  int64_t max_queued_tokens = 256 * 1024;
  int tokenizer_threads = 2;
  std::string log_format = "text";
  int64_t cache_mb = 1024;  // embedding cache (<data-dir>/cache.sqlite); 0 = off
  bool no_work = false;     // serve: API only, leave the background work to `embedjobs worker`
  std::string blob_store;   // "" / "fs": files in the data dir; postgres[ql]://...: PostgreSQL
};

// What a process runs: the API (with or without the background workers), or the workers alone.
enum class Role { kApi, kWorker };

// "NAME=256,512" -> {NAME, {256, 512}}; throws CLI-style messages as std::invalid_argument.
std::pair<std::string, std::vector<int>> parse_output_dimensions(const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw std::invalid_argument("--output-dimensions must be NAME=D1,D2,..., got '" + spec + "'");
  }
  std::vector<int> dims;
  std::string rest = spec.substr(eq + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t comma = rest.find(',', pos);
    std::string item =
        rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    int d = std::atoi(item.c_str());
    if (d <= 0) throw std::invalid_argument("--output-dimensions: bad dimension '" + item + "'");
    dims.push_back(d);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return {spec.substr(0, eq), dims};
}

// "HOST:PORT" -> {HOST, PORT}; nullopt unless PORT is all digits and <= 65535.
std::optional<std::pair<std::string, int>> parse_listen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  int value = std::stoi(port);
  if (value > 65535) return std::nullopt;
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:8911
  }
  return std::make_pair(host, value);
}

// Creates the data dir if needed; a message naming the problem when it cannot be used.
std::string data_dir_problem(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create it: " + ec.message();
  if (!fs::is_directory(dir)) return "not a directory";
  if (access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return std::string("cannot write to it: ") + std::strerror(errno);
  }
  return "";
}

// EMBEDJOBS_MODEL="a=lexical b=/models/x" (or ';'-separated) holds several models.
std::vector<std::string> split_model_specs(const std::vector<std::string>& specs) {
  std::vector<std::string> out;
  for (const std::string& spec : specs) {
    std::string cur;
    for (char c : spec + ";") {
      if (c == ';' || c == ' ' || c == '\n' || c == '\t') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
  }
  return out;
}

// `embedjobs worker`: validates datasets and runs jobs from the store until SIGTERM / SIGINT
// (blocked in `signals` by the caller), then drains: each job worker's running chunk is handed
// back (release_chunk, its attempt not counted) so that another worker redoes it now instead of
// after the lease; then exits 0.
int run_worker(ej::service::Services& services, const sigset_t& signals) {
  const ej::service::ServiceConfig& cfg = services.config;
  services.datasets->start_validator();
  services.jobs->start_workers(cfg.job_workers);
  ej::log_info("embedjobs worker " + cfg.worker_id + ": " + std::to_string(cfg.job_workers) +
               " job workers (data dir " + cfg.data_dir + ")");
  std::cout << "worker ready: " << cfg.worker_id << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  ej::log_info("signal " + std::to_string(sig) + ": draining");
  services.jobs->stop_workers();
  services.datasets->stop_validator();
  ej::log_info("stopped; store calls: " + services.store_timings->summary());
  return 0;
}

int serve(ServeOptions o, Role role) {
  if (o.log_format == "json") ej::set_log_format(ej::LogFormat::kJson);
  o.models = split_model_specs(o.models);
  // Block SIGINT/SIGTERM before any thread exists (the engine's OpenMP/oneDNN threads start while
  // a model loads): threads inherit the mask, so the signal reaches only the sigwait below and
  // the server stops gracefully, whatever the model.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::optional<std::pair<std::string, int>> listen = parse_listen(o.listen);
  if (role == Role::kApi && !listen) {
    std::cerr << "--listen must be HOST:PORT with PORT a number from 0 to 65535 (0 = any free "
                 "port), got '"
              << o.listen << "'\n";
    return 2;
  }
  if (std::string problem = data_dir_problem(o.data_dir); !problem.empty()) {
    std::cerr << "embedjobs: --data-dir " << o.data_dir << ": " << problem << "\n";
    return 2;
  }
  ej::api::HttpConfig http = o.http;
  if (listen) {
    http.host = listen->first;
    http.port = listen->second;
  }
  http.no_auth = o.no_auth;
  http.public_url = o.public_url;
  http.url_ttl_s = o.url_ttl_s;
  http.threads = o.http_threads;

  ej::CallTimings store_timings;
  std::unique_ptr<ej::store::Store> store = ej::store::make_timed_store(
      ej::store::open_store(o.store_url, o.data_dir + "/embedjobs.db"), &store_timings);
  ej::service::ApiKeys keys(store.get(), ej::service::api_key_secret(store.get(), o.data_dir));
  for (const auto& key : o.api_keys) {
    if (key.empty()) continue;
    keys.add_cli_key(key);
  }
  if (role == Role::kApi && !o.no_auth && keys.count() == 0) {
    std::cerr << "embedjobs: no API keys. Pass --api-key KEY, create one with `embedjobs keys "
                 "create --data-dir "
              << o.data_dir << "`, or run with --no-auth for local use.\n";
    return 2;
  }

  ej::service::ModelRegistry models;
  ej::engine::EngineOptions engine_options;
  engine_options.threads = o.engine_threads;
  if (o.models.empty()) {
    ej::service::ServedModel& lexical = models.add(
        ej::service::kLexicalModelName, ej::engine::open_embedder("lexical", engine_options),
        ej::service::kLexicalModelIdentity);
    lexical.cached = false;  // it computes a vector faster than the cache finds one
  }
  std::map<std::string, std::vector<int>> output_dims;
  for (const auto& spec : o.output_dimensions) {
    try {
      output_dims.insert(parse_output_dimensions(spec));
    } catch (const std::invalid_argument& e) {
      std::cerr << e.what() << "\n";
      return 2;
    }
  }
  struct Loaded {
    std::shared_ptr<ej::engine::Embedder> embedder;
    std::string identity;
  };
  std::map<std::string, Loaded> by_source;
  for (const auto& spec : o.models) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      std::cerr << "--model must be NAME=SOURCE (SOURCE: lexical or a model folder), got '" << spec
                << "'\n";
      return 2;
    }
    std::string name = spec.substr(0, eq), source = spec.substr(eq + 1);
    // Options after the source: ",dtype=fp32|bf16|int8" (the engine's compute mode).
    ej::engine::EngineOptions model_options = engine_options;
    if (size_t opt = source.find(",dtype="); opt != std::string::npos) {
      const std::string dtype = source.substr(opt + 7);
      source.resize(opt);
      if (source.empty() || !ej::engine::parse_compute_dtype(dtype, &model_options.dtype)) {
        std::cerr << "--model " << spec << ": dtype must be fp32, bf16 or int8, got '" << dtype
                  << "'\n";
        return 2;
      }
    }
    Loaded& loaded = by_source[source + "," + ej::engine::compute_dtype_name(model_options.dtype)];
    if (!loaded.embedder) {
      if (ej::engine::is_builtin_model(source)) {
        loaded.embedder = ej::engine::open_embedder(source, engine_options);
        loaded.identity = ej::service::kLexicalModelIdentity;
      } else {
        // A repo id becomes a local folder (Hugging Face cache or download) before the engine.
        std::string folder = ej::hub::resolve_model_source(source);
        loaded.embedder = ej::engine::open_embedder(folder, model_options);
        loaded.identity = ej::hub::model_identity(folder);
        // Vectors differ by compute mode: a job pinned to fp32 must not resume under bf16.
        if (model_options.dtype != ej::engine::ComputeDType::kF32) {
          loaded.identity += ";dtype=" + loaded.embedder->info().dtype;
        }
      }
    }
    // Matryoshka sizes: --output-dimensions, else what the model's own config declares.
    std::vector<int> dims =
        output_dims.count(name) ? output_dims[name] : loaded.embedder->info().matryoshka_dims;
    for (int d : dims) {
      if (d > loaded.embedder->info().dims) {
        std::cerr << "--output-dimensions " << name << ": " << d << " is more than the model's "
                  << loaded.embedder->info().dims << " dimensions\n";
        return 2;
      }
    }
    // The built-in lexical model computes a vector faster than the cache finds one.
    ej::service::ServedModel& served = models.add(name, loaded.embedder, loaded.identity, dims);
    served.cached = !ej::engine::is_builtin_model(source);
    served.dtype = loaded.embedder->info().dtype;  // part of the embedding cache key
    ej::log_info("model " + name + " = " + source + " (" + loaded.embedder->info().kind + ", " +
                 loaded.embedder->info().dtype + ", " +
                 std::to_string(loaded.embedder->info().dims) + " dims, " + loaded.identity + ")");
  }

  std::unique_ptr<ej::service::BlobStore> blobs;
  if (o.blob_store.empty() || o.blob_store == "fs") {
    blobs = ej::service::open_filesystem_blob_store(o.data_dir);
  } else if (o.blob_store.starts_with("postgres://") || o.blob_store.starts_with("postgresql://")) {
    blobs = ej::service::open_postgres_blob_store(o.blob_store, o.data_dir + "/blob-staging");
  } else {
    std::cerr << "--blob-store must be fs or a postgresql:// URL, got '" << o.blob_store << "'\n";
    return 2;
  }
  ej::service::Services services;
  services.blobs = blobs.get();
  services.config.data_dir = o.data_dir;
  services.config.worker_id = std::to_string(getpid()) + "-" + ej::random_alnum(6);
  services.config.chunk_rows = o.chunk_rows;
  services.config.lease_ms = o.lease_ms;
  services.config.max_chunk_attempts = o.max_chunk_attempts;
  services.config.job_workers = o.job_workers;
  services.config.max_upload_bytes = o.max_upload_mb * 1024 * 1024;
  services.config.dataset_ttl_s = static_cast<int64_t>(o.dataset_ttl_days * 86400.0);
  services.store = store.get();
  services.store_timings = &store_timings;
  services.keys = &keys;
  services.models = &models;
  ej::service::EmbeddingServiceOptions embedding_options;
  embedding_options.tokenizer_threads = o.tokenizer_threads;
  embedding_options.scheduler.max_queued_tokens = o.max_queued_tokens;
  std::unique_ptr<ej::service::EmbeddingCache> cache;
  if (o.cache_mb > 0) {
    cache = std::make_unique<ej::service::EmbeddingCache>(o.data_dir + "/cache.sqlite",
                                                          o.cache_mb * 1024 * 1024);
    embedding_options.cache = cache.get();
    const ej::service::EmbeddingCacheStats cs = cache->stats();
    ej::log_info("embedding cache " + o.data_dir + "/cache.sqlite: " + std::to_string(cs.entries) +
                 " vectors, " + std::to_string(cs.bytes >> 20) + " of " +
                 std::to_string(o.cache_mb) + " MiB");
  }
  ej::service::EmbeddingService embeddings(&models, embedding_options);
  services.embeddings = &embeddings;
  ej::service::DatasetService datasets(&services);
  ej::service::JobService jobs(&services);
  services.datasets = &datasets;
  services.jobs = &jobs;
  jobs.add_kind(std::make_unique<ej::service::BatchJobKind>(&services));  // /v2/batches
  ej::service::BatchService batches(&services);
  services.batches = &batches;
  jobs.add_kind(std::make_unique<ej::service::OpenAiBatchJobKind>(&services));  // /v1/batches
  ej::service::OpenAiFiles openai_files(&services);
  ej::service::OpenAiBatches openai_batches(&services);
  services.openai_files = &openai_files;
  services.openai_batches = &openai_batches;

  const bool works = role == Role::kWorker || !o.no_work;
  if (role == Role::kWorker) return run_worker(services, set);

  ej::api::HttpServer server(&services, http,
                             ej::service::url_signing_secret(store.get(), o.data_dir));
  int port = server.bind();

  // Signals: blocked since the start of serve(); one thread waits for them and stops the server.
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&set, &sig);
    ej::log_info("signal " + std::to_string(sig) + ": shutting down");
    server.stop();
  });

  if (works) {
    datasets.start_validator();
    jobs.start_workers(o.job_workers);
  }
  ej::log_info("embedjobs listening on http://" + http.host + ":" + std::to_string(port) +
               " (data dir " + o.data_dir + (o.no_auth ? ", NO AUTH" : "") +
               (works ? "" : ", no background work: run `embedjobs worker`") + ")");
  std::cout << "listening on " << http.host << ":" << port << std::endl;
  server.serve();
  if (works) {
    jobs.stop_workers();
    datasets.stop_validator();
  }
  if (signal_thread.joinable()) {
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  }
  ej::log_info("stopped; store calls: " + store_timings.summary());
  return 0;
}

// The options `serve` and `worker` share: the data dir, the models and how jobs run.
void add_work_options(CLI::App* cmd, ServeOptions& o, std::string& config_path) {
  cmd->add_option("--blob-store", o.blob_store,
                  "Where dataset parts and job chunks live: fs (files in the data dir, the "
                  "default; a shared mount for a cluster) or a postgresql:// URL")
      ->envname("EMBEDJOBS_BLOB_STORE");
  cmd->add_option("--data-dir", o.data_dir, "Where the database and dataset files live")
      ->envname("EMBEDJOBS_DATA_DIR")
      ->capture_default_str();
  ej::cli::add_store_option(cmd, &o.store_url);
  cmd->add_option("--model", o.models,
                  "NAME=SOURCE[,dtype=fp32|bf16|int8] (repeatable): serve SOURCE (lexical, "
                  "or a Hugging Face model folder) as NAME, computing in dtype (default fp32)")
      ->envname("EMBEDJOBS_MODEL");
  cmd->add_option("--job-workers", o.job_workers, "Jobs run at once")->capture_default_str();
  cmd->add_option("--threads", o.engine_threads, "Engine threads (0 = all cores)")
      ->envname("EMBEDJOBS_THREADS")
      ->capture_default_str();
  cmd->add_option("--chunk-rows", o.chunk_rows, "Rows a job commits at a time")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--lease-ms", o.lease_ms, "Worker lease on a job (ms)")
      ->check(CLI::Range(1000, 3600000))
      ->capture_default_str();
  cmd->add_option("--max-chunk-attempts", o.max_chunk_attempts,
                  "Tries at one job chunk (failed or killed) before the job is failed")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--dataset-ttl-days", o.dataset_ttl_days,
                  "Delete datasets this many days after creation (0 = keep forever)")
      ->envname("EMBEDJOBS_DATASET_TTL_DAYS")
      ->check(CLI::Range(0.0, 36500.0))
      ->capture_default_str();
  cmd->add_option("--output-dimensions", o.output_dimensions,
                  "NAME=D1,D2,... (repeatable): Matryoshka dimensions NAME's model was trained "
                  "for; /v2/embed output_dimension may pick one")
      ->envname("EMBEDJOBS_OUTPUT_DIMENSIONS");
  cmd->add_option("--config", config_path,
                  "Read options from this TOML file (keys: the long flag names; the command "
                  "line and the environment win)")
      ->envname("EMBEDJOBS_CONFIG");
  cmd->add_option("--log-format", o.log_format, "text or json (one JSON object per line)")
      ->envname("EMBEDJOBS_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--tokenizer-threads", o.tokenizer_threads, "Tokenizer threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--cache-mb", o.cache_mb,
                  "Embedding cache size in MiB (DATA_DIR/cache.sqlite, least recently used "
                  "evicted first); 0 = off")
      ->envname("EMBEDJOBS_CACHE_MB")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"embedjobs: a self-hosted, Cohere-compatible batch embedding server", "embedjobs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("embedjobs ") + EMBEDJOBS_VERSION);
  ServeOptions o;

  CLI::App* serve_cmd = app.add_subcommand("serve", "Run the API server and its workers");
  serve_cmd->add_option("--listen", o.listen, "HOST:PORT to listen on")
      ->envname("EMBEDJOBS_LISTEN")
      ->capture_default_str();
  serve_cmd->add_option("--api-key", o.api_keys, "An API key (repeatable); each is its own owner")
      ->envname("EMBEDJOBS_API_KEY");
  serve_cmd->add_flag("--no-auth", o.no_auth, "Accept requests without an API key (local use)")
      ->envname("EMBEDJOBS_NO_AUTH");
  serve_cmd
      ->add_option("--public-url", o.public_url,
                   "Base URL clients reach this server at (for download links)")
      ->envname("EMBEDJOBS_PUBLIC_URL");
  serve_cmd->add_option("--url-ttl", o.url_ttl_s, "Seconds a download link stays valid")
      ->capture_default_str();
  serve_cmd->add_option("--http-threads", o.http_threads, "HTTP worker threads")
      ->capture_default_str();
  serve_cmd->add_option("--http-io-threads", o.http.io_threads, "HTTP I/O (socket) threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  serve_cmd->add_option("--http-max-connections", o.http.max_connections, "Open connections")
      ->capture_default_str();
  serve_cmd
      ->add_option("--http-max-connections-per-ip", o.http.max_connections_per_ip,
                   "Open connections from one client address")
      ->capture_default_str();
  serve_cmd->add_option("--http-max-json-bytes", o.http.max_json_bytes, "Largest JSON body")
      ->capture_default_str();
  serve_cmd
      ->add_option("--http-max-buffered-bytes", o.http.max_buffered_bytes,
                   "Request bodies held in memory, all connections together")
      ->capture_default_str();
  serve_cmd
      ->add_option("--http-header-timeout-s", o.http.header_timeout_s,
                   "Seconds from a request's first byte to the end of its header")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve_cmd
      ->add_option("--http-request-timeout-s", o.http.request_timeout_s,
                   "Seconds to receive a JSON body once the header is in")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve_cmd
      ->add_option("--http-upload-timeout-s", o.http.upload_timeout_s,
                   "Seconds to receive an upload once the header is in")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  serve_cmd
      ->add_option("--http-idle-timeout-s", o.http.idle_timeout_s,
                   "Seconds without progress mid-request (read or write) before closing")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve_cmd->add_option("--max-upload-mb", o.max_upload_mb, "Largest dataset upload (MiB)")
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-queued-tokens", o.max_queued_tokens,
                   "Sync embed tokens a model may have waiting before 429")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  serve_cmd
      ->add_flag("--no-work", o.no_work,
                 "Serve the API only: datasets are validated and jobs run by `embedjobs worker` "
                 "processes on the same store")
      ->envname("EMBEDJOBS_NO_WORK");
  std::string config_path;
  add_work_options(serve_cmd, o, config_path);
  CLI::App* worker_cmd = app.add_subcommand(
      "worker",
      "Validate datasets and run jobs from the store, with no HTTP listener (any number of "
      "workers may share one store and data dir); SIGTERM drains it");
  add_work_options(worker_cmd, o, config_path);

  CLI::App* keys_cmd = app.add_subcommand("keys", "Manage API keys");
  keys_cmd->require_subcommand(1);
  CLI::App* keys_create = keys_cmd->add_subcommand("create", "Create a new API key and print it");
  std::string key_data_dir = "./data", key_store, key_owner_name, key_name;
  keys_create->add_option("--data-dir", key_data_dir)
      ->envname("EMBEDJOBS_DATA_DIR")
      ->capture_default_str();
  ej::cli::add_store_option(keys_create, &key_store);
  keys_create->add_option("--owner", key_owner_name, "Owner of the key (default: a new owner)");
  keys_create->add_option("--name", key_name, "A label for the key");
  CLI::App* keys_list = keys_cmd->add_subcommand("list", "List the stored keys (ids, owners)");
  keys_list->add_option("--data-dir", key_data_dir)
      ->envname("EMBEDJOBS_DATA_DIR")
      ->capture_default_str();
  ej::cli::add_store_option(keys_list, &key_store);
  std::string revoke_id;
  CLI::App* keys_revoke =
      keys_cmd->add_subcommand("revoke", "Delete a key: it stops working at once");
  keys_revoke
      ->add_option("id", revoke_id, "The key's id (from keys list; a unique prefix is enough)")
      ->required();
  keys_revoke->add_option("--data-dir", key_data_dir)
      ->envname("EMBEDJOBS_DATA_DIR")
      ->capture_default_str();
  ej::cli::add_store_option(keys_revoke, &key_store);

  std::function<int()> run_client = ej::cli::register_client_commands(app);
  std::function<int()> run_migrate = ej::cli::register_migrate_command(app);

  // An unknown subcommand anywhere (`keys lsit --help`) is named, with a suggestion, before
  // CLI11 would print the parent's help or "A subcommand is required".
  if (auto msg = ej::cli::unknown_subcommand_message(app, argc, argv);
      msg && !(argc >= 2 && std::string(argv[1]) == "help")) {
    std::cerr << *msg << "\n";
    return ej::cli::kExitUsage;
  }
  if (auto help = ej::cli::help_command(app, argc, argv)) {
    std::cout << *help;
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (auto msg = ej::cli::unknown_subcommand_message(app, argc, argv)) {
      std::cerr << *msg << "\n";
    } else {
      app.exit(e);
    }
    return ej::cli::kExitUsage;
  }
  if (int rc = run_client(); rc >= 0) return rc;
  if (int rc = run_migrate(); rc >= 0) return rc;
  try {
    if (serve_cmd->parsed() || worker_cmd->parsed()) {
      CLI::App* cmd = serve_cmd->parsed() ? serve_cmd : worker_cmd;
      if (!config_path.empty()) {
        try {
          ej::cli::apply_config_file(cmd, config_path);
        } catch (const std::runtime_error& e) {
          std::cerr << "embedjobs: " << e.what() << "\n";
          return ej::cli::kExitUsage;
        }
      }
      return serve(o, serve_cmd->parsed() ? Role::kApi : Role::kWorker);
    }
    if (keys_create->parsed()) {
      fs::create_directories(key_data_dir);
      auto store = ej::store::open_store(key_store, key_data_dir + "/embedjobs.db");
      ej::service::ApiKeys keys(store.get(),
                                ej::service::api_key_secret(store.get(), key_data_dir));
      auto [key, owner] = keys.create(key_owner_name, key_name);
      std::cout << key << std::endl;
      std::cerr << "owner: " << owner << " (the key is shown once; only its hash is stored)\n";
      return 0;
    }
    if (keys_list->parsed() || keys_revoke->parsed()) {
      if (key_store.empty() && !fs::exists(key_data_dir + "/embedjobs.db")) {
        std::cerr << "embedjobs: no database in " << key_data_dir << " (--data-dir)\n";
        return ej::cli::kExitNotFound;
      }
      auto store = ej::store::open_store(key_store, key_data_dir + "/embedjobs.db");
      ej::service::ApiKeys keys(store.get(),
                                ej::service::api_key_secret(store.get(), key_data_dir));
      if (keys_revoke->parsed()) {
        try {
          ej::service::ApiKeys::Listed k = keys.revoke(revoke_id);
          std::cerr << "revoked key " << k.id << " of owner " << k.owner << "\n";
          return 0;
        } catch (const ej::Error& e) {
          std::cerr << "embedjobs: " << e.what() << "\n";
          return e.code() == ej::ErrorCode::kNotFound ? ej::cli::kExitNotFound
                                                      : ej::cli::kExitUsage;
        }
      }
      std::cout << "ID            OWNER                 NAME          CREATED\n";
      for (const auto& k : keys.list()) {
        std::printf("%-13s %-21s %-13s %s\n", k.id.c_str(), k.owner.c_str(), k.name.c_str(),
                    ej::format_rfc3339(k.created_us).c_str());
      }
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "embedjobs: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
