#include "engine/narrow.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace ej::engine::narrow {

void to_bf16_rows(const float* x, size_t rows, size_t cols, uint16_t* out, int threads) {
  const int64_t n = static_cast<int64_t>(rows);
#pragma omp parallel for num_threads(threads) schedule(static) if (rows > 16)
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + static_cast<size_t>(r) * cols;
    uint16_t* o = out + static_cast<size_t>(r) * cols;
    for (size_t c = 0; c < cols; ++c) o[c] = f32_to_bf16(xr[c]);
  }
}

void quantize_rows_s8(const float* x, size_t rows, size_t cols, int8_t* q, float* scale,
                      int threads) {
  const int64_t n = static_cast<int64_t>(rows);
#pragma omp parallel for num_threads(threads) schedule(static) if (rows > 16)
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + static_cast<size_t>(r) * cols;
    int8_t* qr = q + static_cast<size_t>(r) * cols;
    float m = 0.0f;
    for (size_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(xr[c]));
    const float s = m > 0.0f ? m / 127.0f : 1.0f;
    const float inv = 1.0f / s;
    for (size_t c = 0; c < cols; ++c) {
      // Round half away from zero without a libm call, so the loop vectorizes; |v| <= 127.
      const float v = xr[c] * inv;
      const float rv = static_cast<float>(static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f)));
      qr[c] = static_cast<int8_t>(std::clamp(rv, -127.0f, 127.0f));
    }
    scale[r] = s;
  }
}

}  // namespace ej::engine::narrow
