// Serving benchmark (issue 8): a loopback client for a running `embedjobs serve`, driven by
// bench/serving_bench.sh. In one run it prints
//   1. the engine alone: tokens/s on the corpus packed into max_batch_tokens batches (in this
//      process, same model folder and thread count as the server: the "peer" figure);
//   2. p50 / p99 of a one-text POST /v2/embed on ONE keep-alive connection;
//   3. 32 concurrent one-text clients (keep-alive, corpus texts): requests/s, tokens/s and its
//      ratio to (1), p50 / p99;
//   4. a job's rows/s alone, then 64 clients x 96 texts while the job runs: p50 / p99 (and
//      their ratio), embeddings/s, and the job's rows/s under that load.
// Usage: serving_bench --url http://127.0.0.1:PORT --key KEY --model NAME --model-dir DIR
//                      --corpus corpus.jsonl --dataset ID [--threads 2] [--seconds 15]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/embedder.h"

namespace {

using Clock = std::chrono::steady_clock;
double secs_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Args {
  std::string url, key, model, model_dir, corpus, dataset;
  int threads = 2;
  double seconds = 15;
  std::string phases = "1234";
  bool on(char p) const { return phases.find(p) != std::string::npos; }
};

std::string arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return argv[i + 1];
  }
  if (!fallback) {
    std::cerr << "serving_bench: " << name << " is required\n";
    std::exit(2);
  }
  return fallback;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Billed tokens from a response body without parsing its vectors.
int64_t billed_tokens(const std::string& body) {
  size_t p = body.find("\"input_tokens\":");
  return p == std::string::npos ? 0 : std::atoll(body.c_str() + p + 15);
}

class Api {
 public:
  Api(const Args& a) : client_(a.url), key_(a.key) {
    client_.set_keep_alive(true);
    client_.set_read_timeout(600, 0);
    client_.set_write_timeout(600, 0);
    client_.set_tcp_nodelay(true);
  }
  // POST JSON; returns status, fills *body.
  int post(const std::string& path, const std::string& json, std::string* body) {
    auto res =
        client_.Post(path.c_str(), {{"Authorization", "Bearer " + key_}}, json, "application/json");
    if (!res) return -1;
    *body = std::move(res->body);
    return res->status;
  }
  int get(const std::string& path, std::string* body) {
    auto res = client_.Get(path.c_str(), {{"Authorization", "Bearer " + key_}});
    if (!res) return -1;
    *body = std::move(res->body);
    return res->status;
  }

 private:
  httplib::Client client_;
  std::string key_;
};

std::string embed_body(const std::string& model, const std::vector<std::string>& texts) {
  return nlohmann::json({{"model", model},
                         {"input_type", "search_document"},
                         {"embedding_types", {"float"}},
                         {"texts", texts}})
      .dump();
}

// Latencies and tokens of `clients` threads, each sending requests built by make(c, k).
struct LoadResult {
  std::vector<double> latency_ms;
  int64_t requests = 0, tokens = 0, texts = 0, errors = 0;
  double wall_s = 0;
};

template <typename Make>
LoadResult run_clients(const Args& a, int clients, int requests_each, double max_s, Make make) {
  LoadResult r;
  std::mutex mu;
  std::vector<std::thread> ts;
  const auto t0 = Clock::now();
  for (int c = 0; c < clients; ++c) {
    ts.emplace_back([&, c] {
      Api api(a);
      std::string body;
      for (int k = 0; (requests_each <= 0 || k < requests_each) && secs_since(t0) < max_s; ++k) {
        std::vector<std::string> texts = make(c, k);
        std::string json = embed_body(a.model, texts);
        const auto s = Clock::now();
        int status = api.post("/v2/embed", json, &body);
        const double ms = secs_since(s) * 1000;
        std::lock_guard<std::mutex> lock(mu);
        if (status != 200) {
          ++r.errors;
          if (r.errors < 5) std::cerr << "status " << status << ": " << body.substr(0, 200) << "\n";
          continue;
        }
        r.latency_ms.push_back(ms);
        ++r.requests;
        r.texts += static_cast<int64_t>(texts.size());
        r.tokens += billed_tokens(body);
      }
    });
  }
  for (auto& t : ts) t.join();
  r.wall_s = secs_since(t0);
  return r;
}

