// mt::Val: each operator records its op and dtype, literals adopt the other operand's type,
// and type mistakes are mt::Errors naming the kernel and showing the operands.
#include "metaltile/dsl/val.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "dsl/expect_dsl.hpp"

namespace mt {
namespace {

using test::expect_trace_error;
using test::printed_def;

using BinaryFn = std::function<Val(const Val&, const Val&)>;

// Traces fn(a, b) on two scalars of type t (%0 and %1) and returns the result's definition.
std::string traced_binary(DType t, const BinaryFn& fn) {
  ValueId result;
  Kernel k = trace("binary", KernelMode::Grid3D, [&](KernelBuilder& b) {
    Val x = b.scalar("x", t);
    Val y = b.scalar("y", t);
    result = fn(x, y).id();
  });
  return printed_def(k, result);
}

TEST(Val, ArithmeticAndBitwiseOperatorsRecordTheirOp) {
  const std::vector<std::pair<std::string, BinaryFn>> cases = {
      {"add", [](const Val& a, const Val& b) { return a + b; }},
      {"sub", [](const Val& a, const Val& b) { return a - b; }},
      {"mul", [](const Val& a, const Val& b) { return a * b; }},
      {"div", [](const Val& a, const Val& b) { return a / b; }},
      {"rem", [](const Val& a, const Val& b) { return a % b; }},
      {"and", [](const Val& a, const Val& b) { return a & b; }},
      {"or", [](const Val& a, const Val& b) { return a | b; }},
      {"xor", [](const Val& a, const Val& b) { return a ^ b; }},
      {"shl", [](const Val& a, const Val& b) { return a << b; }},
      {"shr", [](const Val& a, const Val& b) { return a >> b; }},
  };
  for (const auto& [op, fn] : cases) {
    EXPECT_EQ(traced_binary(DType::U32, fn), "%2: u32 = " + op + " %0, %1");
    EXPECT_EQ(traced_binary(DType::I32, fn), "%2: i32 = " + op + " %0, %1");
  }
}

TEST(Val, FloatArithmeticKeepsTheFloatType) {
  const std::vector<std::pair<std::string, BinaryFn>> cases = {
      {"add", [](const Val& a, const Val& b) { return a + b; }},
      {"sub", [](const Val& a, const Val& b) { return a - b; }},
      {"mul", [](const Val& a, const Val& b) { return a * b; }},
      {"div", [](const Val& a, const Val& b) { return a / b; }},
  };
  for (const auto& [op, fn] : cases) {
    EXPECT_EQ(traced_binary(DType::F32, fn), "%2: f32 = " + op + " %0, %1");
  }
}

TEST(Val, ComparisonsGiveBool) {
  const std::vector<std::pair<std::string, BinaryFn>> cases = {
      {"eq", [](const Val& a, const Val& b) { return a == b; }},
      {"ne", [](const Val& a, const Val& b) { return a != b; }},
      {"lt", [](const Val& a, const Val& b) { return a < b; }},
      {"le", [](const Val& a, const Val& b) { return a <= b; }},
      {"gt", [](const Val& a, const Val& b) { return a > b; }},
      {"ge", [](const Val& a, const Val& b) { return a >= b; }},
  };
  for (const auto& [op, fn] : cases) {
    EXPECT_EQ(traced_binary(DType::I32, fn), "%2: bool = " + op + " %0, %1");
    EXPECT_EQ(traced_binary(DType::F32, fn), "%2: bool = " + op + " %0, %1");
  }
}

TEST(Val, LogicalAndUnaryOperators) {
  ValueId both, either, negated, inverted, flipped;
  Kernel k = trace("logic", KernelMode::Grid3D, [&](KernelBuilder& b) {
    Val x = b.scalar_i32("x");
    Val y = b.scalar_i32("y");
    Val p = x < y;
    Val q = x > y;
    both = (p && q).id();
    either = (p || q).id();
    negated = (-x).id();
    inverted = (~x).id();
    flipped = (!p).id();
  });
  EXPECT_EQ(printed_def(k, both), "%4: bool = and %2, %3");
  EXPECT_EQ(printed_def(k, either), "%5: bool = or %2, %3");
  EXPECT_EQ(printed_def(k, negated), "%6: i32 = neg %0");
  EXPECT_EQ(printed_def(k, inverted), "%7: i32 = not %0");
  EXPECT_EQ(printed_def(k, flipped), "%8: bool = not %2");
}

TEST(Val, LogicalOperatorsTakeBoolOnly) {
  // On integers And/Or/Not are bitwise: (1 && 2) would be 0 and !1 would be 0xfffffffe.
  expect_trace_error("logical_and",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       Val c = n < 3;
                       static_cast<void>(c && n);
                     },
                     {"&&", "%0 (u32)", "not bool"});
  expect_trace_error("logical_or",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_i32("n");
                       Val c = n < 3;
                       static_cast<void>(n || c);
                     },
                     {"||", "%0 (i32)", "not bool"});
  expect_trace_error("logical_not",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       static_cast<void>(!n);
                     },
                     {"!", "%0 (u32)", "not bool"});
}

