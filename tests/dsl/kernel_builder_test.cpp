// KernelBuilder: parameters, tensor loads and stores, require() contracts, the block stack and
// trace(); each misuse is an mt::Error naming the kernel (and the parameter where there is one).
#include "metaltile/dsl/kernel_builder.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>

#include "dsl/expect_dsl.hpp"

namespace mt {
namespace {

using test::expect_text;
using test::expect_trace_error;

TEST(KernelBuilder, DeclaresParametersInOrderWithTheirModeAndLength) {
  Kernel k = trace("params", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::BF16);
    Tensor dst = b.output("dst", DType::F8E4M3);
    Val n = b.scalar_u32("n");
    b.scalar_i32("offset");
    b.scalar_f32("scale");
    Val i = program_id(0);
    Val len = src.len();
    Val inside = i < len;
    if_(inside, [&] { dst[i] = src[i].to(DType::F8E4M3); });
    static_cast<void>(n);
  });
  EXPECT_EQ(k.name, "params");
  EXPECT_EQ(k.mode, KernelMode::Reduction);
  expect_text(print(k),
              "kernel params mode=Reduction\n"
              "  param src: input bf16\n"
              "  param dst: output f8e4m3\n"
              "  param n: scalar u32\n"
              "  param offset: scalar i32\n"
              "  param scale: scalar f32\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: i32 = scalar offset\n"
              "  %2: f32 = scalar scale\n"
              "  %3: u32 = program_id 0\n"
              "  %4: u32 = len src\n"
              "  %5: bool = lt %3, %4\n"
              "  if %5 {\n"
              "    %6: bf16 = load src[%3]\n"
              "    %7: f8e4m3 = cast %6\n"
              "    store dst[%3] = %7\n"
              "  }\n"
              "}\n");
}

TEST(KernelBuilder, ParameterMistakesNameTheParameter) {
  expect_trace_error("dup",
                     [](KernelBuilder& b) {
                       b.input("x", DType::F32);
                       b.scalar_u32("x");
                     },
                     {"param 'x'", "declared twice"});
  expect_trace_error("dup_tensor",
                     [](KernelBuilder& b) {
                       b.output("y", DType::F32);
                       b.output("y", DType::F16);
                     },
                     {"param 'y'", "declared twice"});
  expect_trace_error("bad_scalar", [](KernelBuilder& b) { b.scalar("h", DType::F16); },
                     {"param 'h'", "u32, i32 or f32", "f16"});
  expect_trace_error("bool_scalar", [](KernelBuilder& b) { b.scalar("flag", DType::Bool); },
                     {"param 'flag'", "not bool"});
  expect_trace_error("unnamed", [](KernelBuilder& b) { b.input("", DType::F32); },
                     {"needs a name"});
}

TEST(KernelBuilder, StoreMistakesNameTheParameter) {
  expect_trace_error("store_type",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::F16);
                       Val i = program_id(0);
                       out[i] = b.scalar_f32("x");
                     },
                     {"param 'out'", "storing %1 (f32) into f16", ".to()"});
  expect_trace_error("store_input",
                     [](KernelBuilder& b) {
                       Tensor in = b.input("in", DType::F32);
                       Val i = program_id(0);
                       in[i] = b.scalar_f32("x");
                     },
                     {"param 'in'", "is an input"});
  expect_trace_error("store_index",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::F32);
                       Val x = b.scalar_f32("x");
                       out[x] = x;
                     },
                     {"param 'out'", "index %0 (f32) must be u32 or i32"});
  expect_trace_error("load_index",
                     [](KernelBuilder& b) {
                       Tensor in = b.input("in", DType::F32);
                       Val small = program_id(0).to(DType::U8);
                       static_cast<void>(in[small].load());
                     },
                     {"param 'in'", "index %1 (u8) must be u32 or i32"});
  expect_trace_error("store_literal",
                     [](KernelBuilder& b) {
                       Tensor out = b.output("out", DType::U32);
                       out[program_id(0)] = 0.5;
                     },
                     {"constant 0.5 does not fit u32"});
}

