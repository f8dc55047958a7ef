// Float embeddings -> the Cohere embedding types.
//  int8/uint8: per-model calibration range [lo, hi]: uint8 = clamp(round((x - lo) / (hi - lo) *
//  255)),
//              int8 = uint8 - 128 (documented in docs/decisions.md).
//  binary/ubinary: 8 dims per byte, most significant bit first, bit set when x > 0;
//              ubinary = that byte (0..255), binary = byte - 128. dims not a multiple of 8 are
//              zero-padded in the last byte.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ej::engine {

std::vector<uint8_t> quantize_uint8(std::span<const float> v, float lo, float hi);
std::vector<int8_t> quantize_int8(std::span<const float> v, float lo, float hi);
std::vector<uint8_t> pack_ubinary(std::span<const float> v);
std::vector<int8_t> pack_binary(std::span<const float> v);

}  // namespace ej::engine
