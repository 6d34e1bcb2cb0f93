// Random values of each dtype for literals, scalars and tensor contents: mostly values where
// arithmetic is interesting (0, 1, -1, the extremes, signed zeros, infinities, NaN,
// subnormals, halves for rounding ties), the rest random bits.
#pragma once

#include <cstdint>
#include <vector>

#include "fuzz/rng.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt::fuzz {

// A normalised value of type t (see mt::normalise).
Scalar random_scalar(Rng& rng, DType t);
// `count` elements of type t as little-endian bytes.
std::vector<std::uint8_t> random_tensor(Rng& rng, DType t, std::size_t count);
// `count` elements of type t holding small integers (exact under any order of additions).
std::vector<std::uint8_t> small_integer_tensor(Rng& rng, DType t, std::size_t count);

}  // namespace mt::fuzz
