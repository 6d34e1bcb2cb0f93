// Test helpers for the byte-map dispatch API: little-endian scalars, packing float and integer
// vectors to and from element bytes of any dtype, poisoning outputs, and a tolerance check
// that fails on NaN/Inf and prints the first mismatches.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "metaltile/core/dtype.hpp"

namespace mt::test {

using Bytes = std::vector<std::uint8_t>;

// The 4 little-endian bytes of a 32-bit scalar parameter.
Bytes le_bytes(std::uint32_t v);
Bytes le_bytes(std::int32_t v);
Bytes le_bytes(float v);

// Float values as elements of a float dtype (f32, f16, bf16, f8e4m3, f8e5m2), rounded to
// nearest even as the dtype conversions do (fp8 saturates).
Bytes pack(std::span<const float> values, DType t);
// Elements of a float dtype widened (exactly) to f32. The length must be a whole number of
// elements, else std::invalid_argument.
std::vector<float> unpack(std::span<const std::uint8_t> bytes, DType t);

// Rounds each value to dtype t (what the kernel sees after pack): oracles take these inputs.
std::vector<float> round_all(std::span<const float> values, DType t);

Bytes pack_u32(std::span<const std::uint32_t> values);
std::vector<std::uint32_t> unpack_u32(std::span<const std::uint8_t> bytes);
Bytes pack_i32(std::span<const std::int32_t> values);
std::vector<std::int32_t> unpack_i32(std::span<const std::uint8_t> bytes);

// Fills an output buffer so an element the kernel does not write cannot pass: NaN for float
// dtypes, the repeating little-endian pattern of 0xDEADBEEF for integer and bool dtypes.
void poison(Bytes& bytes, DType t);
// `elements` poisoned elements of dtype t.
Bytes poisoned(std::size_t elements, DType t);

// Passes when the lengths match and every |actual - expected| <= atol + rtol * |expected|.
// NaN or Inf on either side fails. On failure records a gtest failure labelled `label` with
// the mismatch count and the first 10 mismatches (index, expected, actual, tolerance).
// Returns whether it passed.
bool expect_close(std::span<const float> actual, std::span<const float> expected, double atol,
                  double rtol, std::string_view label);
// Exact comparison of integer results, reported the same way.
bool expect_equal(std::span<const std::uint32_t> actual, std::span<const std::uint32_t> expected,
                  std::string_view label);

}  // namespace mt::test
