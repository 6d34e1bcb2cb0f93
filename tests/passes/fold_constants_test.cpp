// fold_constants: constant evaluation, exact integer identities, constant control flow, and
// the float identities and traps it must refuse.
#include "metaltile/passes/fold_constants.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "passes/expect_pass.hpp"

namespace mt {
namespace {

using passes::fold_constants;
using test::expect_pass;
using test::expect_unchanged;

TEST(FoldConstants, NothingToFoldLeavesTheKernelUnchanged) {
  Kernel k = trace("copy", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::U32);
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val x = in[i];
    out[i] = x + i;
  });
  expect_unchanged(fold_constants, k);
}

TEST(FoldConstants, EvaluatesOpsOnConstants) {
  Kernel k = trace("fold", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Tensor outf = b.output("outf", DType::F32);
    Val i = program_id(0);
    Val five = u32(2) + 3;
    out[i] = five * i;
    Val sixteen = f32(16.0f);
    Val root = sqrt(sixteen) + 0.5f;  // 4.5
    Val seven = u32(7);
    Val sevenf = seven.to(DType::F32);
    outf[i] = root * sevenf;  // 31.5
  });
  expect_pass(fold_constants, k,
              "kernel fold mode=Grid3D\n"
              "  param out: output u32\n"
              "  param outf: output f32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: u32 = const 2\n"
              "  %2: u32 = const 3\n"
              "  %3: u32 = const 5\n"
              "  %4: u32 = mul %3, %0\n"
              "  store out[%0] = %4\n"
              "  %5: f32 = const 16\n"
              "  %6: f32 = const 4\n"
              "  %7: f32 = const 0.5\n"
              "  %8: f32 = const 4.5\n"
              "  %9: u32 = const 7\n"
              "  %10: f32 = const 7\n"
              "  %11: f32 = const 31.5\n"
              "  store outf[%0] = %11\n"
              "}\n");
}

TEST(FoldConstants, DivisionByZeroIsLeftForTheRunToReport) {
  Kernel k = trace("div0", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::I32);
    Val i = program_id(0);
    Val seven = i32(7);
    Val zero = i32(0);
    Val q = test::unchecked_division(OpKind::Div, seven, zero);
    Val r = test::unchecked_division(OpKind::Rem, seven, zero);
    out[i] = q + r;
  });
  expect_unchanged(fold_constants, k);
}

// Found by the fuzzer: the folded literal is an E5M2 infinity, which the verifier rejected.
TEST(FoldConstants, FoldsABitcastToAnE5M2Infinity) {
  Kernel k = trace("inf8", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F8E5M2);
    Val code = constant(DType::U8, 0x7C);
    Val inf = code.bitcast(DType::F8E5M2);
    out[program_id(0)] = inf;
  });
  expect_pass(fold_constants, k,
              "kernel inf8 mode=Grid3D\n"
              "  param out: output f8e5m2\n"
              "body {\n"
              "  %0: u8 = const 124\n"
              "  %1: f8e5m2 = const inf\n"
              "  %2: u32 = program_id 0\n"
              "  store out[%2] = %1\n"
              "}\n");
}

// Found by the fuzzer: the folded literal lost the NaN's sign, so the folded kernel stored
// 0x7F where the unfolded one stores 0xFF (the printer shows both as nan: run them).
TEST(FoldConstants, FoldingABitcastToAnFp8NaNKeepsItsSign) {
  Kernel k = trace("nan8", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F8E5M2);
    Val code = constant(DType::U8, 0xFF);
    Val nan = code.bitcast(DType::F8E5M2);
    out[program_id(0)] = nan;
  });
  const std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  for (const Kernel& run : {k, fold_constants(k)}) {
    std::vector<std::uint8_t> out(1, 0xA5);
    Argument arg{out, Scalar{}};
    cpu->launch(*cpu->compile(run), {&arg, 1}, LaunchDims{});
    EXPECT_EQ(out[0], 0xFF) << print(run);
  }
}

TEST(FoldConstants, RefusesFloatIdentities) {
  // x*0 is NaN for inf and -0 for negative x; x+0 is +0 for x = -0; x/x is NaN for 0 and inf.
  Kernel k = trace("float_ids", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val i = program_id(0);
    Val x = in[i];
    Val zero = f32(0.0f);
    Val one = f32(1.0f);
    Val a = x * zero;
    Val c = a + zero;
    Val d = c - zero;
    Val e = d * one;
    out[i] = e / x;
  });
  expect_unchanged(fold_constants, k);
}

