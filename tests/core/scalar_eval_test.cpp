// scalar_eval as an op x dtype table: every op it evaluates on every dtype the op accepts,
// against hand-computed values (wrap-around, shifts past the width, NaN, f16/bf16 rounding
// after each op); then Cast and Bitcast between every pair of types, normalise and the
// element bytes. A coverage test fails when an accepted (op, dtype) pair has no row.
#include "metaltile/core/scalar_eval.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt {
namespace {

using enum DType;
using enum OpKind;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kI32Min = -2147483648.0, kI32Max = 2147483647.0, kU32Max = 4294967295.0;

// A value of dtype t written as a double: floats live in .f, integers and bool in .i.
Scalar val(DType t, double v) {
  return is_float(t) ? Scalar::of_float(v) : Scalar::of_int(static_cast<std::int64_t>(v));
}

std::string show(DType t, Scalar s) {
  std::ostringstream o;
  if (is_float(t)) {
    o << s.f << " (" << std::hexfloat << s.f << ")";
  } else {
    o << s.i;
  }
  return o.str();
}

// Same value, same sign of zero, both NaN, or within `ulps` f32 ulps (for libm functions).
bool matches(DType t, Scalar got, Scalar want, int ulps = 0) {
  if (!is_float(t)) return got == want;
  if (got.i != 0) return false;
  if (std::isnan(got.f) || std::isnan(want.f)) return std::isnan(got.f) && std::isnan(want.f);
  if (got.f == want.f) return std::signbit(got.f) == std::signbit(want.f);
  const auto a = std::bit_cast<std::int32_t>(static_cast<float>(got.f));
  const auto b = std::bit_cast<std::int32_t>(static_cast<float>(want.f));
  return (a < 0) == (b < 0) && std::abs(static_cast<std::int64_t>(a) - b) <= ulps;
}

struct Row {
  OpKind op;
  DType t;                   // operand type (Select: of operands 1 and 2)
  std::vector<double> args;  // values of t (Select: the condition first, as 0/1)
  double want;               // a value of the result type: t, or bool for comparisons
  int ulps = 0;              // f32 results of libm functions may be 1 ulp off
};

std::vector<Row> unary_rows() {
  return {
      {Neg, F32, {1.5}, -1.5},
      {Neg, F32, {0.0}, -0.0},
      {Neg, F32, {kNaN}, kNaN},
      {Neg, F16, {2}, -2},
      {Neg, BF16, {-0.5}, 0.5},
      {Neg, I32, {5}, -5},
      {Neg, I32, {kI32Min}, kI32Min},
      {Neg, U32, {1}, kU32Max},
      {Neg, U32, {0}, 0},
      {Neg, I8, {-128}, -128},
      {Neg, I8, {127}, -127},
      {Neg, U8, {1}, 255},

      {Not, I32, {0}, -1},
      {Not, I32, {kI32Min}, kI32Max},
      {Not, U32, {0}, kU32Max},
      {Not, U32, {0x0F0F0F0F}, 0xF0F0F0F0},
      {Not, I8, {5}, -6},
      {Not, U8, {0x0F}, 0xF0},
      {Not, Bool, {1}, 0},
      {Not, Bool, {0}, 1},

      {Abs, F32, {-2.5}, 2.5},
      {Abs, F32, {-0.0}, 0.0},
      {Abs, F32, {-kInf}, kInf},
      {Abs, F16, {-65504}, 65504},
      {Abs, BF16, {-3}, 3},
      {Abs, I32, {-7}, 7},
      {Abs, I32, {kI32Min}, kI32Min},
      {Abs, U32, {4e9}, 4e9},
      {Abs, I8, {-128}, -128},
      {Abs, I8, {-5}, 5},
      {Abs, U8, {200}, 200},

      {Floor, F32, {1.5}, 1},
      {Floor, F32, {-1.5}, -2},
      {Floor, F32, {-0.0}, -0.0},
      {Floor, F16, {-0.5}, -1},
      {Floor, BF16, {2.75}, 2},
      {Ceil, F32, {1.25}, 2},
      {Ceil, F32, {-1.5}, -1},
      {Ceil, F32, {-0.5}, -0.0},
      {Ceil, F16, {2.5}, 3},
      {Ceil, BF16, {-2.75}, -2},
      // Round is half away from zero, not to even.
      {Round, F32, {2.5}, 3},
      {Round, F32, {-2.5}, -3},
      {Round, F32, {0.5}, 1},
      {Round, F32, {0x1.7FFFFEp0}, 1},
      {Round, F32, {-0.25}, -0.0},
      {Round, F16, {2.5}, 3},
      {Round, BF16, {-0.5}, -1},
      {Trunc, F32, {-1.75}, -1},
      {Trunc, F32, {2.75}, 2},
      {Trunc, F32, {-0.75}, -0.0},
      {Trunc, F16, {-1.75}, -1},
      {Trunc, BF16, {7.5}, 7},

      {Exp, F32, {0}, 1},
      {Exp, F32, {1}, 0x1.5BF0A8p1, 1},
      {Exp, F32, {-kInf}, 0},
      {Exp, F32, {kInf}, kInf},
      {Exp, F32, {kNaN}, kNaN},
      {Exp, F16, {1}, 2.71875},
      {Exp, F16, {-1}, 0.367919921875},
      {Exp, F16, {12}, kInf},
      {Exp, F16, {-20}, 0},
      {Exp, BF16, {1}, 2.71875},
      {Exp, BF16, {-1}, 0.3671875},
      {Exp2, F32, {3}, 8},
      {Exp2, F32, {-1}, 0.5},
      {Exp2, F32, {0.5}, 0x1.6A09E6p0, 1},
      {Exp2, F16, {10}, 1024},
      {Exp2, F16, {16}, kInf},
      {Exp2, F16, {-25}, 0},
      {Exp2, BF16, {-126}, 0x1p-126},
      {Exp2, BF16, {0.5}, 1.4140625},
      {Log, F32, {1}, 0},
      {Log, F32, {0}, -kInf},
      {Log, F32, {-1}, kNaN},
      {Log, F32, {kInf}, kInf},
      {Log, F32, {2}, 0x1.62E43p-1, 1},
      {Log, F16, {2}, 0.693359375},
      {Log, BF16, {2}, 0.69140625},
      {Log2, F32, {8}, 3},
      {Log2, F32, {0.25}, -2},
      {Log2, F32, {-0.0}, -kInf},
      {Log2, F16, {1024}, 10},
      {Log2, F16, {3}, 1.5849609375},
      {Log2, BF16, {0.125}, -3},
      {Log2, BF16, {3}, 1.5859375},
      {Sqrt, F32, {4}, 2},
      {Sqrt, F32, {2}, 0x1.6A09E6p0},
      {Sqrt, F32, {-1}, kNaN},
      {Sqrt, F32, {-0.0}, -0.0},
      {Sqrt, F32, {kInf}, kInf},
      {Sqrt, F16, {2}, 1.4140625},
      {Sqrt, F16, {0x1p-24}, 0x1p-12},
      {Sqrt, BF16, {2}, 1.4140625},
      {Rsqrt, F32, {4}, 0.5},
      {Rsqrt, F32, {0}, kInf},
      {Rsqrt, F32, {-0.0}, -kInf},
      {Rsqrt, F32, {kInf}, 0},
      {Rsqrt, F32, {-4}, kNaN},
      {Rsqrt, F32, {2}, 0x1.6A09E6p-1},
      {Rsqrt, F16, {2}, 0.70703125},
      {Rsqrt, BF16, {2}, 0.70703125},
      {Sin, F32, {0}, 0},
      {Sin, F32, {-0.0}, -0.0},
      {Sin, F32, {kInf}, kNaN},
      {Sin, F32, {1}, 0x1.AED548p-1, 1},
      {Sin, F16, {1}, 0.84130859375},
      {Sin, BF16, {1}, 0.83984375},
      {Cos, F32, {0}, 1},
      {Cos, F32, {kInf}, kNaN},
      {Cos, F32, {1}, 0x1.14A28p-1, 1},
      {Cos, F16, {1}, 0.54052734375},
      {Cos, BF16, {1}, 0.5390625},
      {Tanh, F32, {0}, 0},
      {Tanh, F32, {20}, 1},
      {Tanh, F32, {-20}, -1},
      {Tanh, F32, {kInf}, 1},
      {Tanh, F32, {kNaN}, kNaN},
      {Tanh, F16, {0.5}, 0.462158203125},
      {Tanh, BF16, {0.5}, 0.462890625},
      // Tan, Expm1 and Log1p are libm's (accurate near 0 where exp(x) - 1 would cancel);
      // RoundEven rounds halves to even; GeluTanh is x / (1 + exp(-2z)), the tanh form.
      {Tan, F32, {0.5}, 0x1.17b4f6p-1, 1},
      {Tan, F32, {0}, 0},
      {Tan, F32, {-0.0}, -0.0},
      {Tan, F32, {kInf}, kNaN},
      {Tan, F16, {0.5}, 0.54638671875},
      {Tan, BF16, {0.5}, 0.546875},
      {Expm1, F32, {0x1p-10}, 0x1.002002p-10, 1},
      {Expm1, F32, {-kInf}, -1},
      {Expm1, F32, {-0.0}, -0.0},
      {Expm1, F32, {kNaN}, kNaN},
      {Expm1, F16, {0x1p-10}, 0.0009775161743164062},
      {Expm1, BF16, {0x1p-10}, 0.0009765625},
      {Log1p, F32, {0x1p-10}, 0x1.ffc00ap-11, 1},
      {Log1p, F32, {-1}, -kInf},
      {Log1p, F32, {-2}, kNaN},
      {Log1p, F32, {-0.0}, -0.0},
      {Log1p, F16, {0x1p-10}, 0.0009760856628417969},
      {Log1p, BF16, {0x1p-10}, 0.0009765625},
      {RoundEven, F32, {2.5}, 2},
      {RoundEven, F32, {3.5}, 4},
      {RoundEven, F32, {-0.5}, -0.0},
      {RoundEven, F32, {0.5}, 0},
      {RoundEven, F32, {-2.7}, -3},
      {RoundEven, F32, {kInf}, kInf},
      {RoundEven, F32, {kNaN}, kNaN},
      {RoundEven, F16, {2.5}, 2},
      {RoundEven, BF16, {-1.5}, -2},
      {GeluTanh, F32, {1}, 0x1.aeb0b8p-1, 2},
      {GeluTanh, F32, {-1}, -0x1.453d2p-3, 2},
      {GeluTanh, F32, {0}, 0},
      {GeluTanh, F32, {-200}, -0.0},
      {GeluTanh, F32, {kInf}, kInf},
      {GeluTanh, F32, {kNaN}, kNaN},
      {GeluTanh, F16, {1}, 0.84130859375},
      {GeluTanh, BF16, {-1}, -0.1591796875},
      {Erf, F32, {0}, 0},
      {Erf, F32, {kInf}, 1},
      {Erf, F32, {-kInf}, -1},
      {Erf, F32, {1}, 0x1.AF767Ap-1, 1},
      {Erf, F16, {1}, 0.8427734375},
      {Erf, BF16, {1}, 0.84375},
      // Sigmoid = 1 / (1 + exp(-x)); Silu = x * sigmoid(x); Gelu = x/2 * (1 + erf(x / sqrt 2)).
      {Sigmoid, F32, {0}, 0.5},
      {Sigmoid, F32, {-kInf}, 0},
      {Sigmoid, F32, {kInf}, 1},
      {Sigmoid, F32, {-100}, 0},
      {Sigmoid, F32, {kNaN}, kNaN},
      {Sigmoid, F16, {1}, 0.73095703125},
      {Sigmoid, BF16, {1}, 0.73046875},
      {Silu, F32, {0}, 0},
      {Silu, F32, {kInf}, kInf},
      {Silu, F32, {2}, 0x1.C2F7D6p0, 1},
      {Silu, F16, {1}, 0.73095703125},
      {Silu, F16, {-1}, -0.26904296875},
      {Silu, BF16, {1}, 0.73046875},
      {Silu, BF16, {-1}, -0.26953125},
      {Gelu, F32, {0}, 0},
      {Gelu, F32, {kInf}, kInf},
      {Gelu, F32, {1}, 0x1.AEC4BEp-1, 1},
      {Gelu, F16, {1}, 0.84130859375},
      {Gelu, F16, {-1}, -0.15869140625},
      {Gelu, BF16, {1}, 0.83984375},
      {Gelu, BF16, {-1}, -0.158203125},
  };
}

std::vector<Row> binary_rows() {
  return {
      // Floats round to the result type after each op: ties go to even, both ways.
      {Add, F32, {1, 0x1p-24}, 1},
      {Add, F32, {1, 3 * 0x1p-24}, 1 + 0x1p-22},
      {Add, F32, {kInf, -kInf}, kNaN},
      {Add, F32, {-0.0, -0.0}, -0.0},
      {Add, F32, {-0.0, 0.0}, 0.0},
      {Add, F16, {1, 0x1p-11}, 1},
      {Add, F16, {1, 3 * 0x1p-11}, 1 + 0x1p-9},
      {Add, F16, {65504, 16}, kInf},
      {Add, F16, {65504, 8}, 65504},
      {Add, F16, {0x1p-24, 0x1p-24}, 0x1p-23},
      {Add, BF16, {1, 0x1p-8}, 1},
      {Add, BF16, {1, 3 * 0x1p-8}, 1 + 0x1p-6},
      {Add, BF16, {256, 1}, 256},
      {Add, I32, {kI32Max, 1}, kI32Min},
      {Add, I32, {-1, -1}, -2},
      {Add, I32, {kI32Min, kI32Min}, 0},
      {Add, U32, {kU32Max, 1}, 0},
      {Add, U32, {kU32Max, kU32Max}, kU32Max - 1},
      {Add, I8, {127, 1}, -128},
      {Add, I8, {-128, -1}, 127},
      {Add, U8, {255, 2}, 1},
      {Add, U8, {200, 100}, 44},

      {Sub, F32, {-0.0, 0.0}, -0.0},
      {Sub, F32, {0.0, 0.0}, 0.0},
      {Sub, F32, {kInf, kInf}, kNaN},
      {Sub, F32, {1, 0x1p-25}, 1},
      {Sub, F16, {1, 0x1p-12}, 1},
      {Sub, F16, {1, 3 * 0x1p-12}, 1 - 0x1p-10},
      {Sub, BF16, {1, 0x1p-9}, 1},
      {Sub, BF16, {-1, 0x1p-8}, -1},
      {Sub, I32, {kI32Min, 1}, kI32Max},
      {Sub, I32, {0, kI32Min}, kI32Min},
      {Sub, U32, {0, 1}, kU32Max},
      {Sub, U32, {5, 7}, kU32Max - 1},
      {Sub, I8, {-128, 1}, 127},
      {Sub, U8, {0, 1}, 255},
      {Sub, U8, {3, 10}, 249},

      {Mul, F32, {0, kInf}, kNaN},
      {Mul, F32, {-1, 0}, -0.0},
      {Mul, F32, {0x1p-100, 0x1p-100}, 0},
      {Mul, F32, {1 + 0x1p-23, 1 + 0x1p-23}, 1 + 0x1p-22},
      {Mul, F16, {256, 256}, kInf},
      {Mul, F16, {1 + 0x1p-10, 1 + 0x1p-10}, 1 + 0x1p-9},
      {Mul, F16, {0x1p-14, 0x1p-10}, 0x1p-24},
      {Mul, F16, {0x1p-14, 0x1p-11}, 0},
      {Mul, BF16, {1 + 0x1p-7, 1 + 0x1p-7}, 1 + 0x1p-6},
      {Mul, BF16, {0x1p100, 0x1p100}, kInf},
      {Mul, I32, {65536, 65536}, 0},
      {Mul, I32, {65537, 65537}, 131073},
      {Mul, I32, {kI32Min, -1}, kI32Min},
      {Mul, I32, {-3, 7}, -21},
      {Mul, U32, {kU32Max, kU32Max}, 1},
      {Mul, U32, {4e9, 2}, 3705032704},
      {Mul, I8, {16, 16}, 0},
      {Mul, I8, {-128, -1}, -128},
      {Mul, I8, {-3, 50}, 106},
      {Mul, U8, {16, 17}, 16},
      {Mul, U8, {255, 255}, 1},

      {Div, F32, {1, 0}, kInf},
      {Div, F32, {-1, 0}, -kInf},
      {Div, F32, {0, 0}, kNaN},
      {Div, F32, {1, -0.0}, -kInf},
      {Div, F32, {1, 3}, 0x1.555556p-2},
      {Div, F16, {1, 3}, 0.333251953125},
      {Div, F16, {1, 0}, kInf},
      {Div, F16, {65504, 0.5}, kInf},
      {Div, BF16, {1, 3}, 0.333984375},
      {Div, I32, {7, 2}, 3},
      {Div, I32, {-7, 2}, -3},
      {Div, I32, {7, -2}, -3},
      {Div, I32, {kI32Min, -1}, kI32Min},
      {Div, I32, {kI32Min, 2}, -1073741824},
      {Div, U32, {kU32Max, 2}, 2147483647},
      {Div, U32, {7, 8}, 0},
      {Div, I8, {-128, -1}, -128},
      {Div, I8, {-7, 2}, -3},
      {Div, U8, {255, 16}, 15},

      {Rem, F32, {5.5, 2}, 1.5},
      {Rem, F32, {-5.5, 2}, -1.5},
      {Rem, F32, {5.5, -2}, 1.5},
      {Rem, F32, {1, 0}, kNaN},
      {Rem, F32, {kInf, 1}, kNaN},
      // Pow and Atan2 are C's powf and atan2f, special cases included.
      {Pow, F32, {2, 0.5}, 0x1.6a09e6p+0, 1},
      {Pow, F32, {-2, 0.5}, kNaN},
      {Pow, F32, {-2, 3}, -8},
      {Pow, F32, {kNaN, 0}, 1},
      {Pow, F32, {1, kNaN}, 1},
      {Pow, F32, {0, -1}, kInf},
      {Pow, F16, {3, 2.5}, 15.5859375},
      {Pow, BF16, {3, 2.5}, 15.5625},
      {Atan2, F32, {1, 2}, 0x1.dac67p-2, 1},
      {Atan2, F32, {0, -0.0}, 0x1.921fb6p+1},
      {Atan2, F32, {-0.0, -1}, -0x1.921fb6p+1},
      {Atan2, F32, {0, 0}, 0},
      {Atan2, F32, {kNaN, 1}, kNaN},
      {Atan2, F16, {1, 2}, 0.463623046875},
      {Atan2, BF16, {1, 2}, 0.462890625},
      {Rem, F32, {1, kInf}, 1},
      {Rem, F32, {-0.0, 1}, -0.0},
      {Rem, F16, {7, 2.5}, 2},
      {Rem, F16, {-7, 2.5}, -2},
      {Rem, BF16, {10, 3}, 1},
      {Rem, I32, {7, 3}, 1},
      {Rem, I32, {-7, 3}, -1},
      {Rem, I32, {7, -3}, 1},
      {Rem, I32, {kI32Min, -1}, 0},
      {Rem, I32, {kI32Min, 3}, -2},
      {Rem, U32, {kU32Max, 10}, 5},
      {Rem, I8, {-128, -1}, 0},
      {Rem, I8, {-7, 3}, -1},
      {Rem, U8, {250, 7}, 5},

      // Float Min/Max return the operand that is not NaN.
      {Min, F32, {kNaN, 1}, 1},
      {Min, F32, {1, kNaN}, 1},
      {Min, F32, {kNaN, kNaN}, kNaN},
      {Min, F32, {-1, 2}, -1},
      {Min, F32, {-kInf, 1}, -kInf},
      {Min, F16, {kNaN, -3}, -3},
      {Min, F16, {0.5, 0.25}, 0.25},
      {Min, BF16, {-2, 3}, -2},
      {Min, BF16, {kNaN, 1}, 1},
      {Min, I32, {-5, 3}, -5},
      {Min, U32, {4e9, 5}, 5},
      {Min, I8, {-128, 127}, -128},
      {Min, U8, {255, 0}, 0},
      {Max, F32, {kNaN, 2}, 2},
      {Max, F32, {2, kNaN}, 2},
      {Max, F32, {-1, 2}, 2},
      {Max, F32, {kNaN, kNaN}, kNaN},
      {Max, F16, {65504, -kInf}, 65504},
      {Max, F16, {kNaN, 1}, 1},
      {Max, BF16, {kNaN, 1}, 1},
      {Max, I32, {kI32Min, kI32Max}, kI32Max},
      {Max, U32, {4e9, 5}, 4e9},
      {Max, I8, {-1, -2}, -1},
      {Max, U8, {200, 100}, 200},

      {And, I32, {0xF0F0, 0x0FF0}, 0x00F0},
      {And, I32, {-1, 5}, 5},
      {And, U32, {0xFFFF0000, 0x00FFFF00}, 0x00FF0000},
      {And, I8, {-128, -1}, -128},
      {And, U8, {0xF0, 0x3C}, 0x30},
      {Or, I32, {kI32Min, 1}, kI32Min + 1},
      {Or, U32, {0xFFFF0000, 0xFFFF}, kU32Max},
      {Or, I8, {64, 1}, 65},
      {Or, I8, {-128, 127}, -1},
      {Or, U8, {0x80, 0x01}, 0x81},
      {Xor, I32, {-1, 1}, -2},
      {Xor, U32, {kU32Max, 1}, kU32Max - 1},
      {Xor, I8, {-1, 1}, -2},
      {Xor, U8, {0xF0, 0xFF}, 0x0F},
      // On bool the bitwise ops are the logical ones.
      {And, Bool, {0, 0}, 0},
      {And, Bool, {0, 1}, 0},
      {And, Bool, {1, 0}, 0},
      {And, Bool, {1, 1}, 1},
      {Or, Bool, {0, 0}, 0},
      {Or, Bool, {0, 1}, 1},
      {Or, Bool, {1, 0}, 1},
      {Or, Bool, {1, 1}, 1},
      {Xor, Bool, {0, 0}, 0},
      {Xor, Bool, {0, 1}, 1},
      {Xor, Bool, {1, 0}, 1},
      {Xor, Bool, {1, 1}, 0},

      // Shift amounts are taken modulo the bit width (a negative amount by its bit pattern).
      {Shl, I32, {1, 31}, kI32Min},
      {Shl, I32, {1, 32}, 1},
      {Shl, I32, {1, 33}, 2},
      {Shl, I32, {3, -1}, kI32Min},
      {Shl, I32, {-1, 4}, -16},
      {Shl, U32, {kU32Max, 4}, 0xFFFFFFF0},
      {Shl, U32, {1, 35}, 8},
      {Shl, U32, {1, 31}, 2147483648.0},
      {Shl, I8, {1, 7}, -128},
      {Shl, I8, {1, 8}, 1},
      {Shl, I8, {1, 9}, 2},
      {Shl, I8, {-1, 7}, -128},
      {Shl, I8, {3, -1}, -128},
      {Shl, U8, {0xFF, 1}, 0xFE},
      {Shl, U8, {1, 10}, 4},
      {Shl, U8, {1, 8}, 1},
      // Shr is arithmetic on signed types, logical on unsigned ones.
      {Shr, I32, {-8, 1}, -4},
      {Shr, I32, {-1, 31}, -1},
      {Shr, I32, {kI32Min, 32}, kI32Min},
      {Shr, I32, {16, 33}, 8},
      {Shr, I32, {kI32Min, 31}, -1},
      {Shr, I32, {kI32Min, -1}, -1},
      {Shr, U32, {2147483648.0, 31}, 1},
      {Shr, U32, {kU32Max, 36}, 0x0FFFFFFF},
      {Shr, U32, {kU32Max, 32}, kU32Max},
      {Shr, I8, {-128, 7}, -1},
      {Shr, I8, {-128, 8}, -128},
      {Shr, I8, {-128, 1}, -64},
      {Shr, I8, {64, 9}, 32},
      {Shr, U8, {0x80, 7}, 1},
      {Shr, U8, {0x80, 9}, 0x40},
      {Shr, U8, {0xFF, 8}, 0xFF},
  };
}

// Comparisons, generated from the relation of each pair: an IEEE unordered pair (NaN) makes
// every comparison false except Ne. Bool has only Eq and Ne.
std::vector<Row> comparison_rows() {
  enum Rel { Less, Equal, Greater, Unordered };
  struct Pair {
    DType t;
    double a, b;
    Rel rel;
  };
  const Pair pairs[] = {
      {F32, 1, 2, Less},          {F32, 2, 2, Equal},          {F32, 2, 1, Greater},
      {F32, -0.0, 0.0, Equal},    {F32, -kInf, kInf, Less},    {F32, kInf, kInf, Equal},
      {F32, kNaN, 1, Unordered},  {F32, 1, kNaN, Unordered},   {F32, kNaN, kNaN, Unordered},
      {F16, 65504, kInf, Less},   {F16, -1, -2, Greater},      {F16, kNaN, 0, Unordered},
      {F16, 0x1p-24, 0, Greater}, {BF16, 1, 1 + 0x1p-7, Less}, {BF16, kNaN, kNaN, Unordered},
      {BF16, -0.0, 0, Equal},     {I32, -1, 0, Less},          {I32, kI32Min, kI32Max, Less},
      {I32, 5, 5, Equal},         {I32, 7, -7, Greater},       {U32, 4e9, 5, Greater},
      {U32, 0, kU32Max, Less},    {U32, 9, 9, Equal},          {I8, -128, 127, Less},
      {I8, -1, -1, Equal},        {I8, 0, -1, Greater},        {U8, 255, 0, Greater},
      {U8, 128, 127, Greater},    {U8, 3, 3, Equal},           {Bool, 0, 1, Less},
      {Bool, 1, 1, Equal},        {Bool, 0, 0, Equal},         {Bool, 1, 0, Greater},
  };
  std::vector<Row> rows;
  for (const Pair& p : pairs) {
    const bool lt = p.rel == Less, eq = p.rel == Equal, gt = p.rel == Greater;
    rows.push_back({Eq, p.t, {p.a, p.b}, eq ? 1.0 : 0.0});
    rows.push_back({Ne, p.t, {p.a, p.b}, eq ? 0.0 : 1.0});
    if (p.t == Bool) continue;
    rows.push_back({Lt, p.t, {p.a, p.b}, lt ? 1.0 : 0.0});
    rows.push_back({Le, p.t, {p.a, p.b}, lt || eq ? 1.0 : 0.0});
    rows.push_back({Gt, p.t, {p.a, p.b}, gt ? 1.0 : 0.0});
    rows.push_back({Ge, p.t, {p.a, p.b}, gt || eq ? 1.0 : 0.0});
  }
  return rows;
}

std::vector<Row> select_rows() {
  const std::pair<DType, std::pair<double, double>> values[] = {
      {F32, {kNaN, -0.0}},   {F16, {65504, -kInf}},    {BF16, {0x1p-133, 3}}, {I32, {kI32Min, 7}},
      {U32, {kU32Max, 0}},   {I8, {-128, 1}},          {U8, {255, 0}},        {Bool, {1, 0}},
      {F8E4M3, {448, -0.0}}, {F8E5M2, {kInf, 0x1p-16}}};
  std::vector<Row> rows;
  for (const auto& [t, ab] : values) {
    rows.push_back({Select, t, {1, ab.first, ab.second}, ab.first});
    rows.push_back({Select, t, {0, ab.first, ab.second}, ab.second});
  }
  return rows;
}

// fma rounds a * b + c once in f32, then to the narrow type. The f32 rows are exact where a
// multiply then an add would round twice: (1 + 2^-12)^2 - (1 + 2^-11) is 2^-24, which the
// product rounded to f32 loses.
std::vector<Row> fma_rows() {
  const double a = 1.0 + 0x1p-12;
  return {
      {Fma, F32, {a, a, -(1.0 + 0x1p-11)}, 0x1p-24},
      {Fma, F32, {2, 3, 4}, 10},
      {Fma, F32, {-0.0, 1, -0.0}, -0.0},
      {Fma, F32, {kInf, 0, 1}, kNaN},
      {Fma, F32, {kNaN, 1, 1}, kNaN},
      {Fma, F32, {0x1p127, 4, -kInf}, -kInf},
      // f16: 1 + 2^-10 squared minus 1 is 2^-9 + 2^-20 in f32, which rounds to 2^-9 in f16.
      {Fma, F16, {1.0 + 0x1p-10, 1.0 + 0x1p-10, -1}, 0x1p-9},
      {Fma, F16, {256, 256, 0}, kInf},
      {Fma, BF16, {1.0 + 0x1p-7, 1.0 + 0x1p-7, -1}, 0x1p-6},
      {Fma, BF16, {3, 0.5, -1.5}, 0},
  };
}

std::vector<Row> all_rows() {
  std::vector<Row> rows;
  for (auto* table : {unary_rows, binary_rows, comparison_rows, select_rows, fma_rows}) {
    for (Row& r : table()) rows.push_back(std::move(r));
  }
  return rows;
}

TEST(ScalarEval, OpByDTypeTable) {
  int checked = 0;
  for (const Row& r : all_rows()) {
    const DType result = is_comparison(r.op) ? Bool : r.t;
    std::vector<Scalar> args;
    std::ostringstream call;
    call << op_name(r.op) << "." << name_of(r.t) << "(";
    for (std::size_t k = 0; k < r.args.size(); ++k) {
      const DType at = r.op == Select && k == 0 ? Bool : r.t;
      args.push_back(val(at, r.args[k]));
      call << (k ? ", " : "") << show(at, args.back());
      // A typo in the table shows up here: every input must already be a value of its type.
      ASSERT_TRUE(matches(at, normalise(args.back(), at), args.back())) << call.str();
    }
    call << ")";
    const Scalar want = val(result, r.want);
    const Scalar got = scalar_eval(r.op, result, r.t, args);
    EXPECT_TRUE(matches(result, got, want, r.ulps))
        << call.str() << ": expected " << show(result, want) << ", got " << show(result, got);
    ++checked;
  }
  EXPECT_GT(checked, 400);
}

TEST(ScalarEval, IntegerDivisionByZeroThrows) {
  for (DType t : {I32, U32, I8, U8}) {
    for (OpKind op : {Div, Rem}) {
      const Scalar args[] = {val(t, 7), val(t, 0)};
      try {
        scalar_eval(op, t, t, args);
        ADD_FAILURE() << op_name(op) << "." << name_of(t) << " by zero did not throw";
      } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "division by zero");
      }
    }
  }
}