TEST(Val, LiteralsAdoptTheOtherOperandsType) {
  Kernel k = trace("literals", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val n = b.scalar_u32("n");
    Val small = n.to(DType::I8);
    Val h = b.scalar_f32("h").to(DType::F16);
    static_cast<void>(small + 1);
    static_cast<void>(1 - small);  // literal on the left: it is the first operand
    static_cast<void>(h * 0.5);
    static_cast<void>(h + 2);  // an integer literal beside a float is a float constant
    static_cast<void>(n < 7u);
  });
  test::expect_text(print(k),
                    "kernel literals mode=Grid3D\n"
                    "  param n: scalar u32\n"
                    "  param h: scalar f32\n"
                    "body {\n"
                    "  %0: u32 = scalar n\n"
                    "  %1: i8 = cast %0\n"
                    "  %2: f32 = scalar h\n"
                    "  %3: f16 = cast %2\n"
                    "  %4: i8 = const 1\n"
                    "  %5: i8 = add %1, %4\n"
                    "  %6: i8 = const 1\n"
                    "  %7: i8 = sub %6, %1\n"
                    "  %8: f16 = const 0.5\n"
                    "  %9: f16 = mul %3, %8\n"
                    "  %10: f16 = const 2\n"
                    "  %11: f16 = add %3, %10\n"
                    "  %12: u32 = const 7\n"
                    "  %13: bool = lt %0, %12\n"
                    "}\n");
}

TEST(Val, FloatLiteralsRoundToTheOperandsType) {
  ValueId c;
  Kernel k = trace("rounded", KernelMode::Grid3D, [&](KernelBuilder& b) {
    Val h = b.scalar_f32("h").to(DType::BF16);
    c = h.literal(0.1).id();
  });
  EXPECT_EQ(printed_def(k, c), "%2: bf16 = const 0.100097656");
}

TEST(Val, MixingTypesIsAnErrorShowingTheOperands) {
  expect_trace_error("mix",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       Val x = b.scalar_f32("x");
                       static_cast<void>(n + x);
                     },
                     {"add", "%0 (u32)", "%1 (f32)", ".to()"});
  expect_trace_error("mix_signs",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       Val m = b.scalar_i32("m");
                       static_cast<void>(n < m);
                     },
                     {"lt", "%0 (u32)", "%1 (i32)"});
  expect_trace_error("mix_floats",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       Val h = x.to(DType::F16);
                       static_cast<void>(x * h);
                     },
                     {"mul", "%0 (f32)", "%1 (f16)"});
}

// An integer division or remainder by a constant 0 is reported while tracing, not as a run-time
// division by zero (or a silent 0 on a GPU). Float division by 0 is IEEE (inf or NaN) and
// stays, and a divisor known only at run time is the contract's business.
TEST(Val, IntegerDivisionByAConstantZeroIsATraceError) {
  expect_trace_error("div_zero",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       static_cast<void>(n / 0u);
                     },
                     {"div: %0 (u32) by the constant 0"});
  expect_trace_error("rem_zero",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_i32("n");
                       static_cast<void>(n % i32(0));
                     },
                     {"rem: %0 (i32) by the constant 0"});
  expect_trace_error("var_div_zero",
                     [](KernelBuilder& b) {
                       Var acc = b.scalar_u32("n");
                       acc /= 0;
                     },
                     {"div:", "by the constant 0"});
  EXPECT_NO_THROW(trace("float_div", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    static_cast<void>(x / 0.0f);
    static_cast<void>(x % 0.0f);
  }));
  EXPECT_NO_THROW(trace("runtime_div", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val n = b.scalar_u32("n"), d = b.scalar_u32("d");
    static_cast<void>(n / d);
  }));
}

