// DType tables (sizes, names, predicates) and the bit-exact conversions between f32 and the
// narrow float formats. All rounding is to nearest, ties to even, done on the f32 bit pattern.
#include "metaltile/core/dtype.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "metaltile/core/error.hpp"

namespace mt {

std::size_t size_of(DType t) {
  switch (t) {
    case DType::F32:
    case DType::I32:
    case DType::U32: return 4;
    case DType::F16:
    case DType::BF16: return 2;
    case DType::I8:
    case DType::U8:
    case DType::Bool:
    case DType::F8E4M3:
    case DType::F8E5M2: return 1;
  }
  MT_ASSERT(false) << "unknown dtype " << static_cast<int>(t);
  return 0;
}

std::string_view name_of(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
    case DType::U32: return "u32";
    case DType::I8: return "i8";
    case DType::U8: return "u8";
    case DType::Bool: return "bool";
    case DType::F8E4M3: return "f8e4m3";
    case DType::F8E5M2: return "f8e5m2";
  }
  MT_ASSERT(false) << "unknown dtype " << static_cast<int>(t);
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType t : kAllDTypes) {
    if (name_of(t) == name) return t;
  }
  return std::nullopt;
}

bool is_float(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || is_fp8(t);
}
bool is_fp8(DType t) { return t == DType::F8E4M3 || t == DType::F8E5M2; }
bool is_integer(DType t) {
  return t == DType::I32 || t == DType::U32 || t == DType::I8 || t == DType::U8;
}
bool is_signed_integer(DType t) { return t == DType::I32 || t == DType::I8; }
bool is_arithmetic(DType t) { return (is_float(t) && !is_fp8(t)) || is_integer(t); }

// Bool is one bit of meaning; every other type answers with its storage width, so a caller
// asking about a float gets a true statement rather than an exception.
bool is_index_type(DType t) { return t == DType::U32 || t == DType::I32; }

int bit_width(DType t) { return t == DType::Bool ? 1 : static_cast<int>(8 * size_of(t)); }

namespace {

constexpr std::uint32_t kF32Inf = 0x7F800000u;
constexpr std::uint32_t kF32Quiet = 0x00400000u;

std::uint32_t bits_of(float x) { return std::bit_cast<std::uint32_t>(x); }
float float_of(std::uint32_t u) { return std::bit_cast<float>(u); }

// Rounds the finite magnitude `a` (f32 bits, sign clear) to nearest even in a binary format
// with `mant` explicit mantissa bits and exponent bias `bias`, subnormals included and the
// exponent unbounded above. Returns the format's exponent<<mant | mantissa code; codes past
// the format's largest finite value are the caller's to clamp.
std::uint32_t round_magnitude(std::uint32_t a, int mant, int bias) {
  const int exp = static_cast<int>(a >> 23);
  if (exp >= 127 + 1 - bias) {
    // Normal in the target: drop 23 - mant bits with a round-half-even add; a carry out of the
    // mantissa correctly bumps the exponent.
    const int drop = 23 - mant;
    const std::uint32_t lsb = (a >> drop) & 1u;
    const std::uint32_t r = a + ((1u << (drop - 1)) - 1u) + lsb;
    return (r >> drop) - (static_cast<std::uint32_t>(127 - bias) << mant);
  }
  // Subnormal in the target: count units of the smallest subnormal, 2^(1 - bias - mant).
  // f32 subnormals and anything below half a unit round to zero.
  if (exp == 0) return 0;
  const int shift = 151 - bias - mant - exp;
  if (shift >= 25) return 0;  // below half the smallest subnormal (the significand is < 2^24)
  const std::uint32_t sig = (a & 0x7FFFFFu) | 0x800000u;
  std::uint32_t q = sig >> shift;
  const std::uint32_t rest = sig & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (q & 1u))) ++q;  // may carry into the smallest normal
  return q;
}

// Inverse of round_magnitude for a finite code: exact, since every code is a small dyadic.
float decode_magnitude(std::uint32_t code, int mant, int bias) {
  const std::uint32_t exp = code >> mant;
  const std::uint32_t frac = code & ((1u << mant) - 1u);
  if (exp == 0) return std::ldexp(static_cast<float>(frac), 1 - bias - mant);
  return std::ldexp(static_cast<float>(frac | (1u << mant)), static_cast<int>(exp) - bias - mant);
}

float with_sign(bool negative, float magnitude) { return negative ? -magnitude : magnitude; }

}  // namespace

