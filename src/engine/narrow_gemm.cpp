#include "engine/narrow_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "engine/simd_math.h"

// On CPUs with AMX (built with -march=native there) oneDNN's AMX tiles are several times faster
// than any AVX-512 kernel, so ours stands aside.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && \
    !defined(__AMX_INT8__)
#define EJ_NARROW_GEMM_INT8 1
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512BF16__) && \
    !defined(__AMX_BF16__)
#define EJ_NARROW_GEMM_BF16 1
#endif

namespace ej::engine {

namespace {

constexpr int64_t kBlock = 64;      // columns per packed block (4 zmm of accumulators)
constexpr int64_t kTileRows = 6;    // rows per register tile
constexpr int64_t kChunkRows = 48;  // rows per chunk (x of a chunk stays in L1/L2)

// Columns of the block that starts at column n0.
int64_t block_width(int64_t n0, int64_t out) {
  return std::min(kBlock, out - n0);
}

#if defined(EJ_NARROW_GEMM_INT8) || defined(EJ_NARROW_GEMM_BF16)

struct TileArgs {
  const uint8_t* x;  // first row of the tile
  int64_t ldx;       // bytes per row of x (= groups * 4)
  const uint8_t* b;  // the packed block
  int64_t groups;
  const float* row_scale;  // int8
  const int32_t* row_sum;  // int8
  const float* w_scale;    // int8, at the block's first column
  const float* bias;       // at the block's first column
  float* y;                // at the tile's first row and the block's first column
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

// The accumulators: s32 for int8, f32 for bf16 (a cast between the two at every step makes GCC
// keep them in memory).
template <NarrowGemm::Kind K>
struct AccOf {
  using type = __m512;
};
template <>
struct AccOf<NarrowGemm::Kind::kInt8> {
  using type = __m512i;
};
template <NarrowGemm::Kind K>
using Acc = typename AccOf<K>::type;

// One 4-byte group of x (broadcast) times one 64-byte load of the block, into acc.
inline __m512i dot(__m512i acc, __m512i b, __m512i x) {
#if defined(EJ_NARROW_GEMM_INT8)
  return _mm512_dpbusd_epi32(acc, b, x);
#else
  (void)b;
  (void)x;
  return acc;
#endif
}
inline __m512 dot(__m512 acc, __m512i b, __m512i x) {
#if defined(EJ_NARROW_GEMM_BF16)
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(b), reinterpret_cast<__m512bh>(x));
#else
  (void)b;
  (void)x;
  return acc;
#endif
}

inline void zero(__m512i* a) {
  *a = _mm512_setzero_si512();
}
inline void zero(__m512* a) {
  *a = _mm512_setzero_ps();
}

// One tile: up to 6 rows x 16 NV columns over the whole depth, then the epilogue.
template <NarrowGemm::Kind K, int NV>
void tile(const TileArgs& a) {
  Acc<K> acc[kTileRows][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kTileRows; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) zero(&acc[r][v]);
  }
  const uint8_t* xr[kTileRows];
#pragma GCC unroll 8
  for (int r = 0; r < kTileRows; ++r) {
    // Rows past the end repeat the last one (computed, never stored).
    xr[r] = a.x + std::min<int64_t>(r, a.rows - 1) * a.ldx;
  }
  constexpr int64_t step = NV * 64;  // bytes of packed B per depth group
  for (int64_t g = 0; g < a.groups; ++g) {
    const uint8_t* bg = a.b + g * step;
    __m512i b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_load_si512(bg + 64 * v);
    _mm_prefetch(reinterpret_cast<const char*>(bg + 8 * step), _MM_HINT_T0);
#pragma GCC unroll 8
    for (int r = 0; r < kTileRows; ++r) {
      int32_t four;
      std::memcpy(&four, xr[r] + 4 * g, 4);
      const __m512i xv = _mm512_set1_epi32(four);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = dot(acc[r][v], b[v], xv);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kTileRows; ++r) {
    if (r >= a.rows) break;
    float* yr = a.y + r * a.ldy;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m512 f;
      if constexpr (K == NarrowGemm::Kind::kInt8) {
        const __m512i comp = _mm512_set1_epi32(128 * a.row_sum[r]);
        f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], comp));
        f = _mm512_fmadd_ps(_mm512_mul_ps(f, _mm512_set1_ps(a.row_scale[r])),
                            _mm512_loadu_ps(a.w_scale + 16 * v), _mm512_loadu_ps(a.bias + 16 * v));
      } else {
        f = _mm512_add_ps(acc[r][v], _mm512_loadu_ps(a.bias + 16 * v));
      }
      if (a.accumulate) f = _mm512_add_ps(f, _mm512_loadu_ps(yr + 16 * v));
      _mm512_storeu_ps(yr + 16 * v, f);
    }
  }
  // The activation in a second pass over the tile (L1-hot): inside the loop above its
  // constants and temporaries would push the 24 accumulators out of registers.
  if (a.act != Activation::kIdentity) act_tile<NV>(a);
}

template <NarrowGemm::Kind K>
void run_tile(int nv, const TileArgs& a) {
  switch (nv) {
    case 1:
      return tile<K, 1>(a);
    case 2:
      return tile<K, 2>(a);
    case 3:
      return tile<K, 3>(a);
    default:
      return tile<K, 4>(a);
  }
}

#endif

bool kind_built(NarrowGemm::Kind kind) {
  if (kind == NarrowGemm::Kind::kInt8) {
#if defined(EJ_NARROW_GEMM_INT8)
    return true;
#endif
  } else {
#if defined(EJ_NARROW_GEMM_BF16)
    return true;
#endif
  }
  return false;
}

}  // namespace

