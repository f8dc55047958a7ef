// The bf16 / int8 compute modes (engine/linear.h) against fp32:
//  - Linear alone: random W, b, x, every epilogue (none / activation / accumulate), with the
//    relative error a bf16 / int8 GEMM of that depth has; W kept only in the narrow type.
//  - Every fixture architecture in tests/data: each fixture case's sentence embedding has cosine
//    >= 0.999 (bf16) / >= 0.99 (int8) with the fp32 one, and a retrieval check gives the same
//    top-10 neighbours (as a set) as fp32 for every query.
//    Retrieval set (the fixture corpora, 14..51 texts of random-weight models, have no structure:
//    their similarities are near-ties that any rounding reorders): made from the model's
//    vocabulary with std::mt19937(seed 7): 12 topics, each a base sequence of 16..24 random ids
//    between the fixture's own first and last (special) ids; 10 documents per topic (the base
//    with 1 random position replaced) and one query per topic (1 other replacement); the corpus
//    is the 120 documents. A query whose fp32 10th and 11th similarities are closer than 2e-3
//    is a tie that no rounding can be asked to keep (random-weight models separate some topics
//    poorly); at least half the queries must be decided that way, and the top-10 must match on
//    at least 2/3 of the decided queries (measured: all of them for every architecture but the
//    decoders qwen2 / qwen3, where int8 (and qwen2 bf16) change 1..3 of 12 on these random
//    2-layer, 64-wide models; the exact counts are printed per model). The cosine bounds are
//    asserted on the fixture cases (the fixture corpus); the minimum over the retrieval set
//    is printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "engine/encoder_model.h"
#include "engine/linear.h"