TEST(FoldConstants, AppliesExactIntegerIdentities) {
  Kernel k = trace("int_ids", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val zero = u32(0);
    Val one = u32(1);
    Val ones = u32(0xffffffffu);
    Val a = i + zero;
    Val c = zero + a;
    Val d = c - zero;
    Val e = d * one;
    Val f = one * e;
    Val g = f / one;
    Val h = g | zero;
    Val m = h ^ zero;
    Val n = m & ones;
    Val p = n << zero;
    Val q = p >> zero;
    out[i] = q;
    Val z = q * zero;
    Val w = zero & q;
    out[z] = w;
    Val kept = zero - q;  // 0 - x is not x
    out[kept] = q;
  });
  expect_pass(fold_constants, k,
              "kernel int_ids mode=Grid3D\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: u32 = const 0\n"
              "  %2: u32 = const 1\n"
              "  %3: u32 = const 4294967295\n"
              "  store out[%0] = %0\n"
              "  %15: u32 = const 0\n"
              "  %16: u32 = const 0\n"
              "  store out[%15] = %16\n"
              "  %17: u32 = sub %1, %0\n"
              "  store out[%17] = %0\n"
              "}\n");
}

TEST(FoldConstants, AllOnesDependsOnTheType) {
  Kernel k = trace("all_ones", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::I32);
    Val i = program_id(0).to(DType::I32);
    Val minus_one = i32(-1);
    Val max = i32(0x7fffffff);
    Val a = i & minus_one;  // all ones: a is i
    Val c = a & max;        // not all ones: stays
    out[i] = c;
  });
  expect_pass(fold_constants, k,
              "kernel all_ones mode=Grid3D\n"
              "  param out: output i32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: i32 = cast %0\n"
              "  %2: i32 = const -1\n"
              "  %3: i32 = const 2147483647\n"
              "  %5: i32 = and %1, %3\n"
              "  store out[%1] = %5\n"
              "}\n");
}

TEST(FoldConstants, SelectWithAConstantConditionPicksItsArm) {
  Kernel k = trace("select", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val i = program_id(0);
    Val x = in[i];
    Val y = x * 2.0f;
    Val yes = u32(1) < 2;
    out[i] = select(yes, x, y);
    Val maybe = i < 2;
    out[i] = select(maybe, x, y);  // not constant: stays
  });
  expect_pass(fold_constants, k,
              "kernel select mode=Grid3D\n"
              "  param in: input f32\n"
              "  param out: output f32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: f32 = load in[%0]\n"
              "  %2: f32 = const 2\n"
              "  %3: f32 = mul %1, %2\n"
              "  %4: u32 = const 1\n"
              "  %5: u32 = const 2\n"
              "  %6: bool = const true\n"
              "  store out[%0] = %1\n"
              "  %8: u32 = const 2\n"
              "  %9: bool = lt %0, %8\n"
              "  %10: f32 = select %9, %1, %3\n"
              "  store out[%0] = %10\n"
              "}\n");
}

TEST(FoldConstants, IfWithAConstantConditionInlinesTheTakenArm) {
  Kernel k = trace("branches", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val yes = u32(1) == 1;
    if_(yes, [&] { out[i] = u32(10); }).else_([&] { out[i] = u32(20); });
    Val no = u32(1) > 2;
    if_(no, [&] { out[i] = u32(30); }).else_([&] { out[i] = u32(40); });
    Val unknown = i < 4;
    if_(unknown, [&] { out[i] = u32(2) + 3; });  // stays; its arm is folded
  });
  expect_pass(fold_constants, k,
              "kernel branches mode=Grid3D\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: u32 = const 1\n"
              "  %2: u32 = const 1\n"
              "  %3: bool = const true\n"
              "  %4: u32 = const 10\n"
              "  store out[%0] = %4\n"
              "  %6: u32 = const 1\n"
              "  %7: u32 = const 2\n"
              "  %8: bool = const false\n"
              "  %10: u32 = const 40\n"
              "  store out[%0] = %10\n"
              "  %11: u32 = const 4\n"
              "  %12: bool = lt %0, %11\n"
              "  if %12 {\n"
              "    %13: u32 = const 2\n"
              "    %14: u32 = const 3\n"
              "    %15: u32 = const 5\n"
              "    store out[%0] = %15\n"
              "  }\n"
              "}\n");
}

TEST(FoldConstants, RemovesLoopsWithZeroTrips) {
  Kernel k = trace("loops", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val two = u32(2);
    Val four = u32(4);
    Val big = u32(0xffffffffu);
    for (Val j : range(four, two)) out[j] = i;  // lo > hi: removed
    for (Val j : range(two, two)) out[j] = i;   // lo == hi: removed
    for (Val j : range(big, two)) out[j] = i;   // unsigned compare: removed
    for (Val j : range(two, four)) out[j] = i;  // two trips: stays
    Val lo = i32(-1);
    Val hi = i32(1);
    for (Val j : range(lo, hi)) out[j] = i;  // signed compare: two trips, stays
    for (Val j : range(i)) out[j] = i;       // unknown trips: stays
  });
  expect_pass(fold_constants, k,
              "kernel loops mode=Grid3D\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: u32 = const 2\n"
              "  %2: u32 = const 4\n"
              "  %3: u32 = const 4294967295\n"
              "  %4: u32 = const 1\n"
              "  %6: u32 = const 1\n"
              "  %8: u32 = const 1\n"
              "  %10: u32 = const 1\n"
              "  for %11: u32 in [%1, %2) step %10 {\n"
              "    store out[%11] = %0\n"
              "  }\n"
              "  %12: i32 = const -1\n"
              "  %13: i32 = const 1\n"
              "  %14: i32 = const 1\n"
              "  for %15: i32 in [%12, %13) step %14 {\n"
              "    store out[%15] = %0\n"
              "  }\n"
              "  %16: u32 = const 0\n"
              "  %17: u32 = const 1\n"
              "  for %18: u32 in [%16, %0) step %17 {\n"
              "    store out[%18] = %0\n"
              "  }\n"
              "}\n");
}

