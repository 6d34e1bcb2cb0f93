// eliminate_common_subexpressions: duplicates merge within a block and from enclosing blocks,
// never across arms or out of a loop, and never for loads or local reads.
#include "metaltile/passes/eliminate_common_subexpressions.hpp"

#include <gtest/gtest.h>

#include "metaltile/dsl/dsl.hpp"
#include "passes/expect_pass.hpp"

namespace mt {
namespace {

using passes::eliminate_common_subexpressions;
using test::expect_pass;
using test::expect_unchanged;

TEST(EliminateCommonSubexpressions, NoDuplicatesLeavesTheKernelUnchanged) {
  Kernel k = trace("distinct", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val j = program_id(1);
    Val a = i - j;
    Val c = j - i;  // sub is not commutative
    out[a] = c;
  });
  expect_unchanged(eliminate_common_subexpressions, k);
}

TEST(EliminateCommonSubexpressions, MergesDuplicatesAndCommutedOperands) {
  Kernel k = trace("dups", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val i2 = program_id(0);
    Val a = i * 3;
    Val c = i2 * 3;  // same as a once i2 is i
    Val s = a + i;
    Val t = i2 + c;  // add commutes: same as s
    Val u = a - i;
    Val v = i - a;  // not the same as u
    out[s] = t;
    out[u] = v;
  });
  expect_pass(eliminate_common_subexpressions, k,
              "kernel dups mode=Grid3D\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %2: u32 = const 3\n"
              "  %3: u32 = mul %0, %2\n"
              "  %6: u32 = add %3, %0\n"
              "  %8: u32 = sub %3, %0\n"
              "  %9: u32 = sub %0, %3\n"
              "  store out[%6] = %6\n"
              "  store out[%8] = %9\n"
              "}\n");
}

TEST(EliminateCommonSubexpressions, NeverMergesLoadsOrLocalReads) {
  Kernel k = trace("memory", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val i = program_id(0);
    Val x = in[i];
    Val y = in[i];
    Var acc(x, "acc");
    Val r1 = acc;
    out[i] = y;
    Val r2 = acc;
    out[i] = r1 + r2;
  });
  expect_unchanged(eliminate_common_subexpressions, k);
}

TEST(EliminateCommonSubexpressions, ReusesOnlyValuesThatDominate) {
  Kernel k = trace("scopes", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    Val i = program_id(0);
    Val outer = i * 2;
    for (Val j : range(n)) {
      Val inner = i * 2;  // the enclosing block's value reaches the body
      Val loop_only = i + 5;
      out[j] = inner + loop_only;
    }
    Val after = i + 5;  // the loop's value does not reach here
    Val c = i < n;
    if_(c, [&] { out[i] = i * 7; }).else_([&] { out[i] = i * 7; });  // arms stay apart
    out[after] = outer;
  });
  expect_pass(eliminate_common_subexpressions, k,
              "kernel scopes mode=Grid3D\n"
              "  param out: output u32\n"
              "  param n: scalar u32\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = program_id 0\n"
              "  %2: u32 = const 2\n"
              "  %3: u32 = mul %1, %2\n"
              "  %4: u32 = const 0\n"
              "  %5: u32 = const 1\n"
              "  for %6: u32 in [%4, %0) step %5 {\n"
              "    %9: u32 = const 5\n"
              "    %10: u32 = add %1, %9\n"
              "    %11: u32 = add %3, %10\n"
              "    store out[%6] = %11\n"
              "  }\n"
              "  %12: u32 = const 5\n"
              "  %13: u32 = add %1, %12\n"
              "  %14: bool = lt %1, %0\n"
              "  if %14 {\n"
              "    %15: u32 = const 7\n"
              "    %16: u32 = mul %1, %15\n"
              "    store out[%1] = %16\n"
              "  } else {\n"
              "    %17: u32 = const 7\n"
              "    %18: u32 = mul %1, %17\n"
              "    store out[%1] = %18\n"
              "  }\n"
              "  store out[%13] = %3\n"
              "}\n");
}

