// DSL builtins: program_id, constants, math, clamp, select and if_/else_ record the right op
// and dtype; each misuse is an mt::Error naming the kernel.
#include "metaltile/dsl/builtins.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dsl/expect_dsl.hpp"

namespace mt {
namespace {

using test::expect_text;
using test::expect_trace_error;
using test::printed_def;

TEST(Builtins, ProgramIdIsU32PerAxis) {
  ValueId ids[3];
  Kernel k = trace("pid", KernelMode::Grid3D, [&](KernelBuilder&) {
    for (int axis = 0; axis < 3; ++axis) ids[axis] = program_id(axis).id();
  });
  EXPECT_EQ(printed_def(k, ids[0]), "%0: u32 = program_id 0");
  EXPECT_EQ(printed_def(k, ids[1]), "%1: u32 = program_id 1");
  EXPECT_EQ(printed_def(k, ids[2]), "%2: u32 = program_id 2");
  expect_trace_error("pid3", [](KernelBuilder&) { program_id(3); }, {"program_id: axis 3"});
  expect_trace_error("pid_neg", [](KernelBuilder&) { program_id(-1); }, {"program_id: axis -1"});
}

TEST(Builtins, OutsideATraceIsAnError) {
  try {
    program_id(0);
    ADD_FAILURE() << "program_id outside a trace did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no kernel is being traced"), std::string::npos)
        << e.what();
  }
}

TEST(Builtins, ConstantsOfEachType) {
  Kernel k = trace("consts", KernelMode::Grid3D, [](KernelBuilder&) {
    u32(4000000000u);
    i32(-7);
    f32(0.25f);
    constant(DType::F16, 0.1);  // rounded to f16
    constant(DType::U8, 255);
    constant(DType::Bool, 1);
  });
  expect_text(print(k),
              "kernel consts mode=Grid3D\n"
              "body {\n"
              "  %0: u32 = const 4000000000\n"
              "  %1: i32 = const -7\n"
              "  %2: f32 = const 0.25\n"
              "  %3: f16 = const 0.099975586\n"
              "  %4: u8 = const 255\n"
              "  %5: bool = const true\n"
              "}\n");
}

TEST(Builtins, ConstantsThatDoNotFitAreErrors) {
  expect_trace_error("frac", [](KernelBuilder&) { constant(DType::U32, 1.5); },
                     {"constant 1.5 does not fit u32"});
  expect_trace_error("u8", [](KernelBuilder&) { constant(DType::U8, 256); },
                     {"constant 256 does not fit u8"});
  expect_trace_error("huge", [](KernelBuilder&) { constant(DType::I32, 1e30); },
                     {"does not fit i32"});
  expect_trace_error("nan", [](KernelBuilder&) { constant(DType::U32, std::nan("")); },
                     {"does not fit u32"});
  expect_trace_error("bool", [](KernelBuilder&) { constant(DType::Bool, 2); },
                     {"constant 2 does not fit bool"});
}

TEST(Builtins, MinAndMaxWithValsAndLiterals) {
  Kernel k = trace("minmax", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    Val y = b.scalar_f32("y");
    Val n = b.scalar_i32("n");
    min(x, y);
    max(x, y);
    min(n, 3);
    max(-2, n);
  });
  expect_text(print(k),
              "kernel minmax mode=Grid3D\n"
              "  param x: scalar f32\n"
              "  param y: scalar f32\n"
              "  param n: scalar i32\n"
              "body {\n"
              "  %0: f32 = scalar x\n"
              "  %1: f32 = scalar y\n"
              "  %2: i32 = scalar n\n"
              "  %3: f32 = min %0, %1\n"
              "  %4: f32 = max %0, %1\n"
              "  %5: i32 = const 3\n"
              "  %6: i32 = min %2, %5\n"
              "  %7: i32 = const -2\n"
              "  %8: i32 = max %7, %2\n"
              "}\n");
  expect_trace_error("minmax_mix",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       Val n = b.scalar_i32("n");
                       min(x, n);
                     },
                     {"min", "%0 (f32)", "%1 (i32)"});
}

TEST(Builtins, MathFunctionsRecordTheirOpInTheValuesType) {
  using Fn = std::function<Val(const Val&)>;
  const std::vector<std::pair<std::string, Fn>> cases = {
      {"abs", [](const Val& a) { return abs(a); }},
      {"floor", [](const Val& a) { return floor(a); }},
      {"ceil", [](const Val& a) { return ceil(a); }},
      {"round", [](const Val& a) { return round(a); }},
      {"trunc", [](const Val& a) { return trunc(a); }},
      {"exp", [](const Val& a) { return exp(a); }},
      {"exp2", [](const Val& a) { return exp2(a); }},
      {"log", [](const Val& a) { return log(a); }},
      {"log2", [](const Val& a) { return log2(a); }},
      {"sqrt", [](const Val& a) { return sqrt(a); }},
      {"rsqrt", [](const Val& a) { return rsqrt(a); }},
      {"sin", [](const Val& a) { return sin(a); }},
      {"cos", [](const Val& a) { return cos(a); }},
      {"tanh", [](const Val& a) { return tanh(a); }},
      {"erf", [](const Val& a) { return erf(a); }},
      {"sigmoid", [](const Val& a) { return sigmoid(a); }},
      {"silu", [](const Val& a) { return silu(a); }},
      {"gelu", [](const Val& a) { return gelu(a); }},
  };
  for (const auto& [op, fn] : cases) {
    ValueId r;
    Kernel k = trace("math", KernelMode::Grid3D, [&](KernelBuilder& b) {
      Val h = b.scalar_f32("x").to(DType::F16);
      r = fn(h).id();
    });
    EXPECT_EQ(printed_def(k, r), "%2: f16 = " + op + " %1");
    if (op == "abs") continue;  // abs also takes integers
    expect_trace_error("math_int", [&](KernelBuilder& b) { fn(b.scalar_u32("n")); },
                       {op + ": does not accept %0 (u32)"});
  }
  ValueId r;
  Kernel k = trace("abs_int", KernelMode::Grid3D,
                   [&](KernelBuilder& b) { r = abs(b.scalar_i32("n")).id(); });
  EXPECT_EQ(printed_def(k, r), "%1: i32 = abs %0");
}

