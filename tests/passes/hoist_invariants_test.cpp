// hoist_invariants: invariant pure ops leave their loops (innermost first); loads, ops inside
// ifs and integer divisions that might trap stay.
#include "metaltile/passes/hoist_invariants.hpp"

#include <gtest/gtest.h>

#include "metaltile/dsl/dsl.hpp"
#include "passes/expect_pass.hpp"

namespace mt {
namespace {

using passes::hoist_invariants;
using test::expect_pass;
using test::expect_unchanged;

TEST(HoistInvariants, LoadsVariantOpsAndIfArmsStay) {
  Kernel k = trace("stays", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val s = b.scalar_f32("s");
    for (Val j : range(n)) {
      Val x = in[j];
      Val first = in[n];  // invariant index, but memory is not pure
      Val c = j < n;
      if_(c, [&] {
        Val scaled = s * 2.0f;  // invariant, but only computed when c holds
        out[j] = scaled * x + first;
      });
    }
  });
  expect_unchanged(hoist_invariants, k);
}

TEST(HoistInvariants, MovesInvariantOpsBeforeTheLoop) {
  Kernel k = trace("licm", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val i = program_id(0);
    Val x = in[i];
    Var acc(f32(0.0f), "acc");
    for (Val j : range(n)) {
      Val scale = x * 2.0f;
      Val y = in[i];
      Val jf = j.to(DType::F32);
      acc += scale * jf + y;
    }
    out[i] = acc;
  });
  expect_pass(hoist_invariants, k,
              "kernel licm mode=Grid3D\n"
              "  param in: input f32\n"
              "  param out: output f32\n"
              "  param n: scalar u32\n"
              "  local acc: f32\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = program_id 0\n"
              "  %2: f32 = load in[%1]\n"
              "  %3: f32 = const 0\n"
              "  write acc = %3\n"
              "  %4: u32 = const 0\n"
              "  %5: u32 = const 1\n"
              "  %7: f32 = const 2\n"
              "  %8: f32 = mul %2, %7\n"
              "  for %6: u32 in [%4, %0) step %5 {\n"
              "    %9: f32 = load in[%1]\n"
              "    %10: f32 = cast %6\n"
              "    %11: f32 = mul %8, %10\n"
              "    %12: f32 = add %11, %9\n"
              "    %13: f32 = read acc\n"
              "    %14: f32 = add %13, %12\n"
              "    write acc = %14\n"
              "  }\n"
              "  %15: f32 = read acc\n"
              "  store out[%1] = %15\n"
              "}\n");
}

TEST(HoistInvariants, NestedLoopsHoistInnermostFirst) {
  Kernel k = trace("nested", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val i = program_id(0);
    Val x = in[i];
    for (Val j : range(n)) {
      for (Val m : range(n)) {
        Val s = x * 3.0f;           // invariant in both loops
        Val jf = j.to(DType::F32);  // invariant in the inner loop only
        Val t = jf * s;
        Val row = j * n;
        out[row + m] = t;
      }
    }
  });
  expect_pass(hoist_invariants, k,
              "kernel nested mode=Grid3D\n"
              "  param in: input f32\n"
              "  param out: output f32\n"
              "  param n: scalar u32\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = program_id 0\n"
              "  %2: f32 = load in[%1]\n"
              "  %3: u32 = const 0\n"
              "  %4: u32 = const 1\n"
              "  %6: u32 = const 0\n"
              "  %7: u32 = const 1\n"
              "  %9: f32 = const 3\n"
              "  %10: f32 = mul %2, %9\n"
              "  for %5: u32 in [%3, %0) step %4 {\n"
              "    %11: f32 = cast %5\n"
              "    %12: f32 = mul %11, %10\n"
              "    %13: u32 = mul %5, %0\n"
              "    for %8: u32 in [%6, %0) step %7 {\n"
              "      %14: u32 = add %13, %8\n"
              "      store out[%14] = %12\n"
              "    }\n"
              "  }\n"
              "}\n");
}

