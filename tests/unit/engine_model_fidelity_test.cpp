// Fidelity of the neural encoder engine against the reference fixtures in tests/data (copies of
// ../shared/fixtures, plus qwen2-tiny / roberta-tiny made by tests/tools/make_reference_models.py):
// last hidden states and sentence embeddings within 1e-4 of Hugging Face transformers +
// sentence-transformers for every case; every case inside one packed mixed-length batch equal to
// the case alone within 1e-5.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "engine/encoder_model.h"
#include "engine/neural_embedder.h"

namespace ej::engine {
namespace {

struct Case {
  int index = 0;
  std::string name;
  std::vector<int32_t> ids;
  int64_t hidden_offset = 0;
  std::vector<float> embedding;
};

struct Fixture {
  std::string dir;
  std::vector<Case> cases;
  std::vector<float> hidden;  // [total_rows, hidden]
  int hidden_size = 0;
};

Fixture load_fixture(const std::string& name) {
  Fixture f;
  f.dir = std::string(EJ_TEST_DATA_DIR) + "/" + name;
  std::ifstream in(f.dir + "/expected.json");
  nlohmann::json j = nlohmann::json::parse(in);
  f.hidden_size = j["model"]["hidden_size"].get<int>();
  for (const auto& c : j["cases"]) {
    Case k;
    k.index = c["index"].get<int>();
    k.name = c["name"].get<std::string>();
    k.ids = c["input_ids"].get<std::vector<int32_t>>();
    k.hidden_offset = c["hidden_offset"].get<int64_t>();
    k.embedding = c["embedding"].get<std::vector<float>>();
    f.cases.push_back(std::move(k));
  }
  const int64_t rows = j["hidden_states"]["total_rows"].get<int64_t>();
  f.hidden.resize(static_cast<size_t>(rows * f.hidden_size));
  std::ifstream hf(f.dir + "/last_hidden_state.f32", std::ios::binary);
  hf.read(reinterpret_cast<char*>(f.hidden.data()),
          static_cast<std::streamsize>(f.hidden.size() * sizeof(float)));
  EXPECT_TRUE(hf.good());
  return f;
}

float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    float d = std::fabs(a[i] - b[i]);
    if (!(d <= m)) m = d;  // NaN-propagating
  }
  return m;
}

class FidelityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FidelityTest, EveryCaseAloneMatchesReference) {
  Fixture f = load_fixture(GetParam());
  auto model = EncoderModel::load(f.dir);
  const int dims = model->embedding_dim();
  const int H = f.hidden_size;
  EncoderWorkspace ws;
  float worst_h = 0, worst_e = 0;
  for (const Case& c : f.cases) {
    std::vector<int32_t> offsets{0, static_cast<int32_t>(c.ids.size())};
    std::vector<float> emb(static_cast<size_t>(dims)), hid(c.ids.size() * H);
    model->forward(PackedBatch{c.ids, offsets, {}}, 2, &ws, emb.data(), hid.data());
    ASSERT_EQ(c.embedding.size(), emb.size()) << c.name;
    float dh = max_abs_diff(hid.data(), f.hidden.data() + c.hidden_offset * H, hid.size());
    float de = max_abs_diff(emb.data(), c.embedding.data(), emb.size());
    EXPECT_LE(dh, 1e-4f) << GetParam() << " case " << c.index << " " << c.name << " hidden";
    EXPECT_LE(de, 1e-4f) << GetParam() << " case " << c.index << " " << c.name << " embedding";
    worst_h = std::max(worst_h, dh);
    worst_e = std::max(worst_e, de);
  }
  std::printf("[ fidelity ] %s: %zu cases alone, max |diff| hidden %.3g, embedding %.3g\n",
              GetParam().c_str(), f.cases.size(), worst_h, worst_e);
}