TEST(Val, FloatLiteralBesideAnIntegerIsAnError) {
  expect_trace_error("float_literal",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       static_cast<void>(n * 2.0);  // integer-valued, still a float literal
                     },
                     {"float literal 2", "%0 (u32)", ".to()"});
  expect_trace_error("float_literal_f",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_i32("n");
                       static_cast<void>(n + 0.5f);
                     },
                     {"float literal 0.5", "%0 (i32)"});
}

TEST(Val, LiteralOutOfRangeIsAnError) {
  expect_trace_error("u8_range",
                     [](KernelBuilder& b) {
                       Val v = b.scalar_u32("n").to(DType::U8);
                       static_cast<void>(v + 256);
                     },
                     {"literal 256 does not fit u8", "%1 (u8)"});
  expect_trace_error("u32_negative",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       static_cast<void>(n - (-1));
                     },
                     {"literal -1 does not fit u32", "%0 (u32)"});
  expect_trace_error("i32_range",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_i32("n");
                       static_cast<void>(n + 2147483648LL);
                     },
                     {"literal 2147483648 does not fit i32"});
  expect_trace_error("i8_range",
                     [](KernelBuilder& b) {
                       Val v = b.scalar_i32("n").to(DType::I8);
                       static_cast<void>(v < -129);
                     },
                     {"literal -129 does not fit i8"});
  // An unsigned 64-bit literal too big for int64 must not wrap to a small negative number.
  expect_trace_error("u64_range",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_i32("n");
                       static_cast<void>(n + std::numeric_limits<std::uint64_t>::max());
                     },
                     {"does not fit i32"});
  // Beside a float, a large unsigned literal is just a float constant.
  ValueId big;
  Kernel k = trace("u64_float", KernelMode::Grid3D, [&](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    big = x.literal(std::numeric_limits<std::uint64_t>::max()).id();
  });
  EXPECT_EQ(printed_def(k, big), "%1: f32 = const 1.8446744e+19");
  // The edges themselves fit.
  EXPECT_NO_THROW(trace("edges", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val n = b.scalar_u32("n");
    Val m = b.scalar_i32("m");
    static_cast<void>(n + 4294967295u);
    static_cast<void>(m + (-2147483647 - 1));
    static_cast<void>(m.to(DType::U8) + 255);
    static_cast<void>(m.to(DType::I8) + (-128));
  }));
}

TEST(Val, Fp8IsAStorageTypeForLiterals) {
  expect_trace_error("fp8_literal",
                     [](KernelBuilder& b) {
                       Val q = b.scalar_f32("x").to(DType::F8E4M3);
                       static_cast<void>(q + 1);
                     },
                     {"%1 (f8e4m3)", "storage type"});
  expect_trace_error("fp8_float_literal",
                     [](KernelBuilder& b) {
                       Val q = b.scalar_f32("x").to(DType::F8E5M2);
                       static_cast<void>(q * 0.5);
                     },
                     {"float literal 0.5", "%1 (f8e5m2)"});
}

TEST(Val, OpsRejectTypesTheyDoNotAccept) {
  expect_trace_error("float_shift",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       static_cast<void>(x << x);
                     },
                     {"shl", "does not accept %0 (f32)"});
  expect_trace_error("bool_add",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       Val c = n < 3;
                       static_cast<void>(c + c);
                     },
                     {"add", "does not accept %2 (bool)"});
  expect_trace_error("float_not",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       static_cast<void>(~x);
                     },
                     {"not", "does not accept %0 (f32)"});
}

