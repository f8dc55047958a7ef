// engine_bench: throughput of the neural encoder engine on the peer kit's workloads, for the
// comparison with ONNX Runtime in bench/run_engine_bench.sh.
//
//   engine_bench --model DIR [--dtype fp32|bf16|int8] [--corpus corpus_tokens.json]
//                [--texts rows.jsonl] [--threads 2] [--reps 5] [--warmup 1] [--seq 128] [--batch
//                32]
//                [--batch-tokens N] [--json out.json] [--peer-kit DIR [--rounds N]]
//                [--gemm-ceiling]
//
// With --peer-kit (bench/peers with its node_modules installed, and DIR/onnx/model.onnx from
// bench/peers/bert_model.py, see bench/run_engine_bench.sh), the same run also starts the ONNX
// Runtime peer (node DIR/ort_peer.js, fp32) on the same model, the same token ids (handed over
// in a file), batch and threads, alternating ours / peer for --rounds rounds, and prints both
// tokens/s and the ratio (median over all timed repetitions, and best repetition: the machine
// is shared, so both are noisy).
// --gemm-ceiling: after the runs (and after the peak RSS is read), times oneDNN alone on the
// model's GEMM shapes in the same dtype (QKV, attention output, FFN up, FFN down; random
// weights, M = the fixed workload's batch x seq tokens, input already narrowed): a pure matmul
// loop, giving GFLOP/s and the tokens/s the GEMMs alone would allow; ours / that = the fraction
// of the GEMM ceiling.
//
// Workloads: "b<batch> s<seq>" (batch sequences of seq random tokens, [CLS] .. [SEP]) and
// "corpus" (every sequence of the corpus token ids; the engine sorts them by length and packs
// them into token-budget batches), and "texts" (--texts: the "text" of every JSONL line, tokenized
// untimed as a search_document with truncate END, as a job's rows are: the engine-alone figure
// for bench/job_dtype_bench.sh). Timed: embed_ids() (forward, pooling, normalize); token ids
// are given, as they are to the peers. Prints the median tokens/s, the share of time in the
// projection/FFN GEMMs, in attention and in the rest, and the peak RSS (VmHWM).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/linear.h"
#include "engine/neural_embedder.h"