TEST_P(FidelityTest, PackedMixedBatchEqualsAlone) {
  Fixture f = load_fixture(GetParam());
  auto model = EncoderModel::load(f.dir);
  const int dims = model->embedding_dim();
  const int H = f.hidden_size;
  EncoderWorkspace ws;
  // All cases in one packed batch, in a shuffled order (long and short interleaved).
  std::vector<size_t> shuffled(f.cases.size());
  for (size_t i = 0; i < shuffled.size(); ++i) shuffled[i] = i;
  std::mt19937 rng(1234);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::vector<int32_t> ids, offsets{0};
  for (size_t k : shuffled) {
    ids.insert(ids.end(), f.cases[k].ids.begin(), f.cases[k].ids.end());
    offsets.push_back(static_cast<int32_t>(ids.size()));
  }
  std::vector<float> emb(shuffled.size() * dims), hid(ids.size() * H);
  model->forward(PackedBatch{ids, offsets, {}}, 2, &ws, emb.data(), hid.data());

  float worst_alone = 0, worst_ref = 0;
  for (size_t b = 0; b < shuffled.size(); ++b) {
    const Case& c = f.cases[shuffled[b]];
    std::vector<int32_t> off1{0, static_cast<int32_t>(c.ids.size())};
    std::vector<float> e1(static_cast<size_t>(dims)), h1(c.ids.size() * H);
    model->forward(PackedBatch{c.ids, off1, {}}, 1, &ws, e1.data(), h1.data());
    float de = max_abs_diff(emb.data() + b * dims, e1.data(), e1.size());
    float dh = max_abs_diff(hid.data() + static_cast<size_t>(offsets[b]) * H, h1.data(), h1.size());
    EXPECT_LE(de, 1e-5f) << c.name << " embedding, batch vs alone";
    EXPECT_LE(dh, 1e-5f) << c.name << " hidden, batch vs alone";
    float dr = max_abs_diff(emb.data() + b * dims, c.embedding.data(), e1.size());
    EXPECT_LE(dr, 1e-4f) << c.name << " embedding in batch vs reference";
    worst_alone = std::max({worst_alone, de, dh});
    worst_ref = std::max(worst_ref, dr);
  }
  std::printf(
      "[ fidelity ] %s: %zu cases in one packed batch of %zu tokens, max |batch - alone| "
      "%.3g, max |batch - reference| (embedding) %.3g\n",
      GetParam().c_str(), shuffled.size(), ids.size(), worst_alone, worst_ref);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FidelityTest,
                         ::testing::Values("bert-tiny", "bert-tiny-cls-f16", "xlmr-tiny",
                                           "nomic-bert-tiny", "mpnet-tiny", "qwen3-tiny",
                                           "modernbert-tiny", "gemma3-emb-tiny", "qwen2-tiny",
                                           "roberta-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Through NeuralEmbedder (needs the fixture's tokenizer.json to load).
class EmbedderFidelityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EmbedderFidelityTest, EmbedderSplitsBatchesByTokenBudget) {
  Fixture f = load_fixture(GetParam());
  auto e = NeuralEmbedder::open(f.dir, EngineOptions{2});
  e->set_max_batch_tokens(1);  // clamps to max_tokens: many batches
  std::vector<std::vector<int32_t>> seqs;
  for (const Case& c : f.cases) seqs.push_back(c.ids);
  std::vector<float> v;
  ForwardStats stats;
  e->embed_ids(seqs, &v, &stats);
  const int dims = e->info().dims;
  ASSERT_EQ(v.size(), seqs.size() * dims);
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_LE(max_abs_diff(v.data() + i * dims, f.cases[i].embedding.data(), dims), 1e-4f)
        << f.cases[i].name;
  }
  EXPECT_GT(stats.gemm_s, 0.0);
}

TEST_P(EmbedderFidelityTest, ConcurrentCallsAgree) {
  Fixture f = load_fixture(GetParam());
  auto e = NeuralEmbedder::open(f.dir, EngineOptions{1});
  std::vector<std::vector<int32_t>> seqs;
  for (const Case& c : f.cases) seqs.push_back(c.ids);
  std::vector<float> ref;
  e->embed_ids(seqs, &ref);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r) e->embed_ids(seqs, &got[static_cast<size_t>(t)]);
    });
  }
  for (auto& t : ts) t.join();
  for (const auto& g : got) {
    ASSERT_EQ(g.size(), ref.size());
    EXPECT_LE(max_abs_diff(g.data(), ref.data(), ref.size()), 1e-5f);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EmbedderFidelityTest,
                         ::testing::Values("bert-tiny", "bert-tiny-cls-f16", "xlmr-tiny",
                                           "nomic-bert-tiny", "mpnet-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace ej::engine