TEST(Val, ToRecordsACastUnlessTheTypeIsTheSame) {
  ValueId same, widened, narrowed;
  Kernel k = trace("casts", KernelMode::Grid3D, [&](KernelBuilder& b) {
    Val n = b.scalar_u32("n");
    same = n.to(DType::U32).id();
    widened = n.to(DType::F32).id();
    narrowed = n.to(DType::Bool).id();
  });
  EXPECT_EQ(same, ValueId{0});
  EXPECT_EQ(printed_def(k, widened), "%1: f32 = cast %0");
  EXPECT_EQ(printed_def(k, narrowed), "%2: bool = cast %0");
}

TEST(Val, BitcastReinterpretsSameSizedTypes) {
  ValueId bits, back, same;
  Kernel k = trace("bitcasts", KernelMode::Grid3D, [&](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    Val u = x.bitcast(DType::U32);
    bits = u.id();
    back = u.bitcast(DType::I32).id();
    same = x.bitcast(DType::F32).id();
  });
  EXPECT_EQ(printed_def(k, bits), "%1: u32 = bitcast %0");
  EXPECT_EQ(printed_def(k, back), "%2: i32 = bitcast %1");
  EXPECT_EQ(same, ValueId{0});
  expect_trace_error("bitcast_size",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       static_cast<void>(x.bitcast(DType::F16));
                     },
                     {"bitcast", "%0 (f32)", "f16", "size"});
  expect_trace_error("bitcast_bool",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_u32("n").to(DType::U8);
                       static_cast<void>(x.bitcast(DType::Bool));
                     },
                     {"bitcast", "%1 (u8)", "bool"});
}

// --- operands are read left to right, whatever order C++ evaluates them in ---------------

// The reads of a kernel's body in order: "a" for a load of tensor a, "acc" for a read of
// local acc, and "=out" for a store to out.
std::vector<std::string> reads_in_order(const Kernel& k) {
  std::vector<std::string> order;
  for_each_instr(k.body, [&](const Instr& in) {
    if (in.op == OpKind::Load) order.push_back(k.param(in.param).name);
    if (in.op == OpKind::LocalRead) order.push_back(k.locals[in.local.index].name);
    if (in.op == OpKind::Store) order.push_back("=" + k.param(in.param).name);
  });
  return order;
}

using OrderBody = std::function<Val(const Tensor& a, const Tensor& b, const Tensor& c,
                                    const Tensor& d, const Val& i)>;

// Traces out[i] = body(a, b, c, d, i) over f32 inputs a, b, c and d.
Kernel traced_order(const OrderBody& body) {
  return trace("order", KernelMode::Elementwise, [&](KernelBuilder& k) {
    Tensor a = k.input("a", DType::F32), b = k.input("b", DType::F32);
    Tensor c = k.input("c", DType::F32), d = k.input("d", DType::F32);
    Tensor out = k.output("out", DType::F32);
    Val i = program_id(0);
    out[i] = body(a, b, c, d, i);
  });
}

using Order = std::vector<std::string>;

TEST(ValOperandOrder, AnOperatorLoadsItsLeftOperandFirst) {
  EXPECT_EQ(reads_in_order(
                traced_order([](auto& a, auto& b, auto&, auto&, auto& i) { return a[i] * b[i]; })),
            (Order{"a", "b", "=out"}));
  EXPECT_EQ(reads_in_order(
                traced_order([](auto& a, auto& b, auto&, auto&, auto& i) { return b[i] - a[i]; })),
            (Order{"b", "a", "=out"}));
  EXPECT_EQ(reads_in_order(traced_order([](auto& a, auto& b, auto&, auto&, auto& i) {
              return select(a[i] < b[i] || b[i] == 2.0f, a[i], 0.0f);
            })),
            (Order{"a", "b", "b", "a", "=out"}));
}