namespace ej::engine {
namespace {

double cosine(const float* a, const float* b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::max(std::sqrt(aa * bb), 1e-30);
}

std::vector<float> random_vec(size_t n, std::mt19937* rng, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(*rng);
  return v;
}

struct LinearCase {
  Linear::Epilogue ep;
  Activation act;
  bool bias;
};

TEST(ComputeDType, LinearMatchesF32InEveryMode) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  const int64_t in = 128, out = 192, rows = 37;  // multiples of the packed blocks (no padding)
  std::mt19937 rng(3);
  std::vector<float> w = random_vec(static_cast<size_t>(in * out), &rng, 0.1f);
  std::vector<float> b = random_vec(static_cast<size_t>(out), &rng, 0.5f);
  std::vector<float> x = random_vec(static_cast<size_t>(rows * in), &rng, 1.0f);
  for (int64_t c = 0; c < in; ++c) x[static_cast<size_t>(5 * in + c)] *= 30.0f;  // an outlier row
  std::vector<float> y0 = random_vec(static_cast<size_t>(rows * out), &rng, 1.0f);
  const LinearCase cases[] = {{Linear::Epilogue::kNone, Activation::kIdentity, true},
                              {Linear::Epilogue::kNone, Activation::kIdentity, false},
                              {Linear::Epilogue::kActivation, Activation::kGeluErf, true},
                              {Linear::Epilogue::kAccumulate, Activation::kIdentity, true}};
  for (const LinearCase& lc : cases) {
    Linear ref;
    ref.init(eng, w.data(), lc.bias ? b.data() : nullptr, in, out, lc.ep, lc.act);
    AlignedBuffer scratch;
    std::vector<float> want = y0;
    ref.run(x.data(), rows, want.data(), &scratch);
    for (ComputeDType d : {ComputeDType::kBF16, ComputeDType::kInt8}) {
      Linear lin;
      lin.init(eng, w.data(), lc.bias ? b.data() : nullptr, in, out, lc.ep, lc.act, d);
      EXPECT_EQ(lin.dtype(), d);
      // Only the narrow copy: <= 2 bytes (bf16) / 1 byte + a compensation word (int8) per weight.
      const double bytes_per_w = static_cast<double>(lin.weight_bytes()) / (in * out);
      EXPECT_LE(bytes_per_w, d == ComputeDType::kBF16 ? 2.2 : 1.2) << compute_dtype_name(d);
      std::vector<float> got = y0;
      lin.run(x.data(), rows, got.data(), &scratch);
      // Per row: error relative to the row's magnitude (the int8 scale is per row).
      const double tol = d == ComputeDType::kBF16 ? 0.01 : 0.03;
      for (int64_t r = 0; r < rows; ++r) {
        double err = 0, mag = 0;
        for (int64_t c = 0; c < out; ++c) {
          const size_t i = static_cast<size_t>(r * out + c);
          err = std::max(err, static_cast<double>(std::fabs(got[i] - want[i])));
          mag = std::max(mag, static_cast<double>(std::fabs(want[i])));
        }
        ASSERT_LE(err, tol * mag) << compute_dtype_name(d) << " row " << r << " epilogue "
                                  << static_cast<int>(lc.ep) << " bias " << lc.bias;
      }
      EXPECT_GE(cosine(got.data(), want.data(), got.size()), 0.9995) << compute_dtype_name(d);
    }
  }
}

struct Corpus {
  std::vector<int32_t> ids, offsets{0};
  size_t cases = 0;    // sequences [0, cases): the fixture's cases
  size_t queries = 0;  // [cases, cases + queries): the topic queries; then the documents
  void add(const std::vector<int32_t>& s) {
    ids.insert(ids.end(), s.begin(), s.end());
    offsets.push_back(static_cast<int32_t>(ids.size()));
  }
  size_t size() const { return offsets.size() - 1; }
};

Corpus make_corpus(const std::string& dir, const EncoderModel& m) {
  std::ifstream in(dir + "/expected.json");
  nlohmann::json j = nlohmann::json::parse(in);
  Corpus c;
  std::vector<int32_t> longest;
  for (const auto& k : j["cases"]) {
    auto ids = k["input_ids"].get<std::vector<int32_t>>();
    if (ids.size() > longest.size()) longest = ids;
    c.add(ids);
  }
  c.cases = c.size();
  std::mt19937 rng(7);
  const int32_t vocab = static_cast<int32_t>(m.arch().vocab_size);
  std::uniform_int_distribution<int32_t> tok(0, vocab - 1);
  std::uniform_int_distribution<int> len(16, std::min(24, m.max_positions() - 2));
  constexpr int kTopics = 12, kDocs = 10;
  std::vector<std::vector<int32_t>> bases, docs;
  for (int t = 0; t < kTopics; ++t) {
    std::vector<int32_t> base{longest.front()};
    for (int n = len(rng); n > 0; --n) base.push_back(tok(rng));
    base.push_back(longest.back());
    bases.push_back(base);
  }
  auto vary = [&](std::vector<int32_t> s) {
    std::uniform_int_distribution<size_t> at(1, s.size() - 2);
    s[at(rng)] = tok(rng);
    return s;
  };
  for (const auto& b : bases) c.add(vary(b));
  c.queries = kTopics;
  for (const auto& b : bases) {
    for (int d = 0; d < kDocs; ++d) c.add(vary(b));
  }
  return c;
}

std::vector<float> embed_all(const EncoderModel& m, const Corpus& c) {
  EncoderWorkspace ws;
  std::vector<float> out(c.size() * static_cast<size_t>(m.embedding_dim()));
  m.forward(PackedBatch{c.ids, c.offsets, {}}, 2, &ws, out.data());
  return out;
}

// The 10 documents most cosine-similar to query q, as a sorted set; *gap: the 10th minus the
// 11th similarity.
std::vector<size_t> top10(const std::vector<float>& e, const Corpus& c, size_t dims, size_t q,
                          double* gap) {
  std::vector<std::pair<double, size_t>> s;
  for (size_t i = c.cases + c.queries; i < c.size(); ++i) {
    s.emplace_back(cosine(&e[q * dims], &e[i * dims], dims), i);
  }
  std::partial_sort(s.begin(), s.begin() + 11, s.end(), std::greater<>());
  *gap = s[9].first - s[10].first;
  std::vector<size_t> idx;
  for (int k = 0; k < 10; ++k) idx.push_back(s[static_cast<size_t>(k)].second);
  std::sort(idx.begin(), idx.end());
  return idx;
}

class ComputeDTypeModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ComputeDTypeModel, CosineAndTop10AgainstF32) {
  const std::string dir = std::string(EJ_TEST_DATA_DIR) + "/" + GetParam();
  auto f32 = EncoderModel::load(dir);
  const Corpus corpus = make_corpus(dir, *f32);
  const std::vector<float> want = embed_all(*f32, corpus);
  const size_t dims = static_cast<size_t>(f32->embedding_dim());
  for (ComputeDType d : {ComputeDType::kBF16, ComputeDType::kInt8}) {
    auto m = EncoderModel::load(dir, d);
    ASSERT_EQ(m->dtype(), d);
    const std::vector<float> got = embed_all(*m, corpus);
    const double bound = d == ComputeDType::kBF16 ? 0.999 : 0.99;
    double worst = 1.0, worst_set = 1.0;
    for (size_t i = 0; i < corpus.size(); ++i) {
      const double cs = cosine(&got[i * dims], &want[i * dims], dims);
      if (i < corpus.cases) {
        EXPECT_GE(cs, bound) << GetParam() << " " << compute_dtype_name(d) << " case " << i;
        worst = std::min(worst, cs);
      } else {
        worst_set = std::min(worst_set, cs);
      }
    }
    int same = 0, decided = 0, same_decided = 0, in_topic = 0;
    for (size_t q = corpus.cases; q < corpus.cases + corpus.queries; ++q) {
      double gap = 0, unused = 0;
      const std::vector<size_t> ref = top10(want, corpus, dims, q, &gap);
      const bool eq = top10(got, corpus, dims, q, &unused) == ref;
      same += eq ? 1 : 0;
      if (gap >= 2e-3) {
        ++decided;
        same_decided += eq ? 1 : 0;
      }
      const size_t topic = q - corpus.cases;
      const size_t first = corpus.cases + corpus.queries + topic * 10;
      for (size_t i : ref) in_topic += (i >= first && i < first + 10) ? 1 : 0;
    }
    EXPECT_GE(2 * decided, static_cast<int>(corpus.queries)) << GetParam();
    EXPECT_GE(3 * same_decided, 2 * decided) << GetParam() << " " << compute_dtype_name(d);
    std::printf(
        "[ dtype ] %s %s: min cosine vs fp32 %.6f over %zu fixture cases (%.6f over the %zu "
        "retrieval texts); same top-10 for %d/%zu queries (%d/%d decided ones) (fp32 top-10: "
        "%d/%zu "
        "from the query's topic)\n",
        GetParam().c_str(), compute_dtype_name(d), worst, corpus.cases, worst_set,
        corpus.size() - corpus.cases, same, corpus.queries, same_decided, decided, in_topic,
        corpus.queries * 10);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ComputeDTypeModel,
                         ::testing::Values("bert-tiny", "bert-tiny-cls-f16", "xlmr-tiny",
                                           "roberta-tiny", "nomic-bert-tiny", "mpnet-tiny",
                                           "modernbert-tiny", "qwen2-tiny", "qwen3-tiny",
                                           "gemma3-emb-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace ej::engine