nlohmann::json get_json(Api& api, const std::string& path) {
  std::string body;
  if (api.get(path, &body) != 200) throw std::runtime_error("GET " + path + ": " + body);
  return nlohmann::json::parse(body);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time into a log file
  Args a;
  a.url = arg(argc, argv, "--url", nullptr);
  a.key = arg(argc, argv, "--key", nullptr);
  a.model = arg(argc, argv, "--model", nullptr);
  a.model_dir = arg(argc, argv, "--model-dir", nullptr);
  a.corpus = arg(argc, argv, "--corpus", nullptr);
  a.dataset = arg(argc, argv, "--dataset", nullptr);
  a.threads = std::stoi(arg(argc, argv, "--threads", "2"));
  a.seconds = std::max(1.0, std::stod(arg(argc, argv, "--seconds", "15")));
  a.phases = arg(argc, argv, "--phases", "1234");

  std::vector<std::string> corpus;
  {
    std::ifstream in(a.corpus);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) corpus.push_back(nlohmann::json::parse(line).get<std::string>());
    }
  }

  // The one-text clients send short texts (the first 10 words of each corpus text, about 14
  // tokens, the size of the "one text" calls); the engine-alone figure of phase 3 is on
  // the same short texts packed into full batches.
  std::vector<std::string> shorts;
  for (const auto& t : corpus) {
    std::string s;
    int words = 0;
    for (size_t i = 0; i < t.size() && words < 10; ++i) {
      if (t[i] == ' ' && ++words == 10) break;
      s.push_back(t[i]);
    }
    shorts.push_back(s);
  }

  // 1. The engine alone, on the corpus (and on the short texts) packed into full batches.
  double engine_tok_s = 0, engine_short_tok_s = 0;
  int64_t corpus_tokens = 0;
  {
    ej::engine::EngineOptions eo;
    eo.threads = a.threads;
    auto e = ej::engine::open_embedder(a.model_dir, eo);
    auto measure = [&](const std::vector<std::string>& texts, int64_t* total) {
      std::vector<ej::engine::TokenizedInput> ins;
      *total = 0;
      for (size_t i = 0; i < texts.size(); ++i) {
        ins.push_back(e->tokenize_for(texts[i], ej::engine::InputType::kSearchDocument,
                                      ej::engine::Truncate::kEnd, 0, i));
        *total += static_cast<int64_t>(ins.back().ids.size());
      }
      std::vector<float> out;
      double best = 1e30;
      for (int rep = 0; rep < 2; ++rep) {
        const auto t0 = Clock::now();
        size_t i = 0;
        while (i < ins.size()) {
          std::vector<ej::engine::TokenSeq> batch;
          int64_t tokens = 0;
          while (i < ins.size() &&
                 (batch.empty() ||
                  tokens + static_cast<int64_t>(ins[i].ids.size()) <= e->max_batch_tokens())) {
            tokens += static_cast<int64_t>(ins[i].ids.size());
            batch.push_back({ins[i].ids, ins[i].prompt_tokens, texts[i]});
            ++i;
          }
          e->embed_tokens(batch, &out);
        }
        best = std::min(best, secs_since(t0));
      }
      return static_cast<double>(*total) / best;
    };
    if (a.on('1') || a.on('4')) {
      engine_tok_s = measure(corpus, &corpus_tokens);
      std::printf(
          "engine alone: %zu corpus texts, %lld tokens, %.0f tokens/s (best of 2, %d "
          "threads)\n",
          corpus.size(), static_cast<long long>(corpus_tokens), engine_tok_s, a.threads);
    }
    if (a.on('3')) {
      int64_t short_tokens = 0;
      engine_short_tok_s = measure(shorts, &short_tokens);
      std::printf("engine alone: %zu short texts, %lld tokens, %.0f tokens/s\n", shorts.size(),
                  static_cast<long long>(short_tokens), engine_short_tok_s);
    }
  }
  const double mean_tokens =
      static_cast<double>(corpus_tokens) / static_cast<double>(corpus.size());

  // 2. One text, one keep-alive connection.
  if (a.on('2')) {
    Api api(a);
    const std::string json = embed_body(a.model, {"What is the capital of France?"});
    std::string body;
    std::vector<double> ms;
    int64_t tokens = 0;
    for (int i = 0; i < 320; ++i) {
      const auto s = Clock::now();
      if (api.post("/v2/embed", json, &body) != 200) {
        std::cerr << "one-text call failed: " << body << "\n";
        return 1;
      }
      if (i >= 20) ms.push_back(secs_since(s) * 1000);
      tokens = billed_tokens(body);
    }
    std::printf(
        "one text (%lld tokens), one keep-alive connection: p50 %.2f ms, p99 %.2f ms  "
        "[goal p50 <= 5 ms: %s]\n",
        static_cast<long long>(tokens), pct(ms, 0.5), pct(ms, 0.99),
        pct(ms, 0.5) <= 5 ? "met" : "NOT met");
  }

  // 3. 32 concurrent one-text clients.
  if (a.on('3')) {
    LoadResult r = run_clients(a, 32, 0, a.seconds, [&](int c, int k) {
      return std::vector<std::string>{shorts[static_cast<size_t>(c + 32 * k) % shorts.size()]};
    });
    const double tok_s = static_cast<double>(r.tokens) / r.wall_s;
    std::printf(
        "32 one-text clients (short texts): %.0f requests/s, %.0f tokens/s = %.0f%% of the "
        "engine alone, "
        "p50 %.1f ms, p99 %.1f ms, %lld errors  [goal >= 50%% with p99 < 250 ms: %s]\n",
        static_cast<double>(r.requests) / r.wall_s, tok_s, 100 * tok_s / engine_short_tok_s,
        pct(r.latency_ms, 0.5), pct(r.latency_ms, 0.99), static_cast<long long>(r.errors),
        tok_s >= 0.5 * engine_short_tok_s && pct(r.latency_ms, 0.99) < 250 ? "met" : "NOT met");
  }

  // 4. A job alone, then 64 clients x 96 texts while it runs.
  if (a.on('4')) {
    Api api(a);
    std::string body;
    const std::string create = nlohmann::json({{"model", a.model},
                                               {"dataset_id", a.dataset},
                                               {"input_type", "search_document"},
                                               {"embedding_types", {"float"}}})
                                   .dump();
    if (api.post("/v1/embed-jobs", create, &body) != 200) {
      std::cerr << "job create failed: " << body << "\n";
      return 1;
    }
    const std::string job = nlohmann::json::parse(body).at("job_id");
    auto rows_done = [&] {
      return get_json(api, "/v1/embed-jobs/" + job).value("rows_done", int64_t{0});
    };
    // Wait for the first committed chunk, then time the job alone.
    while (rows_done() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int64_t r0 = rows_done();
    auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
    int64_t r1 = rows_done();
    const double alone_rows_s = static_cast<double>(r1 - r0) / secs_since(t0);

    t0 = Clock::now();
    LoadResult r = run_clients(a, 64, 1, 1e9, [&](int c, int) {
      std::vector<std::string> texts;
      for (int i = 0; i < 96; ++i)
        texts.push_back(corpus[static_cast<size_t>(c * 96 + i) % corpus.size()]);
      return texts;
    });
    int64_t r2 = rows_done();
    const double loaded_rows_s = static_cast<double>(r2 - r1) / secs_since(t0);
    const double p50 = pct(r.latency_ms, 0.5), p99 = pct(r.latency_ms, 0.99);
    std::printf(
        "64 clients x 96 texts while a job runs: p50 %.1f s, p99 %.1f s, p50/p99 %.2f, "
        "%.0f embeddings/s (%.0f tokens/s), %lld errors  [goal p50 <= 0.6 x p99: %s]\n",
        p50 / 1000, p99 / 1000, p50 / p99, static_cast<double>(r.texts) / r.wall_s,
        static_cast<double>(r.tokens) / r.wall_s, static_cast<long long>(r.errors),
        p50 <= 0.6 * p99 ? "met" : "NOT met");
    std::printf("job: %.0f rows/s alone, %.0f rows/s under that load (%.0f tokens/row)\n",
                alone_rows_s, loaded_rows_s, mean_tokens);
    api.post("/v1/embed-jobs/" + job + "/cancel", "", &body);
  }
  return 0;
}
