// overflows(): whether scalar_eval wraps an integer result, which contracts treat as an error.
// Exact results that fit pass; every op that can wrap is caught at the edge of u32 and i32.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "metaltile/core/scalar_eval.hpp"

namespace mt {
namespace {

using enum DType;
using enum OpKind;

bool wraps(OpKind op, DType t, std::vector<std::int64_t> operands, DType operand = DType::F32) {
  std::vector<Scalar> args;
  for (std::int64_t v : operands) args.push_back(Scalar::of_int(v));
  return overflows(op, t, op == Cast ? operand : t, args);
}

constexpr std::int64_t kU32Max = 0xFFFFFFFF, kI32Max = 0x7FFFFFFF, kI32Min = -kI32Max - 1;

TEST(ScalarEvalOverflow, UnsignedArithmeticPastU32) {
  EXPECT_FALSE(wraps(Add, U32, {kU32Max - 1, 1}));
  EXPECT_TRUE(wraps(Add, U32, {kU32Max, 1}));
  EXPECT_FALSE(wraps(Sub, U32, {3, 3}));
  EXPECT_TRUE(wraps(Sub, U32, {3, 4}));
  EXPECT_FALSE(wraps(Mul, U32, {65535, 65537}));  // 2^32 - 1
  EXPECT_TRUE(wraps(Mul, U32, {65536, 65536}));
  EXPECT_TRUE(wraps(Mul, U32, {kU32Max, kU32Max}));  // past int64 too
  EXPECT_FALSE(wraps(Shl, U32, {1, 31}));
  EXPECT_TRUE(wraps(Shl, U32, {2, 31}));
  EXPECT_TRUE(wraps(Shl, U32, {1, 32}));  // taken modulo 32, the bit is lost
  EXPECT_FALSE(wraps(Shl, U32, {0, 40}));
  EXPECT_TRUE(wraps(Neg, U32, {1}));
  EXPECT_FALSE(wraps(Neg, U32, {0}));
  EXPECT_FALSE(wraps(Div, U32, {kU32Max, 1}));
  EXPECT_FALSE(wraps(Rem, U32, {7, 3}));
}

TEST(ScalarEvalOverflow, SignedArithmeticPastI32) {
  EXPECT_TRUE(wraps(Add, I32, {kI32Max, 1}));
  EXPECT_TRUE(wraps(Sub, I32, {kI32Min, 1}));
  EXPECT_FALSE(wraps(Sub, I32, {-5, 7}));
  EXPECT_TRUE(wraps(Mul, I32, {-65536, 32769}));
  EXPECT_FALSE(wraps(Mul, I32, {-65536, 32768}));  // INT_MIN exactly
  EXPECT_TRUE(wraps(Neg, I32, {kI32Min}));
  EXPECT_TRUE(wraps(Abs, I32, {kI32Min}));
  EXPECT_TRUE(wraps(Div, I32, {kI32Min, -1}));
  EXPECT_FALSE(wraps(Div, I32, {kI32Min, 1}));
}

TEST(ScalarEvalOverflow, CastsThatLoseTheValue) {
  EXPECT_TRUE(wraps(Cast, I32, {kU32Max}, U32));
  EXPECT_FALSE(wraps(Cast, I32, {kI32Max}, U32));
  EXPECT_TRUE(wraps(Cast, U32, {-1}, I32));
  EXPECT_FALSE(wraps(Cast, U32, {1}, Bool));
  const std::vector<Scalar> big{Scalar::of_float(5e9)},
      nan{Scalar::of_float(std::numeric_limits<double>::quiet_NaN())};
  EXPECT_TRUE(overflows(Cast, U32, F32, big));
  EXPECT_TRUE(overflows(Cast, I32, F32, nan));
  const std::vector<Scalar> ok{Scalar::of_float(3.75)};
  EXPECT_FALSE(overflows(Cast, U32, F32, ok));  // truncation is not a wrap
}

TEST(ScalarEvalOverflow, FloatsAndComparisonsNeverOverflow) {
  const std::vector<Scalar> huge{Scalar::of_float(3e38), Scalar::of_float(3e38)};
  EXPECT_FALSE(overflows(Add, F32, F32, huge));
  EXPECT_FALSE(wraps(Lt, Bool, {kU32Max, 0}, U32));
}

}  // namespace
}  // namespace mt