TEST(EliminateCommonSubexpressions, KeepsZeroAndNegativeZeroApart) {
  Kernel k = trace("zeros", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    Val i = program_id(0);
    Val zero = f32(0.0f);
    Val minus_zero = f32(-0.0f);
    Val zero_again = f32(0.0f);
    out[i] = zero;
    out[i] = minus_zero;
    out[i] = zero_again;
  });
  expect_pass(eliminate_common_subexpressions, k,
              "kernel zeros mode=Grid3D\n"
              "  param out: output f32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: f32 = const 0\n"
              "  %2: f32 = const -0\n"
              "  store out[%0] = %1\n"
              "  store out[%0] = %2\n"
              "  store out[%0] = %1\n"
              "}\n");
}

TEST(EliminateCommonSubexpressions, MergesInTheContractButKeepsEveryRequire) {
  Kernel k = trace("contract", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    Val ok = n < 64;
    b.require(ok, "first");
    b.require(ok, "second");
    out[program_id(0)] = n;
  });
  expect_pass(eliminate_common_subexpressions, k,
              "kernel contract mode=Grid3D\n"
              "  param out: output u32\n"
              "  param n: scalar u32\n"
              "contract {\n"
              "  %3: u32 = scalar n\n"
              "  %4: u32 = const 64\n"
              "  %5: bool = lt %3, %4\n"
              "  require %5 \"first\"\n"
              "  require %5 \"second\"\n"
              "}\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = const 64\n"
              "  %2: bool = lt %0, %1\n"
              "  %9: u32 = program_id 0\n"
              "  store out[%9] = %0\n"
              "}\n");
}

TEST(EliminateCommonSubexpressions, MergesThreadIdentityPerAxis) {
  Kernel k = trace("ids", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val t = thread_id(0);
    Val t2 = thread_id(0);  // the same thread, the same index
    Val y = thread_id(1);   // another axis
    Val lane = lane_id();
    Val lane2 = lane_id();
    Val g = threadgroup_id(0);
    Val g2 = threadgroup_id(0);
    out[t] = t2 + y;
    out[lane] = lane2 + g + g2;
  });
  expect_pass(eliminate_common_subexpressions, k,
              "kernel ids mode=Reduction\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = thread_id 0\n"
              "  %2: u32 = thread_id 1\n"
              "  %3: u32 = lane_id\n"
              "  %5: u32 = threadgroup_id 0\n"
              "  %7: u32 = add %0, %2\n"
              "  store out[%0] = %7\n"
              "  %8: u32 = add %3, %5\n"
              "  %9: u32 = add %8, %5\n"
              "  store out[%3] = %9\n"
              "}\n");
}

TEST(EliminateCommonSubexpressions, NeverMergesCooperationOrArrayMemory) {
  // Each collective is its own act of cooperation; array contents change between loads (here
  // across a barrier); atomics change memory.
  Kernel k = trace("coop", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    Tensor counts = b.output("counts", DType::U32);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, 32);
    Val t = thread_id(0);
    Val x = b.scalar_f32("x");
    tile[t] = x;
    barrier();
    Val a = tile[t];
    barrier();
    Val a2 = tile[t];
    barrier();
    Val s = warp_sum(a);
    Val s2 = warp_sum(a);
    Val m = threadgroup_max(a);
    Val m2 = threadgroup_max(a);
    Val sh = warp_shuffle_xor(a, t);
    Val sh2 = warp_shuffle_xor(a, t);
    Val p = warp_prefix_sum(a);
    Val p2 = warp_prefix_sum(a);
    ArgMax best = threadgroup_argmax(a, t);
    ArgMax best2 = threadgroup_argmax(a, t);
    Val one = u32(1);
    Val c = atomic_add(counts, t, one);
    Val c2 = atomic_add(counts, t, one);
    out[t] = a + a2 + s + s2 + m + m2 + sh + sh2 + p + p2;
    counts[t] = best.index + best2.index + c + c2;
  });
  expect_unchanged(eliminate_common_subexpressions, k);
}

}  // namespace
}  // namespace mt
