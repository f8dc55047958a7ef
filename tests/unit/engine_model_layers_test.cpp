// The building blocks of engine/layers/ against double-precision references: masked attention
// (causal, sliding window, relative bias; AVX-512 and scalar head sizes), the T5 / MPNet
// relative position buckets, RoPE layouts, RMSNorm with and without Gemma's (1 + w), and that
// every architecture of models/registry.h maps its fixture's config.json.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include <unistd.h>

#include "common/error.h"
#include "engine/attention_bf16.h"
#include "engine/kernels.h"
#include "engine/layers/relative_bias.h"
#include "engine/layers/rope.h"
#include "engine/model_spec.h"
#include "engine/models/arch_spec.h"

namespace ej::engine {
namespace {

TEST(EngineLayers, MaskedAttentionMatchesDoubleReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  struct M {
    bool causal;
    int64_t window;
    bool rel;
  };
  for (M m : {M{true, -1, false}, M{false, 3, false}, M{true, 4, false}, M{false, -1, true},
              M{false, 5, true}}) {
    for (size_t dh : {16u, 24u, 32u, 64u, 128u}) {
      for (size_t len : {1u, 2u, 9u, 33u, 70u}) {
        const size_t ld = 3 * dh + 5, ld_out = dh + 3;
        std::vector<float> qkv(len * ld), out(len * ld_out, -1.0f), rel(2 * len - 1);
        for (float& x : qkv) x = nd(rng);
        for (float& x : rel) x = nd(rng);
        AlignedBuffer scratch(kernels::attention_scratch_floats(len, dh) + len);
        const float scale = 0.3f;
        kernels::AttentionMask mask;
        mask.causal = m.causal;
        mask.window = m.window;
        mask.rel = m.rel ? rel.data() + (len - 1) : nullptr;
        kernels::attention_head_masked(qkv.data(), qkv.data() + dh, qkv.data() + 2 * dh, ld, len,
                                       dh, scale, mask, out.data(), ld_out, scratch.data());
        for (size_t i = 0; i < len; ++i) {
          std::vector<double> p(len, 0.0);
          std::vector<bool> vis(len);
          double mx = -1e300, sum = 0;
          for (size_t j = 0; j < len; ++j) {
            const int64_t d = static_cast<int64_t>(j) - static_cast<int64_t>(i);
            vis[j] = !(m.causal && d > 0) && !(m.window >= 0 && std::llabs(d) > m.window);
            if (!vis[j]) continue;
            double a = 0;
            for (size_t c = 0; c < dh; ++c) a += double(qkv[i * ld + c]) * qkv[j * ld + dh + c];
            p[j] = a * scale + (m.rel ? rel[static_cast<size_t>(d + int64_t(len) - 1)] : 0.0);
            mx = std::max(mx, p[j]);
          }
          for (size_t j = 0; j < len; ++j) {
            if (vis[j]) sum += (p[j] = std::exp(p[j] - mx));
          }
          for (size_t c = 0; c < dh; ++c) {
            double o = 0;
            for (size_t j = 0; j < len; ++j) {
              if (vis[j]) o += p[j] / sum * qkv[j * ld + 2 * dh + c];
            }
            ASSERT_NEAR(out[i * ld_out + c], o, 2e-5)
                << "dh " << dh << " len " << len << " causal " << m.causal << " window " << m.window
                << " rel " << m.rel << " row " << i;
          }
        }
      }
    }
  }
}

// The bf16-product kernel (bf16 / int8 modes) against the same double reference on the f32
// inputs, within what rounding q, K, P and V to bf16 (8 significant bits) costs: scores of unit
// variance (scale 1 / sqrt(dh)), outputs of unit scale, so a few 1e-2 at most; a wrong pairing
// of keys or depths gives errors of order 1.
TEST(EngineLayers, Bf16AttentionMatchesDoubleReference) {
  if (!kernels::attention_bf16_supported(32)) GTEST_SKIP() << "no AVX512_BF16 in this build";
  std::mt19937 rng(12);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  double worst = 0;
  for (size_t dh : {16u, 32u, 48u, 64u, 80u, 96u, 112u, 128u}) {
    for (size_t len : {1u, 2u, 9u, 16u, 17u, 33u, 70u, 129u}) {
      const size_t ld = 3 * dh + 5, ld_out = dh + 3;
      std::vector<float> qkv(len * ld), out(len * ld_out, -1.0f);
      for (float& x : qkv) x = nd(rng);
      AlignedBuffer scratch(kernels::attention_scratch_floats(len, dh) + len);
      const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
      kernels::attention_head_bf16(qkv.data(), qkv.data() + dh, qkv.data() + 2 * dh, ld, len, dh,
                                   scale, out.data(), ld_out, scratch.data());
      for (size_t i = 0; i < len; ++i) {
        std::vector<double> p(len);
        double mx = -1e300, sum = 0;
        for (size_t j = 0; j < len; ++j) {
          double a = 0;
          for (size_t c = 0; c < dh; ++c) a += double(qkv[i * ld + c]) * qkv[j * ld + dh + c];
          mx = std::max(mx, p[j] = a * scale);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (size_t c = 0; c < dh; ++c) {
          double o = 0;
          for (size_t j = 0; j < len; ++j) o += p[j] / sum * qkv[j * ld + 2 * dh + c];
          worst = std::max(worst, std::fabs(out[i * ld_out + c] - o));
          ASSERT_NEAR(out[i * ld_out + c], o, 4e-2)
              << "dh " << dh << " len " << len << " row " << i;
        }
        EXPECT_EQ(out[i * ld_out + dh], -1.0f) << "wrote past the head";
      }
    }
  }
  std::printf("bf16 attention: worst |error| %.4f\n", worst);
}

TEST(EngineLayers, RelativeBucketsFollowTransformers) {
  // bucket(j - i): 0..7 exact for keys before the query (i - j = n > 0), +16 for keys after;
  // log-spaced above, the borders n = 16, 32, 64 exactly 8 + 2, 8 + 4, 8 + 6; 15 from n ~ 91 on
  // (the clamp keeps it there past max_distance).
  EXPECT_EQ(RelativeBias::bucket(0, 32, 128), 0);
  EXPECT_EQ(RelativeBias::bucket(-3, 32, 128), 3);
  EXPECT_EQ(RelativeBias::bucket(3, 32, 128), 19);
  EXPECT_EQ(RelativeBias::bucket(-8, 32, 128), 8);
  EXPECT_EQ(RelativeBias::bucket(-15, 32, 128), 9);
  EXPECT_EQ(RelativeBias::bucket(-16, 32, 128), 10);
  EXPECT_EQ(RelativeBias::bucket(-32, 32, 128), 12);
  EXPECT_EQ(RelativeBias::bucket(-64, 32, 128), 14);
  EXPECT_EQ(RelativeBias::bucket(-90, 32, 128), 14);
  EXPECT_EQ(RelativeBias::bucket(-127, 32, 128), 15);
  EXPECT_EQ(RelativeBias::bucket(-128, 32, 128), 15);
  EXPECT_EQ(RelativeBias::bucket(-1000, 32, 128), 15);
  EXPECT_EQ(RelativeBias::bucket(1000, 32, 128), 31);
}

TEST(EngineLayers, RopeHalfSplitAndInterleavedRotatePairs) {
  for (bool interleaved : {false, true}) {
    RopeSpec s;
    s.theta = 10000.0;
    s.rotary_dim = 8;  // of a 12-dim head: 4 dims pass through
    s.interleaved = interleaved;
    Rope r;
    r.init(s, 50);
    std::vector<float> x(12), y;
    for (size_t c = 0; c < x.size(); ++c) x[c] = 0.1f * static_cast<float>(c + 1);
    y = x;
    const int32_t pos = 37;
    r.apply(y.data(), 1, 12, 1, 12, &pos, 1);
    for (int k = 0; k < 4; ++k) {
      const double a = 37.0 * std::pow(10000.0, -2.0 * k / 8.0);
      const size_t i0 = interleaved ? 2 * k : k, i1 = interleaved ? 2 * k + 1 : k + 4;
      EXPECT_NEAR(y[i0], x[i0] * std::cos(a) - x[i1] * std::sin(a), 1e-5) << interleaved << k;
      EXPECT_NEAR(y[i1], x[i1] * std::cos(a) + x[i0] * std::sin(a), 1e-5) << interleaved << k;
    }
    for (size_t c = 8; c < 12; ++c) EXPECT_EQ(y[c], x[c]);
  }
}

TEST(EngineLayers, EveryFixtureConfigMapsToItsLayerStack) {
  struct Want {
    const char* fixture;
    const char* kind;
    size_t blocks;
    BlockSpec::Style style;
    bool causal;
  };
  for (Want w : {Want{"bert-tiny", "bert", 2, BlockSpec::kPostNorm, false},
                 Want{"xlmr-tiny", "xlm-roberta", 2, BlockSpec::kPostNorm, false},
                 Want{"roberta-tiny", "roberta", 2, BlockSpec::kPostNorm, false},
                 Want{"nomic-bert-tiny", "nomic_bert", 2, BlockSpec::kPostNorm, false},
                 Want{"mpnet-tiny", "mpnet", 2, BlockSpec::kPostNorm, false},
                 Want{"qwen3-tiny", "qwen3", 2, BlockSpec::kPreNorm, true},
                 Want{"qwen2-tiny", "qwen2", 2, BlockSpec::kPreNorm, true},
                 Want{"modernbert-tiny", "modernbert", 2, BlockSpec::kPreNorm, false},
                 Want{"gemma3-emb-tiny", "gemma3_text", 3, BlockSpec::kSandwich, false}}) {
    EncoderSpec s = read_encoder_spec(std::string(EJ_TEST_DATA_DIR) + "/" + w.fixture);
    ASSERT_NE(s.arch, nullptr) << w.fixture;
    EXPECT_EQ(s.arch->kind, w.kind);
    ASSERT_EQ(s.arch->blocks.size(), w.blocks) << w.fixture;
    EXPECT_EQ(s.arch->blocks[0].style, w.style) << w.fixture;
    EXPECT_EQ(s.arch->blocks[0].attn.causal, w.causal) << w.fixture;
  }
  // Per-layer options: ModernBERT global (theta 160000, no window) then local (window 32);
  // EmbeddingGemma sliding, sliding, full with the halved window 8 and sqrt(64) scaling.
  EncoderSpec m = read_encoder_spec(std::string(EJ_TEST_DATA_DIR) + "/modernbert-tiny");
  EXPECT_EQ(m.arch->blocks[0].attn.window, -1);
  EXPECT_EQ(m.arch->blocks[1].attn.window, 32);
  EXPECT_EQ(m.arch->ropes[static_cast<size_t>(m.arch->blocks[0].attn.rope)].theta, 160000.0);
  EXPECT_EQ(m.arch->ropes[static_cast<size_t>(m.arch->blocks[1].attn.rope)].theta, 10000.0);
  EncoderSpec g = read_encoder_spec(std::string(EJ_TEST_DATA_DIR) + "/gemma3-emb-tiny");
  EXPECT_EQ(g.arch->blocks[0].attn.window, 8);
  EXPECT_EQ(g.arch->blocks[2].attn.window, -1);
  EXPECT_FLOAT_EQ(g.arch->embeddings.scale, 8.0f);
  EXPECT_FLOAT_EQ(g.arch->blocks[0].attn.scale, 1.0f / std::sqrt(24.0f));
  EXPECT_TRUE(g.arch->blocks[0].norm1.plus_one);
}

TEST(EngineLayers, MatryoshkaDimsComeFromTheConfig) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ej_matryoshka_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(std::string(EJ_TEST_DATA_DIR) + "/mpnet-tiny", dir, fs::copy_options::recursive);
  fs::permissions(dir / "config_sentence_transformers.json", fs::perms::owner_write,
                  fs::perm_options::add);
  auto edit = [&](const nlohmann::json& dims) {
    std::ifstream in(dir / "config_sentence_transformers.json");
    auto j = nlohmann::json::parse(in);
    in.close();
    j["matryoshka_dims"] = dims;
    std::ofstream(dir / "config_sentence_transformers.json") << j.dump();
  };
  EXPECT_TRUE(read_encoder_spec(dir).matryoshka_dims.empty());
  edit({64, 16, 32});
  EXPECT_EQ(read_encoder_spec(dir).matryoshka_dims, (std::vector<int>{16, 32, 64}));
  edit({16, 128});
  try {
    read_encoder_spec(dir);
    ADD_FAILURE() << "128 > 64 dims must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("matryoshka_dims: 128"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ej::engine