TEST(Builtins, ClampIsMaxThenMin) {
  Kernel k = trace("clamp", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    Val lo = b.scalar_f32("lo");
    Val hi = b.scalar_f32("hi");
    clamp(x, lo, hi);
    clamp(x, 0.0f, 6.0f);
  });
  expect_text(print(k),
              "kernel clamp mode=Grid3D\n"
              "  param x: scalar f32\n"
              "  param lo: scalar f32\n"
              "  param hi: scalar f32\n"
              "body {\n"
              "  %0: f32 = scalar x\n"
              "  %1: f32 = scalar lo\n"
              "  %2: f32 = scalar hi\n"
              "  %3: f32 = max %0, %1\n"
              "  %4: f32 = min %3, %2\n"
              "  %5: f32 = const 0\n"
              "  %6: f32 = const 6\n"
              "  %7: f32 = max %0, %5\n"
              "  %8: f32 = min %7, %6\n"
              "}\n");
}

TEST(Builtins, SelectRecordsBothArms) {
  Kernel k = trace("select", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    Val y = b.scalar_f32("y");
    Val c = x < y;
    select(c, x, y);
    select(c, x, 1.5f);
    select(c, 2, y);
  });
  expect_text(print(k),
              "kernel select mode=Grid3D\n"
              "  param x: scalar f32\n"
              "  param y: scalar f32\n"
              "body {\n"
              "  %0: f32 = scalar x\n"
              "  %1: f32 = scalar y\n"
              "  %2: bool = lt %0, %1\n"
              "  %3: f32 = select %2, %0, %1\n"
              "  %4: f32 = const 1.5\n"
              "  %5: f32 = select %2, %0, %4\n"
              "  %6: f32 = const 2\n"
              "  %7: f32 = select %2, %6, %1\n"
              "}\n");
  expect_trace_error("select_cond",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       select(n, n, n);
                     },
                     {"select: condition %0 (u32) is not bool"});
  expect_trace_error("select_arms",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       Val x = b.scalar_f32("x");
                       Val c = n < 2;
                       select(c, n, x);
                     },
                     {"select: arms %0 (u32) and %1 (f32) differ"});
}

TEST(Builtins, FmaRecordsOneOpOnFloats) {
  Kernel k = trace("fma", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val x = b.scalar_f32("x");
    Val y = b.scalar_f32("y");
    fma(x, y, x);
  });
  expect_text(print(k),
              "kernel fma mode=Grid3D\n"
              "  param x: scalar f32\n"
              "  param y: scalar f32\n"
              "body {\n"
              "  %0: f32 = scalar x\n"
              "  %1: f32 = scalar y\n"
              "  %2: f32 = fma %0, %1, %0\n"
              "}\n");
  expect_trace_error("fma_types",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       fma(x, x, x.to(DType::F16));
                     },
                     {"fma: operands %0 (f32), %0 (f32) and %1 (f16) differ in type"});
  expect_trace_error("fma_integers",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       fma(n, n, n);
                     },
                     {"fma: needs f32, f16 or bf16 operands, not %0 (u32)"});
}

TEST(Builtins, IfAndElseRecordBothArms) {
  Kernel k = trace("branches", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val small = i < 4;
    if_(small, [&] { out[i] = 1; }).else_([&] { out[i] = 2; });
    if_(small, [&] { out[i] = 3; });  // else_ is optional
  });
  expect_text(print(k),
              "kernel branches mode=Grid3D\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: u32 = const 4\n"
              "  %2: bool = lt %0, %1\n"
              "  if %2 {\n"
              "    %3: u32 = const 1\n"
              "    store out[%0] = %3\n"
              "  } else {\n"
              "    %4: u32 = const 2\n"
              "    store out[%0] = %4\n"
              "  }\n"
              "  if %2 {\n"
              "    %5: u32 = const 3\n"
              "    store out[%0] = %5\n"
              "  }\n"
              "}\n");
}

TEST(Builtins, IfMistakesAreErrors) {
  expect_trace_error("if_cond", [](KernelBuilder& b) { if_(b.scalar_u32("n"), [] {}); },
                     {"if_: condition %0 (u32) is not bool"});
  expect_trace_error("else_late",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       IfBuilder branch = if_(n < 2, [] {});
                       static_cast<void>(n + 1);  // traced between the if_ and its else_
                       branch.else_([] {});
                     },
                     {"else_: must directly follow its if_"});
  expect_trace_error("else_twice",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       IfBuilder branch = if_(n < 2, [] {});
                       branch.else_([] {});
                       branch.else_([] {});
                     },
                     {"else_: this if_ already has an else_"});
}

}  // namespace
}  // namespace mt