TEST(FoldConstants, RewritesUsesInsideNestedBlocks) {
  Kernel k = trace("nested_uses", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val a = i + 0;
    for (Val j : range(a)) {
      Val c = i < j;
      if_(c, [&] { out[j] = a; });
    }
  });
  expect_pass(fold_constants, k,
              "kernel nested_uses mode=Grid3D\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: u32 = const 0\n"
              "  %3: u32 = const 0\n"
              "  %4: u32 = const 1\n"
              "  for %5: u32 in [%3, %0) step %4 {\n"
              "    %6: bool = lt %0, %5\n"
              "    if %6 {\n"
              "      store out[%5] = %0\n"
              "    }\n"
              "  }\n"
              "}\n");
}

TEST(FoldConstants, FoldsTheContractAndDropsRequiresThatHold) {
  Kernel k = trace("contract", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    Val limit = u32(8) * 2;
    b.require(n < limit, "n < 16");
    Val always = u32(1) < 2;
    b.require(always, "1 < 2");
    out[program_id(0)] = n;
  });
  expect_pass(fold_constants, k,
              "kernel contract mode=Grid3D\n"
              "  param out: output u32\n"
              "  param n: scalar u32\n"
              "contract {\n"
              "  %5: u32 = scalar n\n"
              "  %6: u32 = const 8\n"
              "  %7: u32 = const 2\n"
              "  %8: u32 = const 16\n"
              "  %9: bool = lt %5, %8\n"
              "  require %9 \"n < 16\"\n"
              "  %13: u32 = const 1\n"
              "  %14: u32 = const 2\n"
              "  %15: bool = const true\n"
              "}\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = const 8\n"
              "  %2: u32 = const 2\n"
              "  %3: u32 = const 16\n"
              "  %4: bool = lt %0, %3\n"
              "  %10: u32 = const 1\n"
              "  %11: u32 = const 2\n"
              "  %12: bool = const true\n"
              "  %16: u32 = program_id 0\n"
              "  store out[%16] = %0\n"
              "}\n");
}

TEST(FoldConstants, ThreadIdentityAndCollectivesAreNotConstants) {
  // threads_per_threadgroup is a launch value, not a compile-time one; a collective of a
  // constant is still cooperation, and atomics and array loads are memory.
  Kernel k = trace("tg", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    ArrayRef tile = b.threadgroup_array("tile", DType::U32, 32);
    Val tpg = threads_per_threadgroup(0);
    Val t = thread_id(0);
    Val two = u32(2);
    Val s = warp_sum(two);
    Val m = threadgroup_max(two);
    Val sh = warp_shuffle(two, t);
    tile[two] = two;
    barrier();
    Val a = tile[two];
    Val old = atomic_add(out, two, two);
    Val all = tpg + t + s + m + sh + a + old;
    out[t] = all;
  });
  expect_unchanged(fold_constants, k);
}

TEST(FoldConstants, IdentitiesApplyToThreadIndices) {
  Kernel k = trace("ids", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val t = thread_id(1);
    Val scaled = t * 1u;
    Val shifted = lane_id() + 0u;
    out[scaled] = shifted;
  });
  expect_pass(fold_constants, k,
              "kernel ids mode=Reduction\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = thread_id 1\n"
              "  %1: u32 = const 1\n"
              "  %3: u32 = lane_id\n"
              "  %4: u32 = const 0\n"
              "  store out[%0] = %3\n"
              "}\n");
}

TEST(FoldConstants, AnIfWithAConstantConditionInlinesItsBarrier) {
  Kernel k = trace("arm", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, 32);
    Val t = thread_id(0);
    tile[t] = f32(1);
    Val yes = u32(1) == 1u;
    if_(yes, [&] { barrier(); }).else_([&] { warp_barrier(); });
    out[t] = tile[t];
  });
  expect_pass(fold_constants, k,
              "kernel arm mode=Reduction\n"
              "  param out: output f32\n"
              "  array tile: threadgroup f32[32]\n"
              "body {\n"
              "  %0: u32 = thread_id 0\n"
              "  %1: f32 = const 1\n"
              "  array_store tile[%0] = %1\n"
              "  %2: u32 = const 1\n"
              "  %3: u32 = const 1\n"
              "  %4: bool = const true\n"
              "  barrier\n"
              "  %5: f32 = array_load tile[%0]\n"
              "  store out[%0] = %5\n"
              "}\n");
}

}  // namespace
}  // namespace mt