namespace {

using ej::engine::ForwardStats;
using ej::engine::NeuralEmbedder;

// The model's GEMMs in `dtype` alone, M = rows: {GFLOP/s, tokens/s the GEMMs allow}.
std::pair<double, double> gemm_ceiling(const NeuralEmbedder& e, ej::engine::ComputeDType dtype,
                                       int64_t rows, int reps,
                                       ej::engine::Linear::Backend backend) {
  const auto& s = e.model().spec();
  const auto& blocks = e.model().arch().blocks;
  const int64_t H = s.hidden_size;
  const int64_t qkv = blocks.front().attn.num_heads * blocks.front().attn.head_dim +
                      2 * blocks.front().attn.num_kv_heads * blocks.front().attn.head_dim;
  const int64_t q = blocks.front().attn.num_heads * blocks.front().attn.head_dim;
  const auto& up_rows = blocks.front().mlp.up.rows;  // BERT layout: one plain FFN up matrix
  const int64_t ff = !up_rows.empty() && up_rows.front() > 0 ? up_rows.front() : 4 * H;
  using ej::engine::Linear;
  struct Shape {
    int64_t in, out;
    Linear::Epilogue ep;
    ej::engine::Activation act;
  };
  const Shape shapes[] = {
      {H, qkv, Linear::Epilogue::kNone, ej::engine::Activation::kIdentity},
      {q, H, Linear::Epilogue::kAccumulate, ej::engine::Activation::kIdentity},
      {H, ff, Linear::Epilogue::kActivation, ej::engine::Activation::kGeluErf},
      {ff, H, Linear::Epilogue::kAccumulate, ej::engine::Activation::kIdentity}};
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  std::vector<std::unique_ptr<Linear>> lins;
  std::vector<ej::engine::AlignedBuffer> xs, ys, narrowed, pads;
  double flops = 0;
  uint64_t state = 99;
  auto rnd = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(static_cast<int64_t>(state >> 40) % 2001 - 1000) * 1e-3f;
  };
  for (const Shape& sh : shapes) {
    std::vector<float> w(static_cast<size_t>(sh.in * sh.out)), b(static_cast<size_t>(sh.out));
    for (float& v : w) v = 0.02f * rnd();
    for (float& v : b) v = 0.02f * rnd();
    lins.push_back(std::make_unique<Linear>());
    lins.back()->init(eng, w.data(), b.data(), sh.in, sh.out, sh.ep, sh.act, dtype, backend);
    xs.emplace_back(static_cast<size_t>(rows * sh.in));
    for (size_t i = 0; i < static_cast<size_t>(rows * sh.in); ++i) xs.back().data()[i] = rnd();
    ys.emplace_back(static_cast<size_t>(rows * sh.out));
    std::fill_n(ys.back().data(), rows * sh.out, 0.0f);
    narrowed.emplace_back(lins.back()->narrowed_bytes(rows) / 4 + 1);
    lins.back()->narrow_input(xs.back().data(), rows, narrowed.back().data());
    pads.emplace_back(lins.back()->scratchpad_bytes(rows) / 4 + 1);
    flops += 2.0 * static_cast<double>(rows) * static_cast<double>(sh.in * sh.out);
  }
  auto once = [&] {
    for (size_t i = 0; i < lins.size(); ++i) {
      lins[i]->matmul(xs[i].data(), narrowed[i].data(), rows, ys[i].data(), pads[i].data());
    }
  };
  once();
  std::vector<double> times;
  for (int r = 0; r < std::max(3, reps); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    once();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double t = times[times.size() / 2];  // one layer's GEMMs for `rows` tokens
  const double layers = static_cast<double>(blocks.size());
  return {flops / t / 1e9, static_cast<double>(rows) / (t * layers)};
}

double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

nlohmann::json run(NeuralEmbedder& e, const std::string& name,
                   const std::vector<std::vector<int32_t>>& seqs, int warmup, int reps) {
  size_t tokens = 0;
  for (const auto& s : seqs) tokens += s.size();
  std::vector<float> out;
  for (int i = 0; i < warmup; ++i) e.embed_ids(seqs, &out);
  std::vector<double> times;
  ForwardStats st;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    e.embed_ids(seqs, &out, &st);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  double total = 0;
  for (double t : times) total += t;
  const double tok_s = static_cast<double>(tokens) / median;
  std::printf(
      "ours %s: %zu seqs, %zu tokens: median %.1f ms (min %.1f, max %.1f) -> %.0f tok/s; "
      "GEMM %.1f%%, attention %.1f%%, rest %.1f%%\n",
      name.c_str(), seqs.size(), tokens, median * 1e3, sorted.front() * 1e3, sorted.back() * 1e3,
      tok_s, 100 * st.gemm_s / total, 100 * st.attention_s / total,
      100 * (total - st.gemm_s - st.attention_s) / total);
  std::fflush(stdout);
  return {{"name", name},
          {"sentences", seqs.size()},
          {"tokens", tokens},
          {"times_s", times},
          {"median_s", median},
          {"tok_per_s", tok_s},
          {"gemm_s", st.gemm_s},
          {"attention_s", st.attention_s},
          {"total_s", total},
          {"gemm_share", st.gemm_s / total},
          {"attention_share", st.attention_s / total}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, corpus, texts, json_out, peer_kit, dtype_name = "fp32";
  bool ceiling = false;
  int threads = 2, reps = 5, warmup = 1, seq = 128, batch = 32, batch_tokens = 0, rounds = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") {
      model = next();
    } else if (a == "--corpus") {
      corpus = next();
    } else if (a == "--texts") {
      texts = next();
    } else if (a == "--json") {
      json_out = next();
    } else if (a == "--threads") {
      threads = std::stoi(next());
    } else if (a == "--reps") {
      reps = std::stoi(next());
    } else if (a == "--warmup") {
      warmup = std::stoi(next());
    } else if (a == "--seq") {
      seq = std::stoi(next());
    } else if (a == "--batch") {
      batch = std::stoi(next());
    } else if (a == "--batch-tokens") {
      batch_tokens = std::stoi(next());
    } else if (a == "--peer-kit") {
      peer_kit = next();
    } else if (a == "--dtype") {
      dtype_name = next();
    } else if (a == "--gemm-ceiling") {
      ceiling = true;
    } else if (a == "--rounds") {
      rounds = std::stoi(next());
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (model.empty()) {
    std::fprintf(stderr, "usage: engine_bench --model DIR [--corpus FILE] [--threads N] ...\n");
    return 2;
  }
  try {
    auto t0 = std::chrono::steady_clock::now();
    ej::engine::EngineOptions options{threads};
    if (!ej::engine::parse_compute_dtype(dtype_name, &options.dtype)) {
      std::fprintf(stderr, "--dtype must be fp32, bf16 or int8, got '%s'\n", dtype_name.c_str());
      return 2;
    }
    auto e = NeuralEmbedder::open(model, options);
    const double load_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (batch_tokens > 0) e->set_max_batch_tokens(batch_tokens);
    std::printf(
        "ours: model %s (%s, dims %d, dtype %s), load %.2f s, threads %d, batch budget %d "
        "tokens\n",
        model.c_str(), e->info().kind.c_str(), e->info().dims, e->info().dtype.c_str(), load_s,
        e->threads(), e->max_batch_tokens());
    // Workloads, built once.
    std::vector<std::pair<std::string, std::vector<std::vector<int32_t>>>> workloads;
    if (seq > 0 && batch > 0) {
      const int vocab = e->model().spec().vocab_size;
      uint64_t state = 1234;
      std::vector<std::vector<int32_t>> fixed;
      for (int b = 0; b < batch; ++b) {
        std::vector<int32_t> x{101};
        for (int j = 1; j < seq - 1; ++j) {
          state = state * 6364136223846793005ull + 1442695040888963407ull;
          x.push_back(1000 +
                      static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(vocab - 1000)));
        }
        x.push_back(102);
        fixed.push_back(std::move(x));
      }
      workloads.emplace_back("b" + std::to_string(batch) + " s" + std::to_string(seq),
                             std::move(fixed));
    }
    if (!corpus.empty()) {
      std::ifstream in(corpus);
      auto j = nlohmann::json::parse(in);
      auto seqs = j.at("input_ids").get<std::vector<std::vector<int32_t>>>();
      for (auto& s : seqs) {
        if (static_cast<int>(s.size()) > e->info().max_tokens) s.resize(e->info().max_tokens);
      }
      workloads.emplace_back("corpus", std::move(seqs));
    }
    if (!texts.empty()) {
      std::ifstream in(texts);
      std::string line;
      std::vector<std::vector<int32_t>> seqs;
      const std::string& prompt = e->prompt_for(ej::engine::InputType::kSearchDocument);
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        const std::string text = nlohmann::json::parse(line).at("text").get<std::string>();
        int32_t prompt_tokens = 0;
        seqs.push_back(
            e->tokenize(text, prompt, ej::engine::Truncate::kEnd, seqs.size(), &prompt_tokens));
      }
      workloads.emplace_back("texts", std::move(seqs));
    }

    struct Acc {
      size_t tokens = 0;
      std::vector<double> ours, peer;
      double gemm = 0, attn = 0, total = 0;
    };
    std::map<std::string, Acc> acc;
    std::vector<std::string> order;
    for (const auto& [name, seqs] : workloads) order.push_back(name);
    nlohmann::json results = nlohmann::json::array();
    nlohmann::json peer_results = nlohmann::json::array();
    for (int round = 1; round <= std::max(1, rounds); ++round) {
      for (const auto& [name, seqs] : workloads) {
        nlohmann::json r = run(*e, name, seqs, warmup, reps);
        Acc& a = acc[name];
        a.tokens = r["tokens"].get<size_t>();
        for (double t : r["times_s"]) a.ours.push_back(t);
        a.gemm += r["gemm_s"].get<double>();
        a.attn += r["attention_s"].get<double>();
        a.total += r["total_s"].get<double>();
        r["round"] = round;
        results.push_back(r);
      }
      if (peer_kit.empty()) continue;
      // The ORT peer (fp32), same model / token ids / batch / threads / repetitions.
      const std::string tmp = (std::filesystem::temp_directory_path() /
                               ("ej_engine_bench_ort_" + std::to_string(::getpid())))
                                  .string();
      const std::string out = tmp + ".json", ids_file = tmp + "_ids.json";
      {
        nlohmann::json w = nlohmann::json::array();
        for (const auto& [wname, wseqs] : workloads) {
          w.push_back({{"name", wname}, {"input_ids", wseqs}});
        }
        std::ofstream(ids_file) << nlohmann::json{{"workloads", w}}.dump();
      }
      std::string cmd = "node '" + peer_kit + "/ort_peer.js' --model '" +
                        std::filesystem::absolute(model).string() + "' --workloads '" + ids_file +
                        "' --threads " + std::to_string(threads) + " --batch " +
                        std::to_string(batch) + " --reps " + std::to_string(reps) + " --warmup " +
                        std::to_string(warmup) + " --json '" + out + "'";
      std::fflush(stdout);
      const int rc = std::system(cmd.c_str());
      std::filesystem::remove(ids_file);
      if (rc != 0) {
        std::fprintf(stderr, "engine_bench: the ORT peer failed: %s\n", cmd.c_str());
        return 1;
      }
      std::ifstream pin(out);
      auto pj = nlohmann::json::parse(pin);
      std::filesystem::remove(out);
      for (auto& r : pj["results"]) {
        std::string name = r["name"].get<std::string>();
        if (name.rfind("corpus", 0) == 0) name = "corpus";
        for (double t : r["times_s"]) acc[name].peer.push_back(t);
        r["round"] = round;
        peer_results.push_back(r);
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.empty() ? 0.0 : v[v.size() / 2];
    };
    auto best = [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
    };
    std::printf("\nsummary (%s, %d threads; tok/s = median over all timed reps, best rep in ()):\n",
                std::filesystem::path(model).filename().c_str(), e->threads());
    nlohmann::json summary = nlohmann::json::array();
    for (const auto& name : order) {
      const Acc& a = acc[name];
      const double om = a.tokens / median(a.ours), ob = a.tokens / best(a.ours);
      nlohmann::json srow = {{"name", name},
                             {"tokens", a.tokens},
                             {"ours_tok_per_s", om},
                             {"ours_best_tok_per_s", ob},
                             {"gemm_share", a.gemm / a.total},
                             {"attention_share", a.attn / a.total}};
      std::printf("  %-10s ours %7.0f (%7.0f) tok/s", name.c_str(), om, ob);
      if (!a.peer.empty()) {
        const double pm = a.tokens / median(a.peer), pb = a.tokens / best(a.peer);
        std::printf(" | ORT %7.0f (%7.0f) tok/s | ratio %.2f (best %.2f)", pm, pb, om / pm,
                    ob / pb);
        srow["ort_tok_per_s"] = pm;
        srow["ort_best_tok_per_s"] = pb;
        srow["ratio"] = om / pm;
        srow["ratio_best"] = ob / pb;
      }
      std::printf(" | GEMM %.1f%%, attention %.1f%%, rest %.1f%%\n", 100 * a.gemm / a.total,
                  100 * a.attn / a.total, 100 * (a.total - a.gemm - a.attn) / a.total);
      summary.push_back(srow);
    }
    const double rss = peak_rss_mib();
    std::printf("ours: peak RSS %.0f MiB\n", rss);
    nlohmann::json ceiling_json;
    if (ceiling) {
      const int64_t rows = static_cast<int64_t>(std::max(1, seq) * std::max(1, batch));
      using Backend = ej::engine::Linear::Backend;
      auto [gflops, tok_s] = gemm_ceiling(*e, options.dtype, rows, reps, Backend::kOneDnn);
      std::printf(
          "GEMM ceiling (%s, oneDNN alone on the model's GEMM shapes, M = %lld): %.0f "
          "GFLOP/s = %.0f tok/s\n",
          e->info().dtype.c_str(), static_cast<long long>(rows), gflops, tok_s);
      // The same GEMMs on the backend the engine uses (our bf16 / int8 kernel where it applies).
      auto [own_gflops, own_tok_s] = gemm_ceiling(*e, options.dtype, rows, reps, Backend::kAuto);
      std::printf("GEMMs alone on the engine's backend (%s, M = %lld): %.0f GFLOP/s = %.0f tok/s\n",
                  e->info().dtype.c_str(), static_cast<long long>(rows), own_gflops, own_tok_s);
      ceiling_json = {{"rows", rows},
                      {"gflop_per_s", gflops},
                      {"tok_per_s", tok_s},
                      {"engine_backend_gflop_per_s", own_gflops},
                      {"engine_backend_tok_per_s", own_tok_s}};
    }
    if (!json_out.empty()) {
      nlohmann::json r = {{"engine", "embedjobs"},
                          {"model", model},
                          {"threads", e->threads()},
                          {"dtype", e->info().dtype},
                          {"gemm_ceiling", ceiling_json},
                          {"load_s", load_s},
                          {"max_batch_tokens", e->max_batch_tokens()},
                          {"peak_rss_mib", rss},
                          {"results", results},
                          {"peer_results", peer_results},
                          {"summary", summary}};
      std::ofstream(json_out) << r.dump(1);
    }
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "engine_bench: %s\n", ex.what());
    return 1;
  }
  return 0;
}