TEST(ScalarEval, RejectsWhatTheIRCannotContain) {
  const Scalar one[] = {val(F32, 1)};
  const Scalar two_f[] = {val(F32, 1), val(F32, 2)};
  const Scalar two_i[] = {val(I32, 1), val(I32, 2)};
  const Scalar two_b[] = {val(Bool, 1), val(Bool, 0)};
  const Scalar two_e4[] = {val(F8E4M3, 1), val(F8E4M3, 2)};
  const Scalar one_i[] = {val(I32, 1)};
  EXPECT_THROW(scalar_eval(Exp, I32, I32, one_i), InternalError);         // math on an integer
  EXPECT_THROW(scalar_eval(Shl, F32, F32, two_f), InternalError);         // shift on a float
  EXPECT_THROW(scalar_eval(Not, F32, F32, one), InternalError);           // bitwise on a float
  EXPECT_THROW(scalar_eval(Add, Bool, Bool, two_b), InternalError);       // arithmetic on bool
  EXPECT_THROW(scalar_eval(Lt, Bool, Bool, two_b), InternalError);        // order on bool
  EXPECT_THROW(scalar_eval(Add, F8E4M3, F8E4M3, two_e4), InternalError);  // fp8 is storage
  EXPECT_THROW(scalar_eval(Add, F16, F32, two_f), InternalError);         // wrong result type
  EXPECT_THROW(scalar_eval(Eq, I32, I32, two_i), InternalError);          // comparisons give bool
  EXPECT_THROW(scalar_eval(Add, F32, F32, one), InternalError);           // wrong arity
  EXPECT_THROW(scalar_eval(Load, F32, F32, one), InternalError);          // not a scalar op
  EXPECT_THROW(scalar_eval(Bitcast, F16, F32, one), InternalError);       // sizes differ
}

