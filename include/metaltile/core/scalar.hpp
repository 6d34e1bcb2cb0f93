// mt::Scalar: one value of any DType, as the folder, the interpreter and literals hold it.
#pragma once

#include <cstdint>

namespace mt {

// Floats (f32, f16, bf16, fp8) live in `f`, already rounded to their type; integers and bool
// live in `i` (u32 and u8 zero-extended, i32 and i8 sign-extended, bool 0 or 1).
struct Scalar {
  double f = 0.0;
  std::int64_t i = 0;

  static constexpr Scalar of_float(double v) { return Scalar{v, 0}; }
  static constexpr Scalar of_int(std::int64_t v) { return Scalar{0.0, v}; }
  friend constexpr bool operator==(const Scalar&, const Scalar&) = default;
};

}  // namespace mt
