#include "engine/quantize.h"

#include <algorithm>
#include <cmath>

namespace ej::engine {

std::vector<uint8_t> quantize_uint8(std::span<const float> v, float lo, float hi) {
  std::vector<uint8_t> out(v.size());
  const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
  for (size_t i = 0; i < v.size(); ++i) {
    float q = std::nearbyint((v[i] - lo) * scale);
    if (!(q >= 0.0f)) q = 0.0f;  // also maps NaN to 0
    out[i] = static_cast<uint8_t>(std::min(q, 255.0f));
  }
  return out;
}

std::vector<int8_t> quantize_int8(std::span<const float> v, float lo, float hi) {
  std::vector<uint8_t> u = quantize_uint8(v, lo, hi);
  std::vector<int8_t> out(u.size());
  for (size_t i = 0; i < u.size(); ++i) out[i] = static_cast<int8_t>(static_cast<int>(u[i]) - 128);
  return out;
}

std::vector<uint8_t> pack_ubinary(std::span<const float> v) {
  std::vector<uint8_t> out((v.size() + 7) / 8, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] > 0.0f) out[i / 8] |= static_cast<uint8_t>(0x80u >> (i % 8));
  }
  return out;
}

std::vector<int8_t> pack_binary(std::span<const float> v) {
  std::vector<uint8_t> u = pack_ubinary(v);
  std::vector<int8_t> out(u.size());
  for (size_t i = 0; i < u.size(); ++i) out[i] = static_cast<int8_t>(static_cast<int>(u[i]) - 128);
  return out;
}

}  // namespace ej::engine
