// DType tables, and the f16 / bf16 / fp8 conversions: known bit patterns, ties, overflow and
// NaN, every bit pattern decoded and re-encoded, and rounding checked against a reference
// that searches a table of the format's values (a different formulation from the encoders).
#include "metaltile/core/dtype.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"

namespace mt {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::string hex(std::uint32_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

std::string show(float x) {
  std::ostringstream s;
  s << std::hexfloat << x << " (" << std::defaultfloat << x << ", bits "
    << hex(std::bit_cast<std::uint32_t>(x)) << ")";
  return s.str();
}

// Both NaN, or the same value with the same sign (so -0 differs from +0).
bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

TEST(DTypeTables, SizesNamesAndParsing) {
  struct Row {
    DType t;
    std::size_t size;
    const char* name;
    int bits;
  };
  const Row rows[] = {{DType::F32, 4, "f32", 32},      {DType::F16, 2, "f16", 16},
                      {DType::BF16, 2, "bf16", 16},    {DType::I32, 4, "i32", 32},
                      {DType::U32, 4, "u32", 32},      {DType::I8, 1, "i8", 8},
                      {DType::U8, 1, "u8", 8},         {DType::Bool, 1, "bool", 1},
                      {DType::F8E4M3, 1, "f8e4m3", 8}, {DType::F8E5M2, 1, "f8e5m2", 8}};
  ASSERT_EQ(std::size(rows), std::size(kAllDTypes));
  for (std::size_t k = 0; k < std::size(rows); ++k) {
    const Row& r = rows[k];
    SCOPED_TRACE(r.name);
    EXPECT_EQ(kAllDTypes[k], r.t);
    EXPECT_EQ(size_of(r.t), r.size);
    EXPECT_EQ(name_of(r.t), r.name);
    EXPECT_EQ(bit_width(r.t), r.bits);
    ASSERT_TRUE(parse_dtype(r.name).has_value());
    EXPECT_EQ(*parse_dtype(r.name), r.t);
  }
  for (const char* bad : {"", "F32", "float", "f64", "f8", "i16", "bool "}) {
    EXPECT_FALSE(parse_dtype(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(DTypeTables, Predicates) {
  // float, fp8, integer, signed, arithmetic
  struct Row {
    DType t;
    bool fl, f8, in, sg, ar;
  };
  const Row rows[] = {{DType::F32, true, false, false, false, true},
                      {DType::F16, true, false, false, false, true},
                      {DType::BF16, true, false, false, false, true},
                      {DType::I32, false, false, true, true, true},
                      {DType::U32, false, false, true, false, true},
                      {DType::I8, false, false, true, true, true},
                      {DType::U8, false, false, true, false, true},
                      {DType::Bool, false, false, false, false, false},
                      {DType::F8E4M3, true, true, false, false, false},
                      {DType::F8E5M2, true, true, false, false, false}};
  ASSERT_EQ(std::size(rows), std::size(kAllDTypes));
  for (const Row& r : rows) {
    SCOPED_TRACE(std::string(name_of(r.t)));
    EXPECT_EQ(is_float(r.t), r.fl);
    EXPECT_EQ(is_fp8(r.t), r.f8);
    EXPECT_EQ(is_integer(r.t), r.in);
    EXPECT_EQ(is_signed_integer(r.t), r.sg);
    EXPECT_EQ(is_arithmetic(r.t), r.ar);
  }
}

// One narrow float format, described by its parameters so the reference can rebuild it.
struct Format {
  const char* name;
  DType t;
  int bits;  // storage bits
  int mant;  // explicit mantissa bits
  int bias;
  std::uint32_t max_code;  // largest finite magnitude code
  bool has_inf;            // the code after max_code is inf (else NaN)
  bool saturates;          // narrowing clamps to max finite (else overflows to inf)
  std::uint32_t (*encode)(float);
  float (*decode)(std::uint32_t);
};

const Format kFormats[] = {
    {"f16", DType::F16, 16, 10, 15, 0x7BFF, true, false,
     [](float x) -> std::uint32_t { return f32_to_f16_bits(x); },
     [](std::uint32_t b) { return f16_bits_to_f32(static_cast<std::uint16_t>(b)); }},
    {"bf16", DType::BF16, 16, 7, 127, 0x7F7F, true, false,
     [](float x) -> std::uint32_t { return f32_to_bf16_bits(x); },
     [](std::uint32_t b) { return bf16_bits_to_f32(static_cast<std::uint16_t>(b)); }},
    {"e4m3", DType::F8E4M3, 8, 3, 7, 0x7E, false, true,
     [](float x) -> std::uint32_t { return f32_to_e4m3_bits(x); },
     [](std::uint32_t b) { return e4m3_bits_to_f32(static_cast<std::uint8_t>(b)); }},
    {"e5m2", DType::F8E5M2, 8, 2, 15, 0x7B, true, true,
     [](float x) -> std::uint32_t { return f32_to_e5m2_bits(x); },
     [](std::uint32_t b) { return e5m2_bits_to_f32(static_cast<std::uint8_t>(b)); }},
};

const Format& format(DType t) {
  for (const Format& f : kFormats) {
    if (f.t == t) return f;
  }
  throw std::logic_error("no format");
}

// The magnitude a code denotes, from the textbook definition (in double).
double code_value(const Format& f, std::uint32_t code) {
  const std::uint32_t e = code >> f.mant;
  const double m = static_cast<double>(code & ((1u << f.mant) - 1u));
  if (e == 0) return std::ldexp(m, 1 - f.bias - f.mant);
  return std::ldexp(m + std::ldexp(1.0, f.mant), static_cast<int>(e) - f.bias - f.mant);
}

// Reference narrowing for a non-NaN x: the nearest code in the table of all magnitudes plus
// the code just past max_code (inf, or the first out-of-range value); ties pick the even code.
std::uint32_t reference_encode(const Format& f, const std::vector<double>& table, float x) {
  const std::uint32_t sign = std::signbit(x) ? 1u << (f.bits - 1) : 0u;
  const double a = std::fabs(static_cast<double>(x));
  std::uint32_t code = 0;
  if (a >= table.back()) {
    code = static_cast<std::uint32_t>(table.size() - 1);
  } else {
    const auto hi = std::upper_bound(table.begin(), table.end(), a);
    const auto h = static_cast<std::uint32_t>(hi - table.begin());
    const std::uint32_t l = h - 1;
    const double below = a - table[l], above = table[h] - a;
    code = below < above ? l : above < below ? h : (l % 2 == 0 ? l : h);
  }
  if (f.saturates) code = std::min(code, f.max_code);
  return sign | code;
}

std::vector<double> value_table(const Format& f) {
  std::vector<double> table;
  for (std::uint32_t c = 0; c <= f.max_code + 1; ++c) table.push_back(code_value(f, c));
  return table;
}

TEST(NarrowFloats, KnownBitPatternsDecodeAndEncode) {
  struct Row {
    DType t;
    std::uint32_t bits;
    float value;
  };
  const Row rows[] = {
      {DType::F16, 0x0000, 0.0f},
      {DType::F16, 0x8000, -0.0f},
      {DType::F16, 0x3C00, 1.0f},
      {DType::F16, 0xBC00, -1.0f},
      {DType::F16, 0x0001, 0x1p-24f},         // smallest subnormal
      {DType::F16, 0x03FF, 1023 * 0x1p-24f},  // largest subnormal
      {DType::F16, 0x0400, 0x1p-14f},         // smallest normal
      {DType::F16, 0x7BFF, 65504.0f},
      {DType::F16, 0xFBFF, -65504.0f},  // max finite
      {DType::F16, 0x7C00, kInf},
      {DType::F16, 0xFC00, -kInf},
      {DType::F16, 0x3555, 0.333251953125f},
      {DType::F16, 0x4248, 3.140625f},
      {DType::F16, 0x3BFF, 0.99951171875f},

      {DType::BF16, 0x0000, 0.0f},
      {DType::BF16, 0x8000, -0.0f},
      {DType::BF16, 0x3F80, 1.0f},
      {DType::BF16, 0x0001, 0x1p-133f},
      {DType::BF16, 0x007F, 127 * 0x1p-133f},
      {DType::BF16, 0x0080, 0x1p-126f},
      {DType::BF16, 0x7F7F, 0x1.FEp127f},
      {DType::BF16, 0xFF7F, -0x1.FEp127f},
      {DType::BF16, 0x7F80, kInf},
      {DType::BF16, 0xFF80, -kInf},
      {DType::BF16, 0x4049, 3.140625f},
      {DType::BF16, 0x3EAB, 0.333984375f},

      {DType::F8E4M3, 0x00, 0.0f},
      {DType::F8E4M3, 0x80, -0.0f},
      {DType::F8E4M3, 0x38, 1.0f},
      {DType::F8E4M3, 0x01, 0x1p-9f},
      {DType::F8E4M3, 0x07, 7 * 0x1p-9f},
      {DType::F8E4M3, 0x08, 0x1p-6f},
      {DType::F8E4M3, 0x7E, 448.0f},
      {DType::F8E4M3, 0xFE, -448.0f},
      {DType::F8E4M3, 0x77, 240.0f},
      {DType::F8E4M3, 0x40, 2.0f},
      {DType::F8E4M3, 0x3F, 1.875f},
      {DType::F8E4M3, 0x39, 1.125f},

      {DType::F8E5M2, 0x00, 0.0f},
      {DType::F8E5M2, 0x80, -0.0f},
      {DType::F8E5M2, 0x3C, 1.0f},
      {DType::F8E5M2, 0x01, 0x1p-16f},
      {DType::F8E5M2, 0x03, 3 * 0x1p-16f},
      {DType::F8E5M2, 0x04, 0x1p-14f},
      {DType::F8E5M2, 0x7B, 57344.0f},
      {DType::F8E5M2, 0xFB, -57344.0f},
      {DType::F8E5M2, 0x7C, kInf},
      {DType::F8E5M2, 0xFC, -kInf},
      {DType::F8E5M2, 0x40, 2.0f},
      {DType::F8E5M2, 0x3D, 1.25f},
  };
  for (const Row& r : rows) {
    const Format& f = format(r.t);
    SCOPED_TRACE(std::string(f.name) + " " + hex(r.bits));
    EXPECT_TRUE(same_float(f.decode(r.bits), r.value)) << "decoded " << show(f.decode(r.bits));
    // fp8 narrowing saturates, so the infinities are the one case that does not encode back.
    if (std::isinf(r.value) && f.saturates) continue;
    EXPECT_EQ(hex(f.encode(r.value)), hex(r.bits)) << "encoding " << show(r.value);
  }
}

TEST(NarrowFloats, RoundingTiesOverflowUnderflowAndNaN) {
  struct Row {
    DType t;
    float x;
    std::uint32_t bits;
    const char* why;
  };
  const Row rows[] = {
      {DType::F16, 1 + 0x1p-11f, 0x3C00, "tie rounds down to even"},
      {DType::F16, 1 + 3 * 0x1p-11f, 0x3C02, "tie rounds up to even"},
      {DType::F16, 1 + 0x1p-11f + 0x1p-20f, 0x3C01, "just above a tie"},
      {DType::F16, 65519.996f, 0x7BFF, "just below max + half ulp"},
      {DType::F16, 65520.0f, 0x7C00, "max + half ulp overflows"},
      {DType::F16, -1e9f, 0xFC00, "overflow keeps the sign"},
      {DType::F16, 0x1p-25f, 0x0000, "half the smallest subnormal ties to zero"},
      {DType::F16, -0x1p-25f, 0x8000, "underflow keeps the sign"},
      {DType::F16, 0x1.000002p-25f, 0x0001, "just above half the smallest subnormal"},
      {DType::F16, 3 * 0x1p-25f, 0x0002, "subnormal tie rounds up to even"},
      {DType::F16, 5 * 0x1p-25f, 0x0002, "subnormal tie rounds down to even"},
      {DType::F16, 1023.5f * 0x1p-24f, 0x0400, "largest subnormal rounds up to smallest normal"},
      {DType::F16, 1e-10f, 0x0000, "far below the subnormals"},

      {DType::BF16, 1 + 0x1p-8f, 0x3F80, "tie rounds down to even"},
      {DType::BF16, 1 + 3 * 0x1p-8f, 0x3F82, "tie rounds up to even"},
      {DType::BF16, std::numeric_limits<float>::max(), 0x7F80, "f32 max overflows"},
      {DType::BF16, 0x1.FFp127f, 0x7F80, "max + half ulp overflows"},
      {DType::BF16, 0x1.FEFFFEp127f, 0x7F7F, "just below max + half ulp"},
      {DType::BF16, 0x1p-134f, 0x0000, "half the smallest subnormal ties to zero"},
      {DType::BF16, 3 * 0x1p-134f, 0x0002, "subnormal tie rounds up to even"},
      {DType::BF16, 0x1p-149f, 0x0000, "f32's smallest subnormal"},
      {DType::BF16, -0.0f, 0x8000, "negative zero"},

      {DType::F8E4M3, 1.0625f, 0x38, "tie rounds down to even"},
      {DType::F8E4M3, 1.1875f, 0x3A, "tie rounds up to even"},
      {DType::F8E4M3, 17.0f, 0x58, "tie rounds down to even (16)"},
      {DType::F8E4M3, 19.0f, 0x5A, "tie rounds up to even (20)"},
      {DType::F8E4M3, 464.0f, 0x7E, "max + half ulp saturates"},
      {DType::F8E4M3, 480.0f, 0x7E, "the NaN code's value saturates"},
      {DType::F8E4M3, 1e6f, 0x7E, "far overflow saturates"},
      {DType::F8E4M3, -500.0f, 0xFE, "negative overflow saturates"},
      {DType::F8E4M3, kInf, 0x7E, "inf saturates"},
      {DType::F8E4M3, -kInf, 0xFE, "-inf saturates"},
      {DType::F8E4M3, kNaN, 0x7F, "NaN"},
      {DType::F8E4M3, -kNaN, 0x7F, "negative NaN gives 0x7F too"},
      {DType::F8E4M3, 0x1p-10f, 0x00, "half the smallest subnormal ties to zero"},
      {DType::F8E4M3, -0x1p-10f, 0x80, "underflow keeps the sign"},
      {DType::F8E4M3, 0x1.000002p-10f, 0x01, "just above half the smallest subnormal"},
      {DType::F8E4M3, 3 * 0x1p-10f, 0x02, "subnormal tie rounds up to even"},
      {DType::F8E4M3, 7.5f * 0x1p-9f, 0x08, "largest subnormal rounds up to smallest normal"},
      {DType::F8E4M3, -0.0f, 0x80, "negative zero"},

      {DType::F8E5M2, 1.125f, 0x3C, "tie rounds down to even"},
      {DType::F8E5M2, 1.375f, 0x3E, "tie rounds up to even"},
      {DType::F8E5M2, 61440.0f, 0x7B, "max + half ulp saturates"},
      {DType::F8E5M2, 1e6f, 0x7B, "far overflow saturates"},
      {DType::F8E5M2, kInf, 0x7B, "inf saturates"},
      {DType::F8E5M2, -kInf, 0xFB, "-inf saturates"},
      {DType::F8E5M2, kNaN, 0x7F, "NaN"},
      {DType::F8E5M2, -kNaN, 0x7F, "negative NaN gives 0x7F too"},
      {DType::F8E5M2, 0x1p-17f, 0x00, "half the smallest subnormal ties to zero"},
      {DType::F8E5M2, -0x1p-17f, 0x80, "underflow keeps the sign"},
      {DType::F8E5M2, 0x1.000002p-17f, 0x01, "just above half the smallest subnormal"},
      {DType::F8E5M2, 3 * 0x1p-17f, 0x02, "subnormal tie rounds up to even"},
      {DType::F8E5M2, 3.5f * 0x1p-16f, 0x04, "largest subnormal rounds up to smallest normal"},
  };
  for (const Row& r : rows) {
    const Format& f = format(r.t);
    EXPECT_EQ(hex(f.encode(r.x)), hex(r.bits)) << f.name << " " << r.why << ": " << show(r.x);
  }
}

TEST(NarrowFloats, NaNStaysAQuietNaN) {
  // A signalling f32 NaN whose payload lives only in the low bits would become inf if the
  // conversion simply truncated.
  const float snan = std::bit_cast<float>(0x7F800001u);
  const float neg_nan = std::bit_cast<float>(0xFFC00000u);
  for (float x : {kNaN, snan, neg_nan}) {
    const std::uint32_t h = f32_to_f16_bits(x);
    EXPECT_EQ(h & 0x7E00u, 0x7E00u) << "f16 of " << show(x) << " is " << hex(h);
    EXPECT_EQ(h >> 15, std::bit_cast<std::uint32_t>(x) >> 31) << "f16 NaN keeps its sign";
    const std::uint32_t b = f32_to_bf16_bits(x);
    EXPECT_EQ(b & 0x7FC0u, 0x7FC0u) << "bf16 of " << show(x) << " is " << hex(b);
    EXPECT_EQ(b >> 15, std::bit_cast<std::uint32_t>(x) >> 31) << "bf16 NaN keeps its sign";
  }
  // Widening a NaN gives a quiet f32 NaN.
  for (float w : {f16_bits_to_f32(0x7C01), bf16_bits_to_f32(0x7F81), e4m3_bits_to_f32(0xFF),
                  e5m2_bits_to_f32(0x7D)}) {
    EXPECT_TRUE(std::isnan(w));
    EXPECT_TRUE(std::bit_cast<std::uint32_t>(w) & 0x00400000u) << show(w) << " is not quiet";
  }
}

// Every bit pattern decodes to the value the format's definition gives, and encodes back to
// itself; NaNs encode to a NaN and, in the saturating fp8 formats, inf encodes to max finite.
TEST(NarrowFloats, EveryBitPatternRoundTrips) {
  for (const Format& f : kFormats) {
    SCOPED_TRACE(f.name);
    const std::uint32_t sign = 1u << (f.bits - 1);
    int failures = 0, nans = 0;
    for (std::uint32_t code = 0; code < (1u << f.bits) && failures < 10; ++code) {
      const std::uint32_t mag = code & ~sign;
      const bool negative = (code & sign) != 0;
      const float v = f.decode(code);
      const std::uint32_t back = f.encode(v);
      bool ok = false;
      if (mag <= f.max_code) {
        const auto want = static_cast<float>(code_value(f, mag));
        ok = same_float(v, negative ? -want : want) && back == code;
      } else if (mag == f.max_code + 1 && f.has_inf) {
        const std::uint32_t want_back = f.saturates ? (code & sign) | f.max_code : code;
        ok = std::isinf(v) && std::signbit(v) == negative && back == want_back;
      } else {
        ++nans;
        ok = std::isnan(v) && std::isnan(f.decode(back));
      }
      if (!ok) {
        ++failures;
        ADD_FAILURE() << "code " << hex(code) << " decodes to " << show(v) << " and encodes to "
                      << hex(back);
      }
    }
    EXPECT_EQ(failures, 0);
    // 2 * (2^mant - 1) NaNs with inf, 2 without (E4M3FN's 0x7F and 0xFF).
    EXPECT_EQ(nans, f.has_inf ? 2 * ((1 << f.mant) - 1) : 2);
  }
}

// Narrowing agrees with the table reference at every midpoint between neighbouring values
// (both signs, and one f32 ulp either side) and at random f32 values around the format's range.
TEST(NarrowFloats, RoundingMatchesNearestTableValue) {
  std::mt19937 rng(20240611);
  for (const Format& f : kFormats) {
    SCOPED_TRACE(f.name);
    const std::vector<double> table = value_table(f);
    std::vector<float> inputs;
    for (std::size_t k = 0; k + 1 < table.size(); ++k) {
      const auto mid = static_cast<float>((table[k] + table[k + 1]) / 2);
      ASSERT_EQ(static_cast<double>(mid), (table[k] + table[k + 1]) / 2) << "midpoint not exact";
      for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, kInf)}) {
        inputs.push_back(x);
        inputs.push_back(-x);
      }
    }
    const int lo_exp = std::max(0, 127 + 1 - f.bias - f.mant - 3);
    const int hi_exp = std::min(254, 127 + static_cast<int>(f.max_code >> f.mant) - f.bias + 2);
    std::uniform_int_distribution<int> exp(lo_exp, hi_exp);
    std::uniform_int_distribution<std::uint32_t> any;
    for (int k = 0; k < 60000; ++k) {
      const std::uint32_t r = any(rng);
      const auto e = static_cast<std::uint32_t>(exp(rng));
      inputs.push_back(std::bit_cast<float>((r & 0x807FFFFFu) | (e << 23)));
      const float wild = std::bit_cast<float>(any(rng));
      if (!std::isnan(wild)) inputs.push_back(wild);
    }
    inputs.push_back(kInf);
    inputs.push_back(-kInf);

    std::size_t failures = 0;
    for (float x : inputs) {
      const std::uint32_t want = reference_encode(f, table, x), got = f.encode(x);
      if (want != got && ++failures <= 10) {
        ADD_FAILURE() << show(x) << ": expected " << hex(want) << ", got " << hex(got);
      }
    }
    EXPECT_EQ(failures, 0u) << "of " << inputs.size() << " inputs";
  }
}

TEST(NarrowFloats, RoundTo) {
  EXPECT_EQ(round_to(DType::F32, 1 + 0x1p-23f), 1 + 0x1p-23f);
  EXPECT_TRUE(std::isnan(round_to(DType::F32, kNaN)));
  EXPECT_EQ(round_to(DType::F16, 1 + 0x1p-11f), 1.0f);
  EXPECT_EQ(round_to(DType::F16, 1 + 3 * 0x1p-11f), 1 + 0x1p-9f);
  EXPECT_EQ(round_to(DType::F16, 70000.0f), kInf);
  EXPECT_TRUE(std::signbit(round_to(DType::F16, -0x1p-30f)));
  EXPECT_EQ(round_to(DType::BF16, 1 + 3 * 0x1p-8f), 1 + 0x1p-6f);
  EXPECT_EQ(round_to(DType::BF16, 3.14159265f), 3.140625f);
  EXPECT_EQ(round_to(DType::F8E4M3, 1000.0f), 448.0f);
  EXPECT_EQ(round_to(DType::F8E4M3, -kInf), -448.0f);
  EXPECT_EQ(round_to(DType::F8E4M3, 0.3f), 0.3125f);
  EXPECT_EQ(round_to(DType::F8E5M2, kInf), 57344.0f);
  EXPECT_EQ(round_to(DType::F8E5M2, 0.3f), 0.3125f);
  EXPECT_TRUE(std::isnan(round_to(DType::F8E5M2, kNaN)));
  for (DType t : {DType::I32, DType::U32, DType::I8, DType::U8, DType::Bool}) {
    EXPECT_THROW(round_to(t, 1.0f), InternalError) << name_of(t);
  }
}

}  // namespace
}  // namespace mt
