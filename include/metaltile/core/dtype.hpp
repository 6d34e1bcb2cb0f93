// Element types of the IR, their sizes and names, and exact bit-level conversions between
// f32 and the narrow float formats (f16, bf16, OCP fp8 E4M3FN / E5M2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mt {

// fp8 types are storage types: they can be loaded, stored and cast, but not computed with.
enum class DType : std::uint8_t { F32, F16, BF16, I32, U32, I8, U8, Bool, F8E4M3, F8E5M2 };

inline constexpr DType kAllDTypes[] = {DType::F32,    DType::F16,   DType::BF16, DType::I32,
                                       DType::U32,    DType::I8,    DType::U8,   DType::Bool,
                                       DType::F8E4M3, DType::F8E5M2};

// Bytes one element occupies in a buffer (Bool is one byte).
std::size_t size_of(DType t);
// Short lower-case names used by the printer and the CLI: f32 f16 bf16 i32 u32 i8 u8 bool
// f8e4m3 f8e5m2.
std::string_view name_of(DType t);
std::optional<DType> parse_dtype(std::string_view name);

bool is_float(DType t);    // f32, f16, bf16, f8e4m3, f8e5m2
bool is_fp8(DType t);      // f8e4m3, f8e5m2
bool is_integer(DType t);  // i32, u32, i8, u8 (not bool)
bool is_signed_integer(DType t);
// Types arithmetic can be done in: f32, f16, bf16, i32, u32, i8, u8.
bool is_arithmetic(DType t);
// Types a tensor or array index and a loop variable may have: u32 and i32.
bool is_index_type(DType t);
// Bits of an integer type (8 or 32); 1 for bool.
int bit_width(DType t);

// f16 (IEEE binary16). Narrowing rounds to nearest, ties to even; overflow gives +-inf;
// NaN stays NaN (quiet). Widening is exact.
std::uint16_t f32_to_f16_bits(float x);
float f16_bits_to_f32(std::uint16_t bits);

// bf16 (the high half of an f32). Narrowing rounds to nearest, ties to even; NaN stays NaN.
std::uint16_t f32_to_bf16_bits(float x);
float bf16_bits_to_f32(std::uint16_t bits);

// OCP FP8 E4M3FN: bias 7, subnormals, max finite 448, no infinities, NaN = 0x7F/0xFF.
// Narrowing rounds to nearest, ties to even, and saturates to +-448 (inf too); NaN -> 0x7F.
std::uint8_t f32_to_e4m3_bits(float x);
float e4m3_bits_to_f32(std::uint8_t bits);

// OCP FP8 E5M2: bias 15, subnormals, max finite 57344, inf and NaN as in IEEE.
// Narrowing rounds to nearest, ties to even, and saturates to +-57344 (inf too); NaN -> 0x7F.
std::uint8_t f32_to_e5m2_bits(float x);
float e5m2_bits_to_f32(std::uint8_t bits);

// Rounds x to the nearest value representable in the float type t (identity for f32).
float round_to(DType t, float x);

}  // namespace mt