// Another compiler may evaluate the operands (here: make the element references) in the other
// order; the loads, and so the printed IR, stay the same.
TEST(ValOperandOrder, TheCompilersEvaluationOrderDoesNotChangeTheIr) {
  const Kernel forwards = traced_order([](auto& a, auto& b, auto&, auto&, auto& i) {
    const TensorElement x = a[i];
    const TensorElement y = b[i];
    return x * y;
  });
  const Kernel backwards = traced_order([](auto& a, auto& b, auto&, auto&, auto& i) {
    const TensorElement y = b[i];
    const TensorElement x = a[i];
    const Operand right(y);  // converted first, as a right-to-left compiler would
    const Operand left(x);
    return operator*(left, right);
  });
  EXPECT_EQ(reads_in_order(forwards), (Order{"a", "b", "=out"}));
  test::expect_text(print(backwards), print(forwards));

  const Kernel fma_backwards = traced_order([](auto& a, auto& b, auto& c, auto&, auto& i) {
    const TensorElement z = c[i];
    const TensorElement y = b[i];
    const TensorElement x = a[i];
    return fma(x, y, z);
  });
  const Kernel fma_forwards =
      traced_order([](auto& a, auto& b, auto& c, auto&, auto& i) { return fma(a[i], b[i], c[i]); });
  EXPECT_EQ(reads_in_order(fma_forwards), (Order{"a", "b", "c", "=out"}));
  test::expect_text(print(fma_backwards), print(fma_forwards));
}

TEST(ValOperandOrder, FunctionsReadTheirArgumentsLeftToRight) {
  const std::vector<std::pair<OrderBody, Order>> cases = {
      {[](auto& a, auto& b, auto&, auto&, auto& i) { return max(a[i], b[i]); }, {"a", "b"}},
      {[](auto& a, auto& b, auto&, auto&, auto& i) { return min(b[i], a[i]); }, {"b", "a"}},
      {[](auto& a, auto& b, auto&, auto&, auto& i) { return pow(a[i], b[i]); }, {"a", "b"}},
      {[](auto& a, auto& b, auto& c, auto&, auto& i) { return fma(a[i], b[i], c[i]); },
       {"a", "b", "c"}},
      {[](auto& a, auto& b, auto& c, auto&, auto& i) { return clamp(a[i], b[i], c[i]); },
       {"a", "b", "c"}},
      {[](auto& a, auto& b, auto& c, auto& d, auto& i) { return select(a[i] > b[i], c[i], d[i]); },
       {"a", "b", "c", "d"}},
      {[](auto& a, auto& b, auto&, auto&, auto& i) { return fma(a[i], b[i], 1.0f); }, {"a", "b"}},
      {[](auto& a, auto&, auto&, auto&, auto& i) { return 2.0f * a[i]; }, {"a"}},
  };
  for (const auto& [body, loads] : cases) {
    Order expected = loads;
    expected.push_back("=out");
    EXPECT_EQ(reads_in_order(traced_order(body)), expected);
  }
}

TEST(ValOperandOrder, NestedExpressionsAreRecordedInADefinedOrder) {
  // A deferred operand is read when its operator runs: after everything to its left.
  EXPECT_EQ(reads_in_order(traced_order(
                [](auto& a, auto& b, auto& c, auto&, auto& i) { return a[i] * b[i] + c[i]; })),
            (Order{"a", "b", "c", "=out"}));
  EXPECT_EQ(reads_in_order(traced_order([](auto& a, auto& b, auto& c, auto& d, auto& i) {
              return max(a[i] * b[i], c[i]) - d[i];
            })),
            (Order{"a", "b", "c", "d", "=out"}));
  // An operand that is a call is recorded before its operator runs, so a deferred operand to
  // its left comes after it: still one order on every compiler.
  EXPECT_EQ(reads_in_order(traced_order(
                [](auto& a, auto& b, auto& c, auto&, auto& i) { return a[i] + b[i] * c[i]; })),
            (Order{"b", "c", "a", "=out"}));
}

TEST(ValOperandOrder, AVarIsReadWhereItsOperatorRuns) {
  Kernel k = trace("var_order", KernelMode::Elementwise, [](KernelBuilder& b) {
    Tensor a = b.input("a", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val i = program_id(0);
    Var acc(f32(1.0f), "acc");
    out[i] = acc * a[i];
    out[i] = a[i] * acc;
  });
  EXPECT_EQ(reads_in_order(k), (Order{"acc", "a", "=out", "a", "acc", "=out"}));
}

}  // namespace
}  // namespace mt
