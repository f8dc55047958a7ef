// Model loading: safetensors parsing and widening, the tensor name / shape check (every problem
// listed at once), checkpoint prefixes, config-driven spec, prompts, calibration, kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "common/error.h"
#include "engine/encoder_model.h"
#include "engine/kernels.h"
#include "engine/model_spec.h"
#include "engine/neural_embedder.h"
#include "engine/safetensors.h"

namespace ej::engine {
namespace {

namespace fs = std::filesystem;

std::string data_dir(const std::string& name) {
  return std::string(EJ_TEST_DATA_DIR) + "/" + name;
}

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("ej_engine_test_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

std::map<std::string, RawTensor> read_raw(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  std::memcpy(&n, all.data(), 8);
  auto h = nlohmann::json::parse(all.substr(8, n));
  std::map<std::string, RawTensor> out;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    auto off = it.value()["data_offsets"].get<std::vector<size_t>>();
    out[it.key()] = RawTensor{it.value()["dtype"].get<std::string>(),
                              it.value()["shape"].get<std::vector<int64_t>>(),
                              all.substr(8 + n + off[0], off[1] - off[0])};
  }
  return out;
}

void write_raw(const fs::path& p, const std::map<std::string, RawTensor>& ts) {
  nlohmann::json h = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : ts) {
    h[name] = {{"dtype", t.dtype},
               {"shape", t.shape},
               {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  std::string hs = h.dump();
  while ((8 + hs.size()) % 8 != 0) hs += ' ';
  uint64_t n = hs.size();
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(hs.data(), static_cast<std::streamsize>(hs.size()));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Copies a fixture into a temp dir and rewrites its model.safetensors through `edit`.
void copy_and_edit(const std::string& fixture, const fs::path& to,
                   const std::function<void(std::map<std::string, RawTensor>*)>& edit) {
  fs::copy(data_dir(fixture), to,
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  auto ts = read_raw(to / "model.safetensors");
  edit(&ts);
  write_raw(to / "model.safetensors", ts);
}

std::vector<float> embed_first_cases(const std::string& dir, const std::string& fixture, int n) {
  std::ifstream in(data_dir(fixture) + "/expected.json");
  auto j = nlohmann::json::parse(in);
  std::vector<std::vector<int32_t>> seqs;
  for (int i = 0; i < n; ++i)
    seqs.push_back(j["cases"][i]["input_ids"].get<std::vector<int32_t>>());
  auto e = NeuralEmbedder::open(dir, EngineOptions{1});
  std::vector<float> v;
  e->embed_ids(seqs, &v);
  return v;
}

TEST(EngineModelLoading, MissingAndMisshapenTensorsAreAllListed) {
  TempDir tmp;
  fs::path dir = tmp.path() / "broken";
  copy_and_edit("bert-tiny", dir, [](auto* ts) {
    ts->erase("encoder.layer.1.attention.self.key.weight");
    ts->erase("embeddings.LayerNorm.bias");
    RawTensor& b = (*ts)["encoder.layer.0.intermediate.dense.bias"];
    b.shape = {127};
    b.bytes.resize(127 * 4);
    RawTensor& w = (*ts)["encoder.layer.1.output.dense.weight"];
    w.shape = {128, 64};  // transposed
  });
  try {
    EncoderModel::load(dir);
    FAIL() << "load should fail";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(m.find("4 problem(s)"), std::string::npos) << m;
    EXPECT_NE(m.find("missing tensor 'encoder.layer.1.attention.self.key.weight' [64, 64]"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("missing tensor 'embeddings.LayerNorm.bias' [64]"), std::string::npos) << m;
    EXPECT_NE(m.find("'encoder.layer.0.intermediate.dense.bias' has shape [127], expected [128]"),
              std::string::npos)
        << m;
    EXPECT_NE(
        m.find("'encoder.layer.1.output.dense.weight' has shape [128, 64], expected [64, 128]"),
        std::string::npos)
        << m;
  }
}

TEST(EngineModelLoading, DenseModuleTensorsAreChecked) {
  TempDir tmp;
  fs::path dir = tmp.path() / "m";
  fs::copy(data_dir("bert-tiny-cls-f16"), dir, fs::copy_options::recursive);
  auto ts = read_raw(dir / "2_Dense" / "model.safetensors");
  ts.erase("linear.bias");
  write_raw(dir / "2_Dense" / "model.safetensors", ts);
  try {
    EncoderModel::load(dir);
    FAIL() << "load should fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2_Dense: missing tensor 'linear.bias' [32]"),
              std::string::npos)
        << e.what();
  }
}

TEST(EngineModelLoading, PrefixedCheckpointNamesLoad) {
  for (const auto& [fixture, prefix] : std::vector<std::pair<std::string, std::string>>{
           {"bert-tiny", "bert."}, {"xlmr-tiny", "roberta."}, {"bert-tiny-cls-f16", "bert."}}) {
    TempDir tmp;
    fs::path dir = tmp.path() / "m";
    copy_and_edit(fixture, dir, [&](auto* ts) {
      std::map<std::string, RawTensor> renamed;
      for (auto& [k, v] : *ts) renamed[prefix + k] = v;
      renamed["lm_head.bias"] = RawTensor{"F32", {1}, std::string(4, '\0')};  // extra: ignored
      *ts = std::move(renamed);
    });
    auto a = embed_first_cases(dir, fixture, 5);
    auto b = embed_first_cases(data_dir(fixture), fixture, 5);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << fixture << " " << i;
  }
}

TEST(EngineModelLoading, Bf16WeightsWidenExactly) {
  // Rewrite bert-tiny as BF16 (truncating the f32 bits) and compare with the f32 model whose
  // weights were rounded the same way in f32: identical arithmetic, identical output.
  TempDir tmp;
  fs::path bf = tmp.path() / "bf16", f32 = tmp.path() / "f32r";
  auto to_bf16 = [](std::map<std::string, RawTensor>* ts, bool keep_f32) {
    for (auto& [k, t] : *ts) {
      size_t n = t.bytes.size() / 4;
      std::string out;
      for (size_t i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, t.bytes.data() + 4 * i, 4);
        if (keep_f32) {
          u &= 0xffff0000u;
          out.append(reinterpret_cast<const char*>(&u), 4);
        } else {
          uint16_t h = static_cast<uint16_t>(u >> 16);
          out.append(reinterpret_cast<const char*>(&h), 2);
        }
      }
      t.bytes = out;
      if (!keep_f32) t.dtype = "BF16";
    }
  };
  copy_and_edit("bert-tiny", bf, [&](auto* ts) { to_bf16(ts, false); });
  copy_and_edit("bert-tiny", f32, [&](auto* ts) { to_bf16(ts, true); });
  auto a = embed_first_cases(bf, "bert-tiny", 6);
  auto b = embed_first_cases(f32, "bert-tiny", 6);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

TEST(EngineModelLoading, ActivationKernelMatchesFusedPostOp) {
  // The FFN activation runs as a oneDNN post-op by default; EJ_ENGINE_UNFUSED_ACT=1 selects
  // our own AVX-512 kernel. Both must agree (erf and tanh GELU fixtures).
  for (const char* fixture : {"bert-tiny", "bert-tiny-cls-f16"}) {
    auto fused = embed_first_cases(data_dir(fixture), fixture, 8);
    ::setenv("EJ_ENGINE_UNFUSED_ACT", "1", 1);
    auto own = embed_first_cases(data_dir(fixture), fixture, 8);
    ::unsetenv("EJ_ENGINE_UNFUSED_ACT");
    ASSERT_EQ(fused.size(), own.size());
    for (size_t i = 0; i < own.size(); ++i) ASSERT_NEAR(fused[i], own[i], 1e-5) << fixture << i;
  }
}

TEST(EngineModelLoading, F16ConversionIsExact) {
  // Independent reference: value = (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024.
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint32_t sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    if (e == 31) {
      if (m == 0) {
        EXPECT_TRUE(std::isinf(got) && std::signbit(got) == (sign != 0)) << h;
      } else {
        EXPECT_TRUE(std::isnan(got)) << h;
      }
      continue;
    }
    double ref = e == 0 ? std::ldexp(static_cast<double>(m), -24)
                        : std::ldexp(1.0 + m / 1024.0, static_cast<int>(e) - 15);
    if (sign) ref = -ref;
    ASSERT_EQ(static_cast<double>(got), ref) << "half 0x" << std::hex << h;
    ASSERT_EQ(std::signbit(got), sign != 0) << h;
  }
}

TEST(EngineModelLoading, SpecComesFromTheConfigFiles) {
  EncoderSpec a = read_encoder_spec(data_dir("bert-tiny"));
  EXPECT_EQ(a.family, ModelFamily::kBert);
  EXPECT_EQ(a.hidden_act, Activation::kGeluErf);
  EXPECT_FLOAT_EQ(a.layer_norm_eps, 1e-12f);
  EXPECT_EQ(a.position_offset, 0);
  EXPECT_TRUE(a.pooling.mean);
  EXPECT_TRUE(a.normalize);
  EXPECT_EQ(a.max_seq_length, 128);
  EXPECT_EQ(a.embedding_dim, 64);

  EncoderSpec b = read_encoder_spec(data_dir("bert-tiny-cls-f16"));
  EXPECT_EQ(b.hidden_act, Activation::kGeluTanh);
  EXPECT_TRUE(b.pooling.cls);
  EXPECT_FALSE(b.pooling.mean);
  EXPECT_FALSE(b.normalize);
  ASSERT_EQ(b.dense.size(), 1u);
  EXPECT_EQ(b.dense[0].activation, Activation::kTanh);
  EXPECT_EQ(b.embedding_dim, 32);
  EXPECT_EQ(b.max_seq_length, 32);

  EncoderSpec c = read_encoder_spec(data_dir("xlmr-tiny"));
  EXPECT_EQ(c.family, ModelFamily::kXlmRoberta);
  EXPECT_EQ(c.position_offset, 2);
  EXPECT_FLOAT_EQ(c.layer_norm_eps, 1e-5f);
  EXPECT_EQ(c.prompts.at("query"), "query: ");
}

TEST(EngineModelLoading, UnsupportedConfigListsEveryProblem) {
  TempDir tmp;
  fs::path dir = tmp.path() / "m";
  fs::copy(data_dir("bert-tiny"), dir, fs::copy_options::recursive);
  std::ifstream in(dir / "config.json");
  auto cfg = nlohmann::json::parse(in);
  in.close();
  cfg["hidden_act"] = "mish";
  cfg["position_embedding_type"] = "relative_key";
  std::ofstream(dir / "config.json") << cfg.dump();
  try {
    read_encoder_spec(dir);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("hidden_act 'mish'"), std::string::npos) << m;
    EXPECT_NE(m.find("relative_key"), std::string::npos) << m;
  }
  EXPECT_THROW(read_encoder_spec(tmp.path() / "nope"), Error);
}

TEST(EngineModelLoading, InfoPromptsAndCalibration) {
  auto x = NeuralEmbedder::open(data_dir("xlmr-tiny"), EngineOptions{1});
  EXPECT_EQ(x->info().kind, "xlm-roberta");
  EXPECT_EQ(x->info().dims, 64);
  EXPECT_EQ(x->info().max_tokens, 128);
  EXPECT_EQ(x->prompt_for(InputType::kSearchQuery), "query: ");
  EXPECT_EQ(x->prompt_for(InputType::kSearchDocument), "passage: ");
  EXPECT_EQ(x->prompt_for(InputType::kClassification), "");
  EXPECT_GT(x->info().calib_hi, 0.0f);
  EXPECT_LE(x->info().calib_hi, 1.0f);
  EXPECT_FLOAT_EQ(x->info().calib_lo, -x->info().calib_hi);

  auto b = NeuralEmbedder::open(data_dir("bert-tiny-cls-f16"), EngineOptions{1});
  EXPECT_EQ(b->info().kind, "bert");
  EXPECT_EQ(b->info().dims, 32);
  EXPECT_EQ(b->info().max_tokens, 32);
  EXPECT_EQ(b->prompt_for(InputType::kSearchQuery), "");

  std::vector<std::vector<int32_t>> too_long{{101, 102}, std::vector<int32_t>(33, 1000)};
  std::vector<float> v;
  try {
    b->embed_ids(too_long, &v);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("input 1"), std::string::npos) << e.what();
  }
  std::vector<std::vector<int32_t>> bad_id{{101, 8000, 102}};
  EXPECT_THROW(b->embed_ids(bad_id, &v), Error);
}

TEST(EngineKernels, ActivationsAndSoftmaxMatchDoubleReference) {
  std::vector<float> xs;
  for (int i = -4000; i <= 4000; ++i) xs.push_back(static_cast<float>(i) * 0.005f);
  for (float big : {-60.f, -20.f, -9.f, 9.f, 20.f, 60.f}) xs.push_back(big);
  struct A {
    Activation act;
    std::function<double(double)> ref;
  };
  const double k = std::sqrt(2.0 / M_PI);
  std::vector<A> acts{
      {Activation::kGeluErf, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {Activation::kGeluTanh,
       [k](double x) { return 0.5 * x * (1 + std::tanh(k * (x + 0.044715 * x * x * x))); }},
      {Activation::kRelu, [](double x) { return x > 0 ? x : 0; }},
      {Activation::kSilu, [](double x) { return x / (1 + std::exp(-x)); }},
      {Activation::kTanh, [](double x) { return std::tanh(x); }},
  };
  for (const A& a : acts) {
    std::vector<float> v = xs;
    kernels::bias_activation_rows(v.data(), 1, v.size(), v.size(), nullptr, a.act, 1);
    double worst = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      double r = a.ref(xs[i]);
      worst = std::max(worst, std::fabs(v[i] - r) / std::max(1.0, std::fabs(r)));
    }
    EXPECT_LE(worst, 1e-6) << static_cast<int>(a.act);
  }
  for (size_t n : {1u, 7u, 16u, 33u, 300u}) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(i * 1.7) * 12.0);
    std::vector<double> r(v.begin(), v.end());
    double mx = *std::max_element(r.begin(), r.end()), s = 0;
    for (double& x : r) s += (x = std::exp(x - mx));
    kernels::softmax(v.data(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(v[i], r[i] / s, 1e-7) << n << " " << i;
  }
}

TEST(EngineKernels, AttentionHeadMatchesDoubleReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (size_t dh : {16u, 24u, 32u, 64u, 128u}) {
    for (size_t len : {1u, 3u, 17u, 64u, 130u}) {
      const size_t ld = 3 * dh + 5, ld_out = dh + 3;
      std::vector<float> qkv(len * ld), out(len * ld_out, -1.0f);
      for (float& x : qkv) x = nd(rng);
      AlignedBuffer scratch(kernels::attention_scratch_floats(len, dh));
      const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
      kernels::attention_head(qkv.data(), qkv.data() + dh, qkv.data() + 2 * dh, ld, len, dh, scale,
                              out.data(), ld_out, scratch.data());
      for (size_t i = 0; i < len; ++i) {
        std::vector<double> p(len);
        double mx = -1e300, sum = 0;
        for (size_t j = 0; j < len; ++j) {
          double a = 0;
          for (size_t d = 0; d < dh; ++d) a += double(qkv[i * ld + d]) * qkv[j * ld + dh + d];
          p[j] = a * scale;
          mx = std::max(mx, p[j]);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (size_t d = 0; d < dh; ++d) {
          double o = 0;
          for (size_t j = 0; j < len; ++j) o += p[j] / sum * qkv[j * ld + 2 * dh + d];
          ASSERT_NEAR(out[i * ld_out + d], o, 2e-5) << "dh " << dh << " len " << len;
        }
      }
    }
  }
}

}  // namespace
}  // namespace ej::engine