bool NarrowGemm::supported(Kind kind, int64_t in, int64_t out) {
  const int64_t per_group = kind == Kind::kInt8 ? 4 : 2;
  return kind_built(kind) && in > 0 && out > 0 && in % per_group == 0 && out % 16 == 0;
}

void NarrowGemm::pack(const uint8_t* w_bytes, int64_t in_bytes, bool add_128) {
  groups_ = in_bytes / 4;
  packed_bytes_ = static_cast<size_t>(in_bytes * out_);
  packed_.reserve(packed_bytes_ / sizeof(float) + 16);
  auto* p = reinterpret_cast<uint8_t*>(packed_.data());
  for (int64_t n0 = 0; n0 < out_; n0 += kBlock) {
    const int64_t bw = block_width(n0, out_);
    uint8_t* blk = p + n0 * in_bytes;  // every earlier block is kBlock wide
    for (int64_t g = 0; g < groups_; ++g) {
      for (int64_t c = 0; c < bw; ++c) {
        const uint8_t* src = w_bytes + (n0 + c) * in_bytes + 4 * g;
        uint8_t* dst = blk + g * bw * 4 + c * 4;
        for (int b = 0; b < 4; ++b) dst[b] = static_cast<uint8_t>(src[b] + (add_128 ? 128 : 0));
      }
    }
  }
}

void NarrowGemm::init_int8(const int8_t* w, const float* w_scale, const float* bias, int64_t in,
                           int64_t out) {
  if (!supported(Kind::kInt8, in, out)) {
    throw Error(ErrorCode::kInternal, "NarrowGemm: int8 shape " + std::to_string(out) + "x" +
                                          std::to_string(in) + " not supported here");
  }
  kind_ = Kind::kInt8;
  in_ = in;
  out_ = out;
  // s8 + 128 (mod 256) is the u8 value w + 128.
  pack(reinterpret_cast<const uint8_t*>(w), in, true);
  scale_.assign(w_scale, w_scale + out);
  bias_.assign(static_cast<size_t>(out), 0.0f);
  if (bias != nullptr) bias_.assign(bias, bias + out);
}

void NarrowGemm::init_bf16(const uint16_t* w, const float* bias, int64_t in, int64_t out) {
  if (!supported(Kind::kBf16, in, out)) {
    throw Error(ErrorCode::kInternal, "NarrowGemm: bf16 shape " + std::to_string(out) + "x" +
                                          std::to_string(in) + " not supported here");
  }
  kind_ = Kind::kBf16;
  in_ = in;
  out_ = out;
  pack(reinterpret_cast<const uint8_t*>(w), 2 * in, false);
  scale_.clear();
  bias_.assign(static_cast<size_t>(out), 0.0f);
  if (bias != nullptr) bias_.assign(bias, bias + out);
}

void NarrowGemm::run_int8(const int8_t* x, const float* row_scale, const int32_t* row_sum,
                          int64_t rows, float* y, bool accumulate, Activation act,
                          int threads) const {
  if (kind_ != Kind::kInt8) throw Error(ErrorCode::kInternal, "NarrowGemm: not an int8 GEMM");
  run(x, row_scale, row_sum, rows, y, accumulate, act, threads);
}

void NarrowGemm::run_bf16(const uint16_t* x, int64_t rows, float* y, bool accumulate,
                          Activation act, int threads) const {
  if (kind_ != Kind::kBf16) throw Error(ErrorCode::kInternal, "NarrowGemm: not a bf16 GEMM");
  run(x, nullptr, nullptr, rows, y, accumulate, act, threads);
}

void NarrowGemm::run(const void* x, const float* row_scale, const int32_t* row_sum, int64_t rows,
                     float* y, bool accumulate, Activation act, int threads) const {
#if defined(EJ_NARROW_GEMM_INT8) || defined(EJ_NARROW_GEMM_BF16)
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  const int64_t blocks = (out_ + kBlock - 1) / kBlock;
  const auto* p = reinterpret_cast<const uint8_t*>(packed_.data());
  const auto* xb = static_cast<const uint8_t*>(x);
  const int64_t ldx = groups_ * 4;
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
      const int nv = static_cast<int>(block_width(n0, out_) / 16);
      TileArgs a;
      a.ldx = ldx;
      a.b = p + n0 * ldx;
      a.groups = groups_;
      a.w_scale = scale_.empty() ? nullptr : scale_.data() + n0;
      a.bias = bias_.data() + n0;
      a.ldy = out_;
      a.accumulate = accumulate;
      a.act = act;
      for (int64_t m = m0; m < m1; m += kTileRows) {
        a.x = xb + m * ldx;
        a.row_scale = row_scale != nullptr ? row_scale + m : nullptr;
        a.row_sum = row_sum != nullptr ? row_sum + m : nullptr;
        a.y = y + m * out_ + n0;
        a.rows = std::min(kTileRows, m1 - m);
#if defined(EJ_NARROW_GEMM_INT8)
        if (kind_ == Kind::kInt8) run_tile<Kind::kInt8>(nv, a);
#endif
#if defined(EJ_NARROW_GEMM_BF16)
        if (kind_ == Kind::kBf16) run_tile<Kind::kBf16>(nv, a);
#endif
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
  throw Error(ErrorCode::kInternal, "NarrowGemm: not built for this CPU");
#endif
}

}  // namespace ej::engine
