// range(): `for (Val i : range(...))` records one For whose body is the C++ body, traced once;
// the loop variable takes hi's type; Vars carry values across iterations and nested loops.
#include "metaltile/dsl/range.hpp"

#include <gtest/gtest.h>

#include "dsl/expect_dsl.hpp"

namespace mt {
namespace {

using test::expect_text;
using test::expect_trace_error;

TEST(Range, RecordsOneLoopWhoseBodyIsTracedOnce) {
  int traced = 0;
  Kernel k = trace("loop", KernelMode::Grid3D, [&](KernelBuilder& b) {
    Tensor out = b.output("out", DType::I32);
    Val n = b.scalar_i32("n");
    for (Val j : range(n)) {
      ++traced;
      out[j] = j;
    }
  });
  EXPECT_EQ(traced, 1);
  expect_text(print(k),
              "kernel loop mode=Grid3D\n"
              "  param out: output i32\n"
              "  param n: scalar i32\n"
              "body {\n"
              "  %0: i32 = scalar n\n"
              "  %1: i32 = const 0\n"
              "  %2: i32 = const 1\n"
              "  for %3: i32 in [%1, %0) step %2 {\n"
              "    store out[%3] = %3\n"
              "  }\n"
              "}\n");
}

TEST(Range, BoundsAndStepsInEveryForm) {
  Kernel k = trace("forms", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val lo = b.scalar_u32("lo");
    Val hi = b.scalar_u32("hi");
    Val step = b.scalar_u32("step");
    for (Val j : range(lo, hi)) out[j] = j;        // step 1
    for (Val j : range(lo, hi, step)) out[j] = j;  // all given
    for (Val j : range(2, hi)) out[j] = j;         // literal lo
    for (Val j : range(lo, 9)) out[j] = j;         // literal hi
    for (Val j : range(1, hi, 4)) out[j] = j;      // literal lo and step
    for (Val j : range(lo, hi, 3)) out[j] = j;     // literal step
  });
  expect_text(print(k),
              "kernel forms mode=Grid3D\n"
              "  param out: output u32\n"
              "  param lo: scalar u32\n"
              "  param hi: scalar u32\n"
              "  param step: scalar u32\n"
              "body {\n"
              "  %0: u32 = scalar lo\n"
              "  %1: u32 = scalar hi\n"
              "  %2: u32 = scalar step\n"
              "  %3: u32 = const 1\n"
              "  for %4: u32 in [%0, %1) step %3 {\n"
              "    store out[%4] = %4\n"
              "  }\n"
              "  for %5: u32 in [%0, %1) step %2 {\n"
              "    store out[%5] = %5\n"
              "  }\n"
              "  %6: u32 = const 2\n"
              "  %7: u32 = const 1\n"
              "  for %8: u32 in [%6, %1) step %7 {\n"
              "    store out[%8] = %8\n"
              "  }\n"
              "  %9: u32 = const 9\n"
              "  %10: u32 = const 1\n"
              "  for %11: u32 in [%0, %9) step %10 {\n"
              "    store out[%11] = %11\n"
              "  }\n"
              "  %12: u32 = const 1\n"
              "  %13: u32 = const 4\n"
              "  for %14: u32 in [%12, %1) step %13 {\n"
              "    store out[%14] = %14\n"
              "  }\n"
              "  %15: u32 = const 3\n"
              "  for %16: u32 in [%0, %1) step %15 {\n"
              "    store out[%16] = %16\n"
              "  }\n"
              "}\n");
}

TEST(Range, NestedLoopsCarryAVarAcrossIterations) {
  Kernel k = trace("nested", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val rows = b.scalar_u32("rows");
    Val cols = b.scalar_u32("cols");
    Var total(f32(0.0f), "total");
    for (Val r : range(rows)) {
      Val base = r * cols;
      for (Val c : range(cols)) total += in[base + c];
    }
    out[u32(0)] = total;  // the value is traced first: `=` sequences its right side first
  });
  expect_text(print(k),
              "kernel nested mode=Grid3D\n"
              "  param in: input f32\n"
              "  param out: output f32\n"
              "  param rows: scalar u32\n"
              "  param cols: scalar u32\n"
              "  local total: f32\n"
              "body {\n"
              "  %0: u32 = scalar rows\n"
              "  %1: u32 = scalar cols\n"
              "  %2: f32 = const 0\n"
              "  write total = %2\n"
              "  %3: u32 = const 0\n"
              "  %4: u32 = const 1\n"
              "  for %5: u32 in [%3, %0) step %4 {\n"
              "    %6: u32 = mul %5, %1\n"
              "    %7: u32 = const 0\n"
              "    %8: u32 = const 1\n"
              "    for %9: u32 in [%7, %1) step %8 {\n"
              "      %10: u32 = add %6, %9\n"
              "      %11: f32 = load in[%10]\n"
              "      %12: f32 = read total\n"
              "      %13: f32 = add %12, %11\n"
              "      write total = %13\n"
              "    }\n"
              "  }\n"
              "  %14: f32 = read total\n"
              "  %15: u32 = const 0\n"
              "  store out[%15] = %14\n"
              "}\n");
}

