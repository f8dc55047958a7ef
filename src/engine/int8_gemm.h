// Int8Gemm: the int8 compute mode's GEMM on AVX512-VNNI, our own kernel (engine/linear.h uses
// it in place of oneDNN 2.6's brgemm where it applies, see supported()):
//   y[m, n] = epilogue(row_scale[m] * w_scale[n] * sum_k x[m, k] w[n, k] + b[n])
// with x and w symmetric s8. VPDPBUSD multiplies unsigned by signed bytes, so W is stored as
// u8 = w + 128 and the extra 128 * sum_k x[m, k] (the row sums of x, made by the quantizer) is
// subtracted from the s32 accumulator. s32 accumulation is exact; the epilogue (dequantize,
// bias, then y += or the activation) runs in f32 registers before the one store of y.
// Layout: W packed once at init in column blocks of 64 (the last block 16, 32 or 48 wide):
// block-major, then k in steps of 4, then the block's columns, 4 bytes (k..k+3) each, so that
// one 64-byte load feeds 16 columns x 4 depths. Register tile: 6 rows x 64 columns (24 zmm
// accumulators); rows are taken in chunks of 48 that stay in L1/L2 across the column blocks.
// Threads: OpenMP over row chunks (over row chunks x column blocks when there are few rows).
// Thread-safety: init() once; run() is const and may be called from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/aligned_buffer.h"
#include "engine/model_spec.h"

namespace ej::engine {

class Int8Gemm {
 public:
  // True if this build has the kernel (AVX512-VNNI) and the shape fits it: in % 4 == 0 and
  // out % 16 == 0 (every real model's widths). Otherwise the caller uses oneDNN.
  static bool supported(int64_t in, int64_t out);
  // w: [out, in] row-major s8, w_scale: [out], bias: [out] or null.
  void init(const int8_t* w, const float* w_scale, const float* bias, int64_t in, int64_t out);
  // x: [rows, in] s8 with its row_scale and row_sum (sum of the row's s8 values) per row;
  // y: [rows, out] f32, read first when `accumulate` (y += result); `act` applied last
  // (kIdentity: none). Splits the work over `threads` OpenMP threads.
  void run(const int8_t* x, const float* row_scale, const int32_t* row_sum, int64_t rows, float* y,
           bool accumulate, Activation act, int threads) const;
  // Bytes held: the packed weights, scales and bias.
  size_t bytes() const { return packed_bytes_ + (scale_.size() + bias_.size()) * sizeof(float); }

 private:
  AlignedBuffer packed_;  // packed_bytes_ bytes, 64-byte aligned
  size_t packed_bytes_ = 0;
  std::vector<float> scale_, bias_;  // bias_ all zero when the layer has none
  int64_t in_ = 0, out_ = 0;
};

}  // namespace ej::engine