TEST(KernelBuilder, RequireCopiesTheScalarComputationIntoTheContract) {
  Kernel k = trace("contract", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    Val m = b.scalar_u32("m");
    Val total = n * m;
    Val fits = total <= out.len();
    b.require(fits, "n * m <= len(out)");
    Val i = program_id(0);
    out[i] = total;
  });
  expect_text(print(k),
              "kernel contract mode=Grid3D\n"
              "  param out: output u32\n"
              "  param n: scalar u32\n"
              "  param m: scalar u32\n"
              "contract {\n"
              "  %5: u32 = scalar n\n"
              "  %6: u32 = scalar m\n"
              "  %7: u32 = mul %5, %6\n"
              "  %8: u32 = len out\n"
              "  %9: bool = le %7, %8\n"
              "  require %9 \"n * m <= len(out)\"\n"
              "}\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = scalar m\n"
              "  %2: u32 = mul %0, %1\n"
              "  %3: u32 = len out\n"
              "  %4: bool = le %2, %3\n"
              "  %10: u32 = program_id 0\n"
              "  store out[%10] = %2\n"
              "}\n");
}

TEST(KernelBuilder, RequireRejectsPerThreadConditions) {
  expect_trace_error("require_pid",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       Val i = program_id(0);
                       b.require(i < n, "i < n");
                     },
                     {"require", "%1 depends on a per-thread value"});
  expect_trace_error("require_load",
                     [](KernelBuilder& b) {
                       Tensor in = b.input("in", DType::U32);
                       Val n = b.scalar_u32("n");
                       Val x = in[n];
                       b.require(x < n, "in[n] < n");
                     },
                     {"require", "%1 depends on a per-thread value"});
  expect_trace_error("require_var",
                     [](KernelBuilder& b) {
                       Var v(b.scalar_u32("n"), "v");
                       Val r = v;
                       b.require(r > 0, "v > 0");
                     },
                     {"require", "%1 depends on a per-thread value"});
  expect_trace_error("require_bool", [](KernelBuilder& b) { b.require(b.scalar_u32("n"), "n"); },
                     {"require: condition %0 (u32) is not bool"});
  expect_trace_error("require_nested",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       for ([[maybe_unused]] Val j : range(n)) b.require(n > 1, "n > 1");
                     },
                     {"require", "top level"});
}

TEST(KernelBuilder, TheInnermostTraceIsCurrent) {
  trace("outer", KernelMode::Grid3D, [](KernelBuilder& outer) {
    EXPECT_EQ(&KernelBuilder::current(), &outer);
    Kernel inner = trace("inner", KernelMode::Elementwise, [&](KernelBuilder& b) {
      EXPECT_EQ(&KernelBuilder::current(), &b);
      program_id(0);
    });
    EXPECT_EQ(&KernelBuilder::current(), &outer);
    EXPECT_EQ(inner.body.instrs.size(), 1u);
    EXPECT_TRUE(outer.kernel().body.instrs.empty());
  });
  EXPECT_THROW(KernelBuilder::current(), Error);
}

TEST(KernelBuilder, AnErrorInsideAnArmLeavesNoBuilderBehind) {
  expect_trace_error("throws",
                     [](KernelBuilder& b) {
                       Val n = b.scalar_u32("n");
                       if_(n < 2, [&] { static_cast<void>(n + 1.5); });
                     },
                     {"float literal 1.5"});
  EXPECT_THROW(KernelBuilder::current(), Error);
}

TEST(KernelBuilder, UnbalancedBlocksAreErrors) {
  expect_trace_error("open_loop",
                     [](KernelBuilder& b) {
                       Range r = range(b.scalar_u32("n"));
                       r.begin();  // opened by hand, never closed
                     },
                     {"left open"});
}

// --- errors name the kernel author's line -------------------------------------------------

// "kernel_builder_test.cpp:<line>)": the end of a message located at `line` of this file.
std::string at_line(int line) { return "kernel_builder_test.cpp:" + std::to_string(line) + ")"; }

// Traces `body` and expects an mt::Error containing `fragment` and located at the line that
// the body stored in `line` (known only once the body has run).
void expect_located(const std::string& name, const std::function<void(KernelBuilder&)>& body,
                    const std::string& fragment, const int& line) {
  try {
    trace(name, KernelMode::Grid3D, body);
    ADD_FAILURE() << "tracing '" << name << "' did not throw";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
    EXPECT_NE(what.find(at_line(line)), std::string::npos)
        << "not at line " << line << ": " << what;
  }
}