std::uint16_t f32_to_f16_bits(float x) {
  const std::uint32_t u = bits_of(x);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > kF32Inf) {
    // Keep the top payload bits and force the quiet bit, so a NaN never becomes inf.
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  }
  if (a == kF32Inf) return static_cast<std::uint16_t>(sign | 0x7C00u);
  // Rounding past 65504 lands exactly on the inf code (exponent 31, mantissa 0).
  const std::uint32_t code = std::min(round_magnitude(a, 10, 15), 0x7C00u);
  return static_cast<std::uint16_t>(sign | code);
}

float f16_bits_to_f32(std::uint16_t bits) {
  const bool negative = (bits & 0x8000u) != 0;
  const std::uint32_t exp = (bits >> 10) & 0x1Fu;
  const std::uint32_t frac = bits & 0x3FFu;
  if (exp == 0x1F) {
    if (frac == 0) return with_sign(negative, std::numeric_limits<float>::infinity());
    const std::uint32_t sign = negative ? 0x80000000u : 0u;
    return float_of(sign | kF32Inf | kF32Quiet | (frac << 13));
  }
  return with_sign(negative, decode_magnitude(bits & 0x7FFFu, 10, 15));
}

std::uint16_t f32_to_bf16_bits(float x) {
  const std::uint32_t u = bits_of(x);
  if ((u & 0x7FFFFFFFu) > kF32Inf) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  // bf16 is the top half of f32, so one round-half-even add on the low half does it all:
  // subnormals, the carry into the exponent and overflow to inf.
  const std::uint32_t lsb = (u >> 16) & 1u;
  return static_cast<std::uint16_t>((u + 0x7FFFu + lsb) >> 16);
}

float bf16_bits_to_f32(std::uint16_t bits) {
  std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  if ((u & 0x7FFFFFFFu) > kF32Inf) u |= kF32Quiet;
  return float_of(u);
}

// The fp8 narrowings follow CUDA's __nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...): NaN of
// either sign gives 0x7F; inf and every finite value beyond the largest finite one give
// +-max; the sign of zero and of underflow is kept.
std::uint8_t f32_to_e4m3_bits(float x) {
  const std::uint32_t u = bits_of(x);
  const auto sign = static_cast<std::uint8_t>((u >> 24) & 0x80u);
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > kF32Inf) return 0x7F;
  if (a == kF32Inf) return static_cast<std::uint8_t>(sign | 0x7Eu);
  // Code 0x7F (it would be 480) is NaN in E4M3FN: clamp to 0x7E = 448.
  return static_cast<std::uint8_t>(sign | std::min(round_magnitude(a, 3, 7), 0x7Eu));
}

float e4m3_bits_to_f32(std::uint8_t bits) {
  const bool negative = (bits & 0x80u) != 0;
  if ((bits & 0x7Fu) == 0x7Fu) {
    return with_sign(negative, std::numeric_limits<float>::quiet_NaN());
  }
  return with_sign(negative, decode_magnitude(bits & 0x7Fu, 3, 7));
}

std::uint8_t f32_to_e5m2_bits(float x) {
  const std::uint32_t u = bits_of(x);
  const auto sign = static_cast<std::uint8_t>((u >> 24) & 0x80u);
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > kF32Inf) return 0x7F;
  if (a == kF32Inf) return static_cast<std::uint8_t>(sign | 0x7Bu);
  return static_cast<std::uint8_t>(sign | std::min(round_magnitude(a, 2, 15), 0x7Bu));
}

float e5m2_bits_to_f32(std::uint8_t bits) {
  const bool negative = (bits & 0x80u) != 0;
  if ((bits & 0x7Cu) == 0x7Cu) {
    const float special = (bits & 0x03u) == 0 ? std::numeric_limits<float>::infinity()
                                              : std::numeric_limits<float>::quiet_NaN();
    return with_sign(negative, special);
  }
  return with_sign(negative, decode_magnitude(bits & 0x7Fu, 2, 15));
}

float round_to(DType t, float x) {
  switch (t) {
    case DType::F32: return x;
    case DType::F16: return f16_bits_to_f32(f32_to_f16_bits(x));
    case DType::BF16: return bf16_bits_to_f32(f32_to_bf16_bits(x));
    case DType::F8E4M3: return e4m3_bits_to_f32(f32_to_e4m3_bits(x));
    case DType::F8E5M2: return e5m2_bits_to_f32(f32_to_e5m2_bits(x));
    case DType::I32:
    case DType::U32:
    case DType::I8:
    case DType::U8:
    case DType::Bool: break;
  }
  MT_ASSERT(false) << "round_to: " << name_of(t) << " is not a float type";
  return x;
}

}  // namespace mt