// Cast: each row is one source value and its conversion to every type, in kAllDTypes order
// (f32 f16 bf16 i32 u32 i8 u8 bool f8e4m3 f8e5m2). Float -> int truncates and saturates
// (NaN -> 0); int -> int wraps; int -> float rounds through f32; narrowing floats round to
// nearest even and fp8 saturates; -> bool is != 0; bool -> number is 0 or 1.
struct CastRow {
  DType from;
  double v;
  double to[10];
};

const CastRow kCastRows[] = {
    {F32, 2.75, {2.75, 2.75, 2.75, 2, 2, 2, 2, 1, 2.75, 3}},
    {F32, -1.5, {-1.5, -1.5, -1.5, -1, 0, -1, 0, 1, -1.5, -1.5}},
    {F32, 3e9, {3e9, kInf, 3003121664.0, kI32Max, 3e9, 127, 255, 1, 448, 57344}},
    {F32, kNaN, {kNaN, kNaN, kNaN, 0, 0, 0, 0, 1, kNaN, kNaN}},
    {F32, -kInf, {-kInf, -kInf, -kInf, kI32Min, 0, -128, 0, 1, -448, -57344}},
    {F32, 0x1p-20, {0x1p-20, 0x1p-20, 0x1p-20, 0, 0, 0, 0, 1, 0, 0}},
    {F32, -0.0, {-0.0, -0.0, -0.0, 0, 0, 0, 0, 0, -0.0, -0.0}},
    {F32, 65520, {65520, kInf, 65536, 65520, 65520, 127, 255, 1, 448, 57344}},
    {F32, 300.5, {300.5, 300.5, 300, 300, 300, 127, 255, 1, 288, 320}},
    {F32, -128.75, {-128.75, -128.75, -129, -128, 0, -128, 0, 1, -128, -128}},
    {F16, 65504, {65504, 65504, 65536, 65504, 65504, 127, 255, 1, 448, 57344}},
    {F16, -2.5, {-2.5, -2.5, -2.5, -2, 0, -2, 0, 1, -2.5, -2.5}},
    {F16, 0x1p-24, {0x1p-24, 0x1p-24, 0x1p-24, 0, 0, 0, 0, 1, 0, 0}},
    {F16, kInf, {kInf, kInf, kInf, kI32Max, kU32Max, 127, 255, 1, 448, 57344}},
    {F16, kNaN, {kNaN, kNaN, kNaN, 0, 0, 0, 0, 1, kNaN, kNaN}},
    {BF16, 0x1p100, {0x1p100, kInf, 0x1p100, kI32Max, kU32Max, 127, 255, 1, 448, 57344}},
    {BF16, -3, {-3, -3, -3, -3, 0, -3, 0, 1, -3, -3}},
    {BF16, 1.0078125, {1.0078125, 1.0078125, 1.0078125, 1, 1, 1, 1, 1, 1, 1}},
    {BF16, -0.0, {-0.0, -0.0, -0.0, 0, 0, 0, 0, 0, -0.0, -0.0}},
    {I32, -1, {-1, -1, -1, -1, kU32Max, -1, 255, 1, -1, -1}},
    {I32, 16777217, {16777216, kInf, 16777216, 16777217, 16777217, 1, 1, 1, 448, 57344}},
    {I32, kI32Max, {2147483648.0, kInf, 2147483648.0, kI32Max, kI32Max, -1, 255, 1, 448, 57344}},
    {I32, kI32Min, {kI32Min, -kInf, kI32Min, kI32Min, 2147483648.0, 0, 0, 1, -448, -57344}},
    {I32, 0, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {I32, 2049, {2049, 2048, 2048, 2049, 2049, 1, 1, 1, 448, 2048}},
    {I32, 300, {300, 300, 300, 300, 300, 44, 44, 1, 288, 320}},
    // 2^24 + 2^16 + 1 rounds to the f32 tie 2^24 + 2^16 first, which bf16 takes down to even
    // (rounding the integer straight to bf16 would go up).
    {I32, 16842753, {16842752, kInf, 16777216, 16842753, 16842753, 1, 1, 1, 448, 57344}},
    {U32, kU32Max, {4294967296.0, kInf, 4294967296.0, -1, kU32Max, -1, 255, 1, 448, 57344}},
    {U32, 0x1p31, {0x1p31, kInf, 0x1p31, kI32Min, 0x1p31, 0, 0, 1, 448, 57344}},
    {U32, 65519, {65519, 65504, 65536, 65519, 65519, -17, 239, 1, 448, 57344}},
    {U32, 0, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {I8, -128, {-128, -128, -128, -128, 4294967168.0, -128, 128, 1, -128, -128}},
    {I8, 127, {127, 127, 127, 127, 127, 127, 127, 1, 128, 128}},
    {I8, -3, {-3, -3, -3, -3, 4294967293.0, -3, 253, 1, -3, -3}},
    {I8, 0, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {U8, 255, {255, 255, 255, 255, 255, -1, 255, 1, 256, 256}},
    {U8, 17, {17, 17, 17, 17, 17, 17, 17, 1, 16, 16}},
    {U8, 19, {19, 19, 19, 19, 19, 19, 19, 1, 20, 20}},
    {U8, 0, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {Bool, 1, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
    {Bool, 0, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {F8E4M3, 448, {448, 448, 448, 448, 448, 127, 255, 1, 448, 448}},
    {F8E4M3, -0.9375, {-0.9375, -0.9375, -0.9375, 0, 0, 0, 0, 1, -0.9375, -1}},
    {F8E4M3, 0x1p-9, {0x1p-9, 0x1p-9, 0x1p-9, 0, 0, 0, 0, 1, 0x1p-9, 0x1p-9}},
    {F8E4M3, kNaN, {kNaN, kNaN, kNaN, 0, 0, 0, 0, 1, kNaN, kNaN}},
    {F8E5M2, 57344, {57344, 57344, 57344, 57344, 57344, 127, 255, 1, 448, 57344}},
    {F8E5M2, kInf, {kInf, kInf, kInf, kI32Max, kU32Max, 127, 255, 1, 448, kInf}},
    {F8E5M2, -0x1p-16, {-0x1p-16, -0x1p-16, -0x1p-16, 0, 0, 0, 0, 1, -0.0, -0x1p-16}},
    {F8E5M2, kNaN, {kNaN, kNaN, kNaN, 0, 0, 0, 0, 1, kNaN, kNaN}},
    {F8E5M2, 3, {3, 3, 3, 3, 3, 3, 3, 1, 3, 3}},
};

TEST(ScalarEval, CastBetweenEveryPairOfTypes) {
  for (const CastRow& r : kCastRows) {
    const Scalar v = val(r.from, r.v);
    ASSERT_TRUE(matches(r.from, normalise(v, r.from), v))
        << "source " << show(r.from, v) << " is not a " << name_of(r.from);
    for (std::size_t k = 0; k < std::size(kAllDTypes); ++k) {
      const DType to = kAllDTypes[k];
      const Scalar want = val(to, r.to[k]);
      const Scalar args[] = {v};
      const Scalar got = scalar_eval(Cast, to, r.from, args);
      EXPECT_TRUE(matches(to, got, want))
          << "cast " << name_of(r.from) << " " << show(r.from, v) << " to " << name_of(to)
          << ": expected " << show(to, want) << ", got " << show(to, got);
      EXPECT_TRUE(matches(to, convert(v, r.from, to), got)) << "convert disagrees with Cast";
    }
  }
}

// Bitcast: each row is one bit pattern and its value in every type of one size.
struct BitcastRow {
  std::vector<DType> types;
  std::uint32_t bits;
  std::vector<double> values;
};

std::vector<BitcastRow> bitcast_rows() {
  const std::vector<DType> w4 = {F32, I32, U32}, w2 = {F16, BF16};
  const std::vector<DType> w1 = {I8, U8, F8E4M3, F8E5M2};
  return {
      {w4, 0x3F800000, {1.0, 1065353216, 1065353216}},
      {w4, 0xFFFFFFFF, {kNaN, -1, kU32Max}},
      {w4, 0x80000000, {-0.0, kI32Min, 2147483648.0}},
      {w4, 0x7F800000, {kInf, 2139095040, 2139095040}},
      {w4, 0x00000001, {0x1p-149, 1, 1}},
      {w2, 0x3C00, {1.0, 0x1p-7}},
      {w2, 0x3F80, {1.875, 1.0}},
      {w2, 0x7C00, {kInf, 0x1p121}},
      {w2, 0x7F80, {kNaN, kInf}},
      {w2, 0x8001, {-0x1p-24, -0x1p-133}},
      {w1, 0x38, {56, 56, 1.0, 0.5}},
      {w1, 0xFF, {-1, 255, kNaN, kNaN}},
      {w1, 0x7C, {124, 124, 384, kInf}},
      {w1, 0x80, {-128, 128, -0.0, -0.0}},
      {w1, 0x01, {1, 1, 0x1p-9, 0x1p-16}},
      {w1, 0x7E, {126, 126, 448, kNaN}},
  };
}

TEST(ScalarEval, BitcastBetweenEveryPairOfSameSizeTypes) {
  for (const BitcastRow& r : bitcast_rows()) {
    for (std::size_t a = 0; a < r.types.size(); ++a) {
      const DType from = r.types[a];
      std::uint8_t bytes[4];
      for (int k = 0; k < 4; ++k) bytes[k] = static_cast<std::uint8_t>(r.bits >> (8 * k));
      // The source is the value a load of these bytes gives: a NaN's bits are its payload.
      const Scalar v = read_element(bytes, from);
      EXPECT_TRUE(matches(from, v, val(from, r.values[a])))
          << "bits 0x" << std::hex << r.bits << " read as " << name_of(from);
      for (std::size_t b = 0; b < r.types.size(); ++b) {
        const DType to = r.types[b];
        // A NaN's payload does not survive a Scalar (fp8 NaNs keep only their sign).
        if (std::isnan(r.values[a]) && from == F8E5M2 && r.bits != 0xFF) continue;
        const Scalar args[] = {v};
        const Scalar got = scalar_eval(Bitcast, to, from, args);
        EXPECT_TRUE(matches(to, got, val(to, r.values[b])))
            << "bitcast 0x" << std::hex << r.bits << " " << name_of(from) << " to " << name_of(to)
            << ": got " << show(to, got);
      }
    }
  }
}

TEST(ScalarEval, NormaliseWrapsIntegersAndRoundsFloatsOnce) {
  const std::pair<DType, std::pair<std::int64_t, std::int64_t>> ints[] = {
      {U8, {300, 44}},   {U32, {-1, 4294967295}}, {I32, {4294967295, -1}}, {I8, {128, -128}},
      {I8, {-129, 127}}, {Bool, {5, 1}},          {Bool, {0, 0}}};
  for (const auto& [t, io] : ints) {
    EXPECT_EQ(normalise(Scalar::of_int(io.first), t), Scalar::of_int(io.second))
        << name_of(t) << " " << io.first;
  }
  struct FloatCase {
    DType t;
    double in, out;
  };
  const FloatCase floats[] = {
      {F32, 0.1, static_cast<double>(0.1f)},
      {F16, 0.1, 0.0999755859375},
      {BF16, 0.1, 0.10009765625},
      {F32, 1e300, kInf},
      {F16, -1e300, -kInf},
      {F8E4M3, 1e300, 448},
      {F8E4M3, -kInf, -448},
      {F8E5M2, 1e300, 57344},
      {F8E5M2, -kInf, -kInf},  // inf is an E5M2 value
      {F16, kNaN, kNaN},
      {F8E4M3, kNaN, kNaN},
      // Rounded once from the double, not via a tie-making trip through f32.
      {F16, 1 + 0x1p-11 + 0x1p-40, 1 + 0x1p-10},
      {F16, 1 + 0x1p-11 - 0x1p-40, 1},
      {BF16, 1 + 0x1p-8 + 0x1p-40, 1 + 0x1p-7},
      {F8E4M3, 1 + 0x1p-4 + 0x1p-40, 1.125},
      {F8E5M2, -(1 + 0x1p-3 + 0x1p-40), -1.25},
      {F16, 0x1p-25 + 0x1p-60, 0x1p-24},
  };
  for (const FloatCase& c : floats) {
    const Scalar got = normalise(Scalar::of_float(c.in), c.t);
    EXPECT_TRUE(matches(c.t, got, Scalar::of_float(c.out)))
        << name_of(c.t) << " " << std::hexfloat << c.in << ": got " << got.f;
  }
  // The canonical form clears the field the type does not use.
  EXPECT_EQ(normalise(Scalar{1.5, 7}, F32), Scalar::of_float(1.5));
  EXPECT_EQ(normalise(Scalar{1.5, 7}, I32), Scalar::of_int(7));
}

// Found by the fuzzer: folding a bitcast to a negative fp8 NaN stored 0x7F where the
// unfolded kernel stores 0xFF. A literal keeps the NaN's sign, as read_element gives it.
TEST(ScalarEval, NormaliseKeepsTheSignOfAnFp8NaN) {
  for (DType t : {F8E4M3, F8E5M2}) {
    for (std::uint8_t code : {std::uint8_t{0x7F}, std::uint8_t{0xFF}}) {
      const Scalar v = normalise(read_element(&code, t), t);
      std::uint8_t stored = 0;
      write_element(&stored, t, v);
      EXPECT_EQ(stored, code) << name_of(t);
    }
  }
}

TEST(ScalarEval, ElementBytesAreLittleEndian) {
  struct Case {
    DType t;
    std::vector<std::uint8_t> bytes;
    double value;
  };
  const Case cases[] = {
      {F32, {0x00, 0x00, 0x80, 0x3F}, 1.0},
      {F32, {0x00, 0x00, 0xC0, 0xFF}, kNaN},
      {I32, {0xFE, 0xFF, 0xFF, 0xFF}, -2},
      {U32, {0x78, 0x56, 0x34, 0x12}, 0x12345678},
      {U32, {0xFF, 0xFF, 0xFF, 0xFF}, kU32Max},
      {F16, {0x00, 0x3C}, 1.0},
      {F16, {0x01, 0x80}, -0x1p-24},
      {BF16, {0x80, 0x3F}, 1.0},
      {BF16, {0x80, 0xFF}, -kInf},
      {I8, {0x80}, -128},
      {U8, {0x80}, 128},
      {Bool, {0x01}, 1},
      {Bool, {0x00}, 0},
      {F8E4M3, {0x7E}, 448},
      {F8E4M3, {0xFF}, kNaN},
      {F8E5M2, {0xFC}, -kInf},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(name_of(c.t)) + " " + show(c.t, val(c.t, c.value)));
    ASSERT_EQ(c.bytes.size(), size_of(c.t));
    EXPECT_TRUE(matches(c.t, read_element(c.bytes.data(), c.t), val(c.t, c.value)));
    std::vector<std::uint8_t> out(c.bytes.size() + 1, 0xA5);  // poisoned, one guard byte
    write_element(out.data(), c.t, read_element(c.bytes.data(), c.t));
    EXPECT_EQ(out.back(), 0xA5) << "wrote past the element";
    out.pop_back();
    EXPECT_EQ(out, c.bytes);
  }
  const std::uint8_t two = 2;
  EXPECT_EQ(read_element(&two, Bool), Scalar::of_int(1)) << "any non-zero byte is true";
}

// Every 1- and 2-byte pattern reads as a canonical value and writes back to itself; a NaN
// writes back as a NaN of the same sign.
TEST(ScalarEval, EveryNarrowElementPatternRoundTrips) {
  for (DType t : kAllDTypes) {
    if (size_of(t) > 2 || t == Bool) continue;
    SCOPED_TRACE(std::string(name_of(t)));
    int failures = 0;
    for (std::uint32_t bits = 0; bits < (1u << (8 * size_of(t))) && failures < 10; ++bits) {
      const std::uint8_t in[2] = {static_cast<std::uint8_t>(bits),
                                  static_cast<std::uint8_t>(bits >> 8)};
      const Scalar v = read_element(in, t);
      std::uint8_t out[2] = {0, 0};
      write_element(out, t, v);
      const bool nan = is_float(t) && std::isnan(v.f);
      const bool same = in[0] == out[0] && in[1] == out[1];
      const std::size_t top = size_of(t) - 1;  // the byte holding the sign
      const bool ok = nan ? std::isnan(read_element(out, t).f) && (out[top] >> 7) == (in[top] >> 7)
                          : same && matches(t, normalise(v, t), v);
      if (!ok) {
        ++failures;
        ADD_FAILURE() << "bits 0x" << std::hex << bits << " read " << show(t, v) << ", wrote 0x"
                      << (out[0] | out[1] << 8);
      }
    }
    EXPECT_EQ(failures, 0);
  }
}

// Every (op, dtype) pair that accepts_operand_type allows has a row above; Cast has a row for
// every pair of types and Bitcast for every pair of same-size types.
TEST(ScalarEval, TablesCoverEveryAcceptedPair) {
  std::set<std::pair<OpKind, DType>> covered;
  for (const Row& r : all_rows()) covered.insert({r.op, r.t});
  std::vector<OpKind> ops;
#define MT_LIST_OP(name, ...) ops.push_back(OpKind::name);
  MT_FOR_EACH_OP(MT_LIST_OP)
#undef MT_LIST_OP
  for (OpKind op : ops) {
    const OpShape s = op_shape(op);
    if (op == Cast || op == Bitcast) continue;
    const bool value_op = s == OpShape::Unary || s == OpShape::Binary || s == OpShape::Compare ||
                          s == OpShape::Ternary;
    if (!value_op) continue;
    for (DType t : kAllDTypes) {
      if (accepts_operand_type(op, t)) {
        EXPECT_TRUE(covered.count({op, t})) << "no row for " << op_name(op) << "." << name_of(t);
      }
    }
  }
  std::set<std::pair<DType, DType>> casts, bitcasts;
  for (const CastRow& r : kCastRows) {
    for (DType to : kAllDTypes) casts.insert({r.from, to});
  }
  for (const BitcastRow& r : bitcast_rows()) {
    for (DType a : r.types) {
      for (DType b : r.types) bitcasts.insert({a, b});
    }
  }
  for (DType a : kAllDTypes) {
    for (DType b : kAllDTypes) {
      EXPECT_TRUE(casts.count({a, b})) << "no cast row " << name_of(a) << " -> " << name_of(b);
      if (size_of(a) == size_of(b) && a != Bool && b != Bool) {
        EXPECT_TRUE(bitcasts.count({a, b}))
            << "no bitcast row " << name_of(a) << " -> " << name_of(b);
      }
    }
  }
}

}  // namespace
// -0 orders below +0 in Min/Max whatever the argument order, as on the GPU.
TEST(ScalarEval, MinMaxOrderSignedZeros) {
  for (DType t : {F32, F16, BF16}) {
    const Scalar pos = Scalar::of_float(0.0), neg = Scalar::of_float(-0.0);
    for (const auto& args : {std::array<Scalar, 2>{pos, neg}, std::array<Scalar, 2>{neg, pos}}) {
      EXPECT_TRUE(std::signbit(scalar_eval(Min, t, t, args).f)) << name_of(t);
      EXPECT_FALSE(std::signbit(scalar_eval(Max, t, t, args).f)) << name_of(t);
    }
  }
}

}  // namespace mt