TEST(HoistInvariants, IntegerDivisionMovesOnlyWhenItCannotTrap) {
  Kernel k = trace("division", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Tensor outf = b.output("outf", DType::F32);
    Val n = b.scalar_u32("n");
    Val m = b.scalar_u32("m");
    for (Val j : range(n)) {
      Val q = n / m;  // m may be 0 and the loop may not run: stays
      Val r = n % 4;  // a nonzero constant divisor cannot trap: moves
      Val z = test::unchecked_division(OpKind::Div, n, n.literal(0));  // a zero divisor: stays
      out[j] = q + r + z;
    }
    Val zero = u32(0);
    Val four = u32(4);
    for (Val j : range(zero, four)) {
      Val q = n / m;  // the loop runs at least once, so the trap happens anyway: moves
      out[j] = q;
    }
    Val nf = n.to(DType::F32);
    Val mf = m.to(DType::F32);
    for (Val j : range(n)) outf[j] = nf / mf;  // float division never traps: moves
  });
  expect_pass(hoist_invariants, k,
              "kernel division mode=Grid3D\n"
              "  param out: output u32\n"
              "  param outf: output f32\n"
              "  param n: scalar u32\n"
              "  param m: scalar u32\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = scalar m\n"
              "  %2: u32 = const 0\n"
              "  %3: u32 = const 1\n"
              "  %6: u32 = const 4\n"
              "  %7: u32 = rem %0, %6\n"
              "  %8: u32 = const 0\n"
              "  for %4: u32 in [%2, %0) step %3 {\n"
              "    %5: u32 = div %0, %1\n"
              "    %9: u32 = div %0, %8\n"
              "    %10: u32 = add %5, %7\n"
              "    %11: u32 = add %10, %9\n"
              "    store out[%4] = %11\n"
              "  }\n"
              "  %12: u32 = const 0\n"
              "  %13: u32 = const 4\n"
              "  %14: u32 = const 1\n"
              "  %16: u32 = div %0, %1\n"
              "  for %15: u32 in [%12, %13) step %14 {\n"
              "    store out[%15] = %16\n"
              "  }\n"
              "  %17: f32 = cast %0\n"
              "  %18: f32 = cast %1\n"
              "  %19: u32 = const 0\n"
              "  %20: u32 = const 1\n"
              "  %22: f32 = div %17, %18\n"
              "  for %21: u32 in [%19, %0) step %20 {\n"
              "    store outf[%21] = %22\n"
              "  }\n"
              "}\n");
}

TEST(HoistInvariants, PureOpsLeaveLoopsWithBarriersAndCooperationStays) {
  // Pure ops touch no memory: moving them across a barrier changes nothing another thread
  // sees. Array loads, atomics, barriers and collectives stay in the loop even when invariant.
  Kernel k = trace("sync", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    Tensor counts = b.output("counts", DType::U32);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, 64);
    Val n = b.scalar_u32("n");
    Val x = b.scalar_f32("x");
    for (Val j : range(n)) {
      Val t = thread_id(0);  // invariant and pure
      Val lane = lane_id();  // invariant and pure
      Val dbl = x * 2.0f;    // invariant and pure
      tile[t] = dbl;
      barrier();
      Val a = tile[lane];     // invariant operands, but memory
      Val s = warp_sum(dbl);  // invariant operand, but cooperation
      Val m = threadgroup_max(dbl);
      Val c = atomic_add(counts, t, j);
      barrier();
      out[t] = a + s + m;
      counts[lane] = c;
    }
  });
  expect_pass(hoist_invariants, k,
              "kernel sync mode=Reduction\n"
              "  param out: output f32\n"
              "  param counts: output u32\n"
              "  param n: scalar u32\n"
              "  param x: scalar f32\n"
              "  array tile: threadgroup f32[64]\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: f32 = scalar x\n"
              "  %2: u32 = const 0\n"
              "  %3: u32 = const 1\n"
              "  %5: u32 = thread_id 0\n"
              "  %6: u32 = lane_id\n"
              "  %7: f32 = const 2\n"
              "  %8: f32 = mul %1, %7\n"
              "  for %4: u32 in [%2, %0) step %3 {\n"
              "    array_store tile[%5] = %8\n"
              "    barrier\n"
              "    %9: f32 = array_load tile[%6]\n"
              "    %10: f32 = warp_reduce add %8\n"
              "    %11: f32 = threadgroup_reduce max %8\n"
              "    %12: u32 = atomic add counts[%5], %4\n"
              "    barrier\n"
              "    %13: f32 = add %9, %10\n"
              "    %14: f32 = add %13, %11\n"
              "    store out[%5] = %14\n"
              "    store counts[%6] = %12\n"
              "  }\n"
              "}\n");
}

}  // namespace
}  // namespace mt
