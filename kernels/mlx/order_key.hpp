// Float order keys, which let the integer collectives (max, argmax) order floats the way
// PyTorch and MLX do, NaN included.
#pragma once

#include <cstdint>
#include <limits>

#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::mlx {

inline constexpr float kInfinity = std::numeric_limits<float>::infinity();

// Float order keys: a u32 whose unsigned order is the order of the f32 values, with NaN (every
// NaN, made one quiet NaN first) above +inf. A u32 max or argmax over keys then treats NaN as
// the largest value, as PyTorch and MLX's max do, where the float collectives skip NaN.
inline constexpr std::uint32_t kNaNOrderKey = 0xFFC00000u;  // the key of the quiet NaN 0x7FC00000
inline Val order_key(const Val& v) {
  Val bits = select(v != v, u32(0x7FC00000u), v.bitcast(DType::U32));
  return select((bits >> 31u) == 1u, ~bits, bits | 0x80000000u);
}
inline Val from_order_key(const Val& key) {
  return select((key >> 31u) == 1u, key & 0x7FFFFFFFu, ~key).bitcast(DType::F32);
}
}  // namespace mt::kernels::mlx
