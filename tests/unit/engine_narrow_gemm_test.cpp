// NarrowGemm (engine/narrow_gemm.h) against a scalar reference of the same formula. int8: s32
// dot products are exact, so the only difference is f32 rounding in the epilogue; bf16: the
// products of bf16 values are exact in f32, so the difference is the f32 summation order. Shapes
// cover full and partial row tiles (1..13 rows, 100 rows over several chunks), every column-block
// width (16, 32, 48, 64 and a 64 + 16 tail), depths down to 4, every epilogue, and the extreme s8
// values (-127 and 127 everywhere: the u8 + 128 compensation at its largest).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/narrow.h"
#include "engine/narrow_gemm.h"

namespace ej::engine {
namespace {

float gelu_ref(float x) {
  return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
}

struct Case {
  int64_t rows, in, out;
};

void check(const Case& c, bool extreme, bool accumulate, Activation act, bool bias, int threads) {
  std::mt19937 rng(static_cast<unsigned>(c.rows * 131 + c.in * 7 + c.out));
  std::uniform_int_distribution<int> q(-127, 127);
  std::uniform_real_distribution<float> u(0.5f, 2.0f);
  std::vector<int8_t> x(static_cast<size_t>(c.rows * c.in)), w(static_cast<size_t>(c.out * c.in));
  for (auto& v : x) v = static_cast<int8_t>(extreme ? -127 : q(rng));
  for (auto& v : w) v = static_cast<int8_t>(extreme ? 127 : q(rng));
  std::vector<float> rs(static_cast<size_t>(c.rows)), ws(static_cast<size_t>(c.out)),
      b(static_cast<size_t>(c.out)), y0(static_cast<size_t>(c.rows * c.out));
  for (auto& v : rs) v = 1e-3f * u(rng);
  for (auto& v : ws) v = 1e-3f * u(rng);
  for (auto& v : b) v = u(rng) - 1.25f;
  for (auto& v : y0) v = u(rng) - 1.25f;
  std::vector<int32_t> sums(static_cast<size_t>(c.rows), 0);
  for (int64_t r = 0; r < c.rows; ++r) {
    for (int64_t k = 0; k < c.in; ++k)
      sums[static_cast<size_t>(r)] += x[static_cast<size_t>(r * c.in + k)];
  }
  NarrowGemm g;
  g.init_int8(w.data(), ws.data(), bias ? b.data() : nullptr, c.in, c.out);
  std::vector<float> got = y0;
  g.run_int8(x.data(), rs.data(), sums.data(), c.rows, got.data(), accumulate, act, threads);
  for (int64_t r = 0; r < c.rows; ++r) {
    for (int64_t n = 0; n < c.out; ++n) {
      int64_t dot = 0;
      for (int64_t k = 0; k < c.in; ++k) {
        dot += static_cast<int64_t>(x[static_cast<size_t>(r * c.in + k)]) *
               w[static_cast<size_t>(n * c.in + k)];
      }
      const size_t i = static_cast<size_t>(r * c.out + n);
      double want =
          static_cast<double>(dot) * rs[static_cast<size_t>(r)] * ws[static_cast<size_t>(n)] +
          (bias ? b[static_cast<size_t>(n)] : 0.0f);
      if (accumulate) want += y0[i];
      if (act == Activation::kGeluErf) want = gelu_ref(static_cast<float>(want));
      const double tol = 1e-5 * std::max(1.0, std::fabs(want)) + 2e-6;
      ASSERT_NEAR(got[i], want, tol)
          << "rows " << c.rows << " in " << c.in << " out " << c.out << " at " << r << "," << n
          << " accumulate " << accumulate << " threads " << threads;
    }
  }
}

constexpr auto kInt8 = NarrowGemm::Kind::kInt8;
constexpr auto kBf16 = NarrowGemm::Kind::kBf16;

TEST(NarrowGemm, Int8MatchesTheScalarFormulaOnEveryTileShape) {
  if (!NarrowGemm::supported(kInt8, 4, 16)) GTEST_SKIP() << "no AVX512-VNNI in this build";
  const Case cases[] = {{1, 4, 16},   {5, 36, 32},     {6, 64, 48},   {7, 128, 64},
                        {13, 96, 80}, {100, 388, 208}, {3, 1540, 16}, {49, 40, 144}};
  for (const Case& c : cases) {
    for (int threads : {1, 2, 3}) check(c, false, false, Activation::kIdentity, true, threads);
    check(c, false, false, Activation::kIdentity, false, 2);
    check(c, false, true, Activation::kIdentity, true, 2);
    check(c, false, false, Activation::kGeluErf, true, 2);
    check(c, true, false, Activation::kIdentity, true, 2);
  }
}

TEST(NarrowGemm, Int8RowSumsFromTheQuantizerCompensateExactly) {
  if (!NarrowGemm::supported(kInt8, 4, 16)) GTEST_SKIP() << "no AVX512-VNNI in this build";
  // The quantizer's row sums (narrow.h) are what the GEMM subtracts: a row of f32 through
  // quantize_rows_s8 then Int8Gemm equals the dequantized dot product.
  const int64_t rows = 9, in = 72, out = 32;
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> xf(static_cast<size_t>(rows * in)), wf(static_cast<size_t>(out * in));
  for (auto& v : xf) v = d(rng);
  for (auto& v : wf) v = 0.1f * d(rng);
  std::vector<int8_t> xq(xf.size()), wq(wf.size());
  std::vector<float> xs(static_cast<size_t>(rows)), wsc(static_cast<size_t>(out));
  std::vector<int32_t> sums(static_cast<size_t>(rows));
  narrow::quantize_rows_s8(xf.data(), rows, in, xq.data(), xs.data(), 2, sums.data());
  narrow::quantize_weights_s8(wf.data(), out, in, wq.data(), wsc.data());
  for (int64_t r = 0; r < rows; ++r) {
    int32_t s = 0;
    for (int64_t k = 0; k < in; ++k) s += xq[static_cast<size_t>(r * in + k)];
    EXPECT_EQ(sums[static_cast<size_t>(r)], s) << "row " << r;
  }
  NarrowGemm g;
  g.init_int8(wq.data(), wsc.data(), nullptr, in, out);
  std::vector<float> y(static_cast<size_t>(rows * out));
  g.run_int8(xq.data(), xs.data(), sums.data(), rows, y.data(), false, Activation::kIdentity, 2);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t n = 0; n < out; ++n) {
      double f32 = 0;
      for (int64_t k = 0; k < in; ++k) {
        f32 += static_cast<double>(xf[static_cast<size_t>(r * in + k)]) *
               wf[static_cast<size_t>(n * in + k)];
      }
      // int8 rounding of both sides: a few percent of the row's scale.
      EXPECT_NEAR(y[static_cast<size_t>(r * out + n)], f32,
                  0.05 * std::sqrt(static_cast<double>(in)) * 0.1);
    }
  }
}