TEST(Range, BoundMistakesAreErrors) {
  expect_trace_error("float_bound",
                     [](KernelBuilder& b) {
                       Val x = b.scalar_f32("x");
                       for (Val j : range(x)) static_cast<void>(j);
                     },
                     {"range: bound", "(f32)", "u32 or i32"});
  expect_trace_error("mixed_bounds",
                     [](KernelBuilder& b) {
                       Val lo = b.scalar_i32("lo");
                       Val hi = b.scalar_u32("hi");
                       for (Val j : range(lo, hi)) static_cast<void>(j);
                     },
                     {"range: bounds %0 (i32), %1 (u32)", "share one type"});
  expect_trace_error("literal_bound",
                     [](KernelBuilder& b) {
                       Val hi = b.scalar_u32("hi");
                       for (Val j : range(-1, hi)) static_cast<void>(j);
                     },
                     {"literal -1 does not fit u32"});
}

// Loops count upwards: range(10, 0, -1) used to run no trip without a word, and a constant step
// of 0 would never end. A step known only at run time is checked when the loop starts.
TEST(Range, ConstantStepThatIsNotPositiveIsATraceError) {
  expect_trace_error("down",
                     [](KernelBuilder& b) {
                       for (Val j : range(i32(10), i32(0), -1)) static_cast<void>(j);
                       static_cast<void>(b);
                     },
                     {"range: step -1 is not positive", "count upwards"});
  expect_trace_error("still",
                     [](KernelBuilder& b) {
                       for (Val j : range(u32(0), b.scalar_u32("n"), 0u)) static_cast<void>(j);
                     },
                     {"range: step 0 is not positive"});
  EXPECT_NO_THROW(trace("runtime_step", KernelMode::Grid3D, [](KernelBuilder& b) {
    for (Val j : range(u32(0), b.scalar_u32("n"), b.scalar_u32("step"))) static_cast<void>(j);
  }));
}

TEST(Range, IteratingTwiceIsAnError) {
  expect_trace_error("twice",
                     [](KernelBuilder& b) {
                       Range r = range(b.scalar_u32("n"));
                       for (Val j : r) static_cast<void>(j);
                       for (Val j : r) static_cast<void>(j);
                     },
                     {"range", "only once"});
}

TEST(Range, BreakingOutLeavesTheLoopOpenAndIsAnError) {
  expect_trace_error("break",
                     [](KernelBuilder& b) {
                       for (Val j : range(b.scalar_u32("n"))) {
                         static_cast<void>(j);
                         break;
                       }
                     },
                     {"left open"});
}

}  // namespace
}  // namespace mt
