// NarrowGemm: the int8 and bf16 compute modes' GEMM, our own kernel on AVX512-VNNI /
// AVX512_BF16 (engine/linear.h uses it in place of oneDNN 2.6's brgemm where it applies, see
// supported()). Both modes share one kernel: a "group" is 4 bytes of depth (4 s8 values or 2
// bf16 values), one 32-bit broadcast of x feeds one VPDPBUSD / VDPBF16PS per 16 columns.
//   int8  y[m, n] = epilogue(row_scale[m] * w_scale[n] * sum_k x[m, k] w[n, k] + b[n]), x and
//         w symmetric s8. VPDPBUSD multiplies unsigned by signed bytes, so W is stored as
//         u8 = w + 128 and 128 * sum_k x[m, k] (the row sums of x, made by the quantizer) is
//         subtracted from the s32 accumulator: exact integer sums.
//   bf16  y[m, n] = epilogue(sum_k x[m, k] w[n, k] + b[n]), x and w bf16, f32 accumulation.
// The epilogue (dequantize, bias, then y += or the activation) runs in f32 registers before
// the one store of y; an activation runs as a second pass over the L1-hot tile.
// Layout: W packed once at init in column blocks of 64 (the last block 16, 32 or 48 wide):
// block-major, then depth groups, then the block's columns, one group (4 bytes) each, so that
// one 64-byte load feeds 16 columns. Register tile: 6 rows x 64 columns (24 zmm accumulators);
// rows are taken in chunks of 48 that stay in L1/L2 across the column blocks.
// Threads: OpenMP over row chunks (over row chunks x column blocks when there are few rows).
// Thread-safety: init_*() once; run_*() are const and may be called from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/aligned_buffer.h"
#include "engine/model_spec.h"

namespace ej::engine {

class NarrowGemm {
 public:
  enum class Kind { kInt8, kBf16 };
  // True if this build has the kernel for `kind` (AVX512-VNNI / AVX512_BF16, and no AMX: there
  // oneDNN's AMX kernels are faster) and the shape fits it: whole depth groups (in % 4 == 0 for
  // int8, in % 2 == 0 for bf16) and out % 16 == 0 (every real model's widths). Otherwise the caller
  // uses oneDNN.
  static bool supported(Kind kind, int64_t in, int64_t out);

  // w: [out, in] row-major s8, w_scale: [out], bias: [out] or null.
  void init_int8(const int8_t* w, const float* w_scale, const float* bias, int64_t in, int64_t out);
  // w: [out, in] row-major bf16 bit patterns, bias: [out] or null.
  void init_bf16(const uint16_t* w, const float* bias, int64_t in, int64_t out);

  // x: [rows, in] s8 with its row_scale and row_sum (sum of the row's s8 values) per row;
  // y: [rows, out] f32, read first when `accumulate` (y += result); `act` applied last
  // (kIdentity: none). Splits the work over `threads` OpenMP threads.
  void run_int8(const int8_t* x, const float* row_scale, const int32_t* row_sum, int64_t rows,
                float* y, bool accumulate, Activation act, int threads) const;
  // x: [rows, in] bf16 bit patterns; the rest as run_int8.
  void run_bf16(const uint16_t* x, int64_t rows, float* y, bool accumulate, Activation act,
                int threads) const;

  // Bytes held: the packed weights, scales and bias.
  size_t bytes() const { return packed_bytes_ + (scale_.size() + bias_.size()) * sizeof(float); }

 private:
  void pack(const uint8_t* w_bytes, int64_t in_bytes, bool add_128);
  void run(const void* x, const float* row_scale, const int32_t* row_sum, int64_t rows, float* y,
           bool accumulate, Activation act, int threads) const;

  Kind kind_ = Kind::kInt8;
  AlignedBuffer packed_;  // packed_bytes_ bytes, 64-byte aligned
  size_t packed_bytes_ = 0;
  std::vector<float> scale_, bias_;  // scale_ int8 only; bias_ all zero when the layer has none
  int64_t in_ = 0, out_ = 0;
  int64_t groups_ = 0;  // 4-byte depth groups per row
};

}  // namespace ej::engine