void check_bf16(const Case& c, bool accumulate, Activation act, bool bias, int threads) {
  std::mt19937 rng(static_cast<unsigned>(c.rows * 17 + c.in * 3 + c.out));
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<uint16_t> x(static_cast<size_t>(c.rows * c.in)), w(static_cast<size_t>(c.out * c.in));
  for (auto& v : x) v = narrow::f32_to_bf16(d(rng));
  for (auto& v : w) v = narrow::f32_to_bf16(0.1f * d(rng));
  std::vector<float> b(static_cast<size_t>(c.out)), y0(static_cast<size_t>(c.rows * c.out));
  for (auto& v : b) v = d(rng);
  for (auto& v : y0) v = d(rng);
  NarrowGemm g;
  g.init_bf16(w.data(), bias ? b.data() : nullptr, c.in, c.out);
  std::vector<float> got = y0;
  g.run_bf16(x.data(), c.rows, got.data(), accumulate, act, threads);
  for (int64_t r = 0; r < c.rows; ++r) {
    for (int64_t n = 0; n < c.out; ++n) {
      double dot = 0, mag = 0;
      for (int64_t k = 0; k < c.in; ++k) {
        const double p =
            static_cast<double>(narrow::bf16_to_f32(x[static_cast<size_t>(r * c.in + k)])) *
            narrow::bf16_to_f32(w[static_cast<size_t>(n * c.in + k)]);
        dot += p;
        mag += std::fabs(p);
      }
      const size_t i = static_cast<size_t>(r * c.out + n);
      double want = dot + (bias ? b[static_cast<size_t>(n)] : 0.0f);
      if (accumulate) want += y0[i];
      if (act == Activation::kGeluErf) want = gelu_ref(static_cast<float>(want));
      // f32 accumulation in another order: a few ulps of the sum of |products|.
      const double tol = 1e-6 * (mag + std::fabs(want)) + 1e-6;
      ASSERT_NEAR(got[i], want, tol) << "rows " << c.rows << " in " << c.in << " out " << c.out
                                     << " at " << r << "," << n << " threads " << threads;
    }
  }
}

TEST(NarrowGemm, Bf16MatchesTheScalarFormulaOnEveryTileShape) {
  if (!NarrowGemm::supported(kBf16, 2, 16)) GTEST_SKIP() << "no AVX512_BF16 in this build";
  const Case cases[] = {{1, 2, 16},   {5, 34, 32},     {6, 64, 48},   {7, 128, 64},
                        {13, 98, 80}, {100, 386, 208}, {3, 1538, 16}, {49, 40, 144}};
  for (const Case& c : cases) {
    for (int threads : {1, 2, 3}) check_bf16(c, false, Activation::kIdentity, true, threads);
    check_bf16(c, false, Activation::kIdentity, false, 2);
    check_bf16(c, true, Activation::kIdentity, true, 2);
    check_bf16(c, false, Activation::kGeluErf, true, 2);
  }
}

TEST(NarrowGemm, UnsupportedShapesAreRefused) {
  EXPECT_FALSE(NarrowGemm::supported(kInt8, 6, 16));  // depth not a multiple of 4
  EXPECT_FALSE(NarrowGemm::supported(kBf16, 7, 16));  // depth not a multiple of 2
  EXPECT_FALSE(NarrowGemm::supported(kInt8, 8, 24));  // width not a multiple of 16
  EXPECT_FALSE(NarrowGemm::supported(kBf16, 0, 16));
}

}  // namespace
}  // namespace ej::engine