TEST(KernelBuilderLocation, OperatorErrorsNameTheLineOfTheExpression) {
  int line = 0;
  expect_located(
      "mixed",
      [&](KernelBuilder& b) {
        Val x = b.scalar_u32("x");
        Val y = b.scalar_f32("y");
        line = __LINE__ + 1;
        (void)(x + y);
      },
      "operand types differ", line);
  expect_located(
      "max",
      [&](KernelBuilder& b) {
        Tensor in = b.input("in", DType::F32);
        Val i = program_id(0);
        line = __LINE__ + 1;
        (void)max(in[i], i);
      },
      "differ", line);
}

TEST(KernelBuilderLocation, TensorRangeIfAndVarErrorsNameTheirLine) {
  int line = 0;
  expect_located(
      "store",
      [&](KernelBuilder& b) {
        Tensor out = b.output("out", DType::F32);
        Val i = program_id(0);
        line = __LINE__ + 1;
        out[i] = i;
      },
      "convert it with .to()", line);
  expect_located(
      "float_range",
      [&](KernelBuilder& b) {
        Val f = b.scalar_f32("f");
        line = __LINE__ + 1;
        for (Val j : range(f)) (void)j;
      },
      "must be u32 or i32", line);
  expect_located(
      "if_u32",
      [&](KernelBuilder&) {
        Val i = program_id(0);
        line = __LINE__ + 1;
        if_(i, [] {});
      },
      "is not bool", line);
  expect_located(
      "to_fp8",
      [&](KernelBuilder& b) {
        Val x = b.scalar_u32("x");
        line = __LINE__ + 1;
        (void)x.bitcast(DType::F16);
      },
      "bitcast", line);
}

TEST(KernelBuilderLocation, AValOfAnotherTraceIsReportedAtItsUse) {
  std::optional<Val> foreign;
  trace("first", KernelMode::Grid3D, [&](KernelBuilder&) { foreign = program_id(0); });
  int line = 0;
  expect_located(
      "second",
      [&](KernelBuilder&) {
        Val i = program_id(0);
        line = __LINE__ + 1;
        (void)(i + *foreign);
      },
      "another kernel's trace", line);
}

// --- a Val reassigned inside a loop does not carry: the trace says to use a Var -----------

TEST(KernelBuilderLoopCarry, AValFromOutsideTheLoopReassignedInsideIsAnError) {
  expect_trace_error("sum",
                     [](KernelBuilder& b) {
                       Tensor x = b.input("x", DType::F32);
                       Val n = b.scalar_u32("n");
                       Val acc = f32(0.0f);
                       for (Val i : range(n)) acc = acc + x[i];
                     },
                     {"reassigned inside", "Var"});
  // A Val of an outer loop, reassigned in an inner one.
  expect_trace_error("nested",
                     [](KernelBuilder& b) {
                       Tensor x = b.input("x", DType::F32);
                       Val n = b.scalar_u32("n");
                       for (Val i : range(n)) {
                         Val row = x[i];
                         for (Val j : range(n)) row = row * x[j];
                       }
                     },
                     {"reassigned inside", "Var"});
}

TEST(KernelBuilderLoopCarry, ReassigningAValOfTheSameLoopOrOutsideLoopsIsFine) {
  Kernel k = trace("fine", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor x = b.input("x", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val scale = f32(2.0f);
    scale = scale * scale;  // outside any loop
    Var acc = f32(0.0f);
    for (Val i : range(n)) {
      Val t = x[i];
      t = t * scale;  // made in this loop
      i = i + 1u;     // the loop variable belongs to its loop
      acc += t;
    }
    out[program_id(0)] = acc;
  });
  EXPECT_EQ(k.name, "fine");
  // A Val kept after its trace is plain data: rebinding it checks nothing.
  std::optional<Val> kept;
  trace("keep", KernelMode::Grid3D, [&](KernelBuilder&) { kept = program_id(0); });
  Val other = *kept;
  EXPECT_NO_THROW(other = *kept);
}

}  // namespace
}  // namespace mt
