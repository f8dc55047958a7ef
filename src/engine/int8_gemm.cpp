#include "engine/int8_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "engine/simd_math.h"

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define EJ_INT8_GEMM_VNNI 1
#endif

namespace ej::engine {

namespace {

constexpr int64_t kBlock = 64;      // columns per packed block (4 zmm of s32)
constexpr int64_t kTileRows = 6;    // rows per register tile
constexpr int64_t kChunkRows = 48;  // rows per chunk (x of a chunk stays in L1/L2)

// Columns of the block that starts at column n0.
int64_t block_width(int64_t n0, int64_t out) {
  return std::min(kBlock, out - n0);
}

#if defined(EJ_INT8_GEMM_VNNI)

struct TileArgs {
  const int8_t* x;   // first row of the tile
  int64_t ldx;       // = in
  const uint8_t* b;  // the packed block
  int64_t k;
  const float* row_scale;
  const int32_t* row_sum;
  const float* w_scale;  // at the block's first column
  const float* bias;
  float* y;  // at the tile's first row and the block's first column
  int64_t ldy;
  int64_t rows;  // 1..kTileRows
  bool accumulate;
  Activation act;
};

template <int NV>
void act_tile(const TileArgs& a) {
  for (int64_t r = 0; r < a.rows; ++r) {
    float* yr = a.y + r * a.ldy;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      _mm512_storeu_ps(yr + 16 * v, simd::act512(_mm512_loadu_ps(yr + 16 * v), a.act));
    }
  }
}

// One tile: up to 6 rows x 16 NV columns over the whole depth, then the epilogue.
template <int NV>
void tile(const TileArgs& a) {
  __m512i acc[kTileRows][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kTileRows; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  }
  const int8_t* xr[kTileRows];
#pragma GCC unroll 8
  for (int r = 0; r < kTileRows; ++r) {
    // Rows past the end repeat the last one (computed, never stored).
    xr[r] = a.x + std::min<int64_t>(r, a.rows - 1) * a.ldx;
  }
  constexpr int64_t step = NV * 64;  // bytes of packed B per 4 depths
  for (int64_t k = 0; k < a.k; k += 4) {
    const uint8_t* bk = a.b + (k / 4) * step;
    __m512i b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_load_si512(bk + 64 * v);
    _mm_prefetch(reinterpret_cast<const char*>(bk + 8 * step), _MM_HINT_T0);
#pragma GCC unroll 8
    for (int r = 0; r < kTileRows; ++r) {
      int32_t four;
      std::memcpy(&four, xr[r] + k, 4);
      const __m512i xv = _mm512_set1_epi32(four);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], b[v], xv);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kTileRows; ++r) {
    if (r >= a.rows) break;
    const __m512i comp = _mm512_set1_epi32(128 * a.row_sum[r]);
    const __m512 rs = _mm512_set1_ps(a.row_scale[r]);
    float* yr = a.y + r * a.ldy;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], comp));
      f = _mm512_fmadd_ps(_mm512_mul_ps(f, rs), _mm512_loadu_ps(a.w_scale + 16 * v),
                          _mm512_loadu_ps(a.bias + 16 * v));
      if (a.accumulate) f = _mm512_add_ps(f, _mm512_loadu_ps(yr + 16 * v));
      _mm512_storeu_ps(yr + 16 * v, f);
    }
  }
  // The activation in a second pass over the tile (L1-hot): inside the loop above its
  // constants and temporaries would push the 24 accumulators out of registers.
  if (a.act != Activation::kIdentity) act_tile<NV>(a);
}

void run_tile(int nv, const TileArgs& a) {
  switch (nv) {
    case 1:
      return tile<1>(a);
    case 2:
      return tile<2>(a);
    case 3:
      return tile<3>(a);
    default:
      return tile<4>(a);
  }
}

#endif  // EJ_INT8_GEMM_VNNI

}  // namespace

bool Int8Gemm::supported(int64_t in, int64_t out) {
#if defined(EJ_INT8_GEMM_VNNI)
  return in > 0 && out > 0 && in % 4 == 0 && out % 16 == 0;
#else
  (void)in;
  (void)out;
  return false;
#endif
}

void Int8Gemm::init(const int8_t* w, const float* w_scale, const float* bias, int64_t in,
                    int64_t out) {
  if (!supported(in, out)) {
    throw Error(ErrorCode::kInternal, "Int8Gemm: shape " + std::to_string(out) + "x" +
                                          std::to_string(in) + " not supported here");
  }
  in_ = in;
  out_ = out;
  packed_bytes_ = static_cast<size_t>(in * out);
  packed_.reserve(packed_bytes_ / sizeof(float) + 16);
  auto* p = reinterpret_cast<uint8_t*>(packed_.data());
  for (int64_t n0 = 0; n0 < out; n0 += kBlock) {
    const int64_t bw = block_width(n0, out);
    uint8_t* blk = p + n0 * in;  // every earlier block is kBlock wide
    for (int64_t k = 0; k < in; k += 4) {
      for (int64_t c = 0; c < bw; ++c) {
        for (int64_t kk = 0; kk < 4; ++kk) {
          const int8_t v = w[(n0 + c) * in + k + kk];
          blk[(k / 4) * bw * 4 + c * 4 + kk] = static_cast<uint8_t>(static_cast<int>(v) + 128);
        }
      }
    }
  }
  scale_.assign(w_scale, w_scale + out);
  if (bias != nullptr) {
    bias_.assign(bias, bias + out);
  } else {
    bias_.assign(static_cast<size_t>(out), 0.0f);
  }
}

void Int8Gemm::run(const int8_t* x, const float* row_scale, const int32_t* row_sum, int64_t rows,
                   float* y, bool accumulate, Activation act, int threads) const {
#if defined(EJ_INT8_GEMM_VNNI)
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  const int64_t blocks = (out_ + kBlock - 1) / kBlock;
  const auto* p = reinterpret_cast<const uint8_t*>(packed_.data());
  // Work items: (chunk, block range). With enough chunks each item is a whole chunk (x read
  // once from memory); with few rows the column blocks are split over the threads too.
  const int64_t splits = chunks >= 2 * threads ? 1 : std::min<int64_t>(blocks, 2 * threads);
  const int64_t items = chunks * splits;
#pragma omp parallel for num_threads(threads) schedule(static) if (items > 1)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t chunk = item / splits, split = item % splits;
    const int64_t m0 = chunk * kChunkRows, m1 = std::min(rows, m0 + kChunkRows);
    const int64_t b0 = blocks * split / splits, b1 = blocks * (split + 1) / splits;
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * kBlock;
      const int64_t bw = block_width(n0, out_);
      TileArgs a;
      a.ldx = in_;
      a.b = p + n0 * in_;
      a.k = in_;
      a.w_scale = scale_.data() + n0;
      a.bias = bias_.data() + n0;
      a.ldy = out_;
      a.accumulate = accumulate;
      a.act = act;
      for (int64_t m = m0; m < m1; m += kTileRows) {
        a.x = x + m * in_;
        a.row_scale = row_scale + m;
        a.row_sum = row_sum + m;
        a.y = y + m * out_ + n0;
        a.rows = std::min(kTileRows, m1 - m);
        run_tile(static_cast<int>(bw / 16), a);
      }
    }
  }
#else
  (void)x;
  (void)row_scale;
  (void)row_sum;
  (void)rows;
  (void)y;
  (void)accumulate;
  (void)act;
  (void)threads;
  throw Error(ErrorCode::kInternal, "Int8Gemm: not built for this CPU");
#endif
}

}  // namespace ej::engine
