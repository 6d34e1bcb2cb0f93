// eliminate_dead_code: unused pure ops and local reads go, to a fixed point; unread locals go
// with their writes; empty loops and ifs go; loads, stores and requires always stay.
#include "metaltile/passes/eliminate_dead_code.hpp"

#include <gtest/gtest.h>

#include "metaltile/core/print.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "passes/expect_pass.hpp"

namespace mt {
namespace {

using passes::eliminate_dead_code;
using test::expect_pass;
using test::expect_unchanged;

TEST(EliminateDeadCode, EverythingUsedLeavesTheKernelUnchanged) {
  Kernel k = trace("live", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val ok = n > 0;
    b.require(ok, "n > 0");
    Val i = program_id(0);
    Var acc(f32(0.0f), "acc");
    for (Val j : range(n)) acc += in[j];
    if_(ok, [&] { out[i] = acc; });
  });
  expect_unchanged(eliminate_dead_code, k);
}

TEST(EliminateDeadCode, RemovesUnusedChainsButKeepsLoads) {
  Kernel k = trace("chains", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::U32);
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Val a = i * 3;
    Val c = a + 1;
    static_cast<void>(c.to(DType::F32));
    Val x = in[i];  // unused, but a checked launch must still see the access
    static_cast<void>(x + 1);
    out[i] = i;
  });
  expect_pass(eliminate_dead_code, k,
              "kernel chains mode=Grid3D\n"
              "  param in: input u32\n"
              "  param out: output u32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %6: u32 = load in[%0]\n"
              "  store out[%0] = %0\n"
              "}\n");
}

TEST(EliminateDeadCode, RemovesUnreadLocalsAndRenumbersTheRest) {
  Kernel k = trace("locals", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val i = program_id(0);
    Var dead(u32(0), "dead");
    Var live(u32(1), "live");
    dead = i * 2;  // written, never read: the write and then its operands go
    live += i;
    out[i] = live;
  });
  expect_pass(eliminate_dead_code, k,
              "kernel locals mode=Grid3D\n"
              "  param out: output u32\n"
              "  local live: u32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %2: u32 = const 1\n"
              "  write live = %2\n"
              "  %5: u32 = read live\n"
              "  %6: u32 = add %5, %0\n"
              "  write live = %6\n"
              "  %7: u32 = read live\n"
              "  store out[%0] = %7\n"
              "}\n");
}

TEST(EliminateDeadCode, RemovesEmptyLoopsAndIfs) {
  Kernel k = trace("empty", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::U32);
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    Val i = program_id(0);
    for (Val j : range(n)) static_cast<void>(j * 2);  // body empties, then the loop goes
    Val c = i < n;
    if_(c, [&] { static_cast<void>(i + 1); }).else_([&] { static_cast<void>(i + 2); });
    for (Val j : range(n)) static_cast<void>(in[j].load());  // a load: stays
    if_(c, [&] { out[i] = i; });                             // a store: stays
  });
  expect_pass(eliminate_dead_code, k,
              "kernel empty mode=Grid3D\n"
              "  param in: input u32\n"
              "  param out: output u32\n"
              "  param n: scalar u32\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = program_id 0\n"
              "  %7: bool = lt %1, %0\n"
              "  %12: u32 = const 0\n"
              "  %13: u32 = const 1\n"
              "  for %14: u32 in [%12, %0) step %13 {\n"
              "    %15: u32 = load in[%14]\n"
              "  }\n"
              "  if %7 {\n"
              "    store out[%1] = %1\n"
              "  }\n"
              "}\n");
}

TEST(EliminateDeadCode, CleansTheContractButKeepsRequires) {
  Kernel k = trace("contract", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    b.require(n < 64, "n < 64");
    out[program_id(0)] = n;
  });
  // An unused constant at the top of the contract, as folding leaves them.
  Instr unused = make::constant(k, DType::U32, Scalar::of_int(7));
  k.contract.instrs.insert(k.contract.instrs.begin(), unused);
  expect_pass(eliminate_dead_code, k,
              "kernel contract mode=Grid3D\n"
              "  param out: output u32\n"
              "  param n: scalar u32\n"
              "contract {\n"
              "  %3: u32 = scalar n\n"
              "  %4: u32 = const 64\n"
              "  %5: bool = lt %3, %4\n"
              "  require %5 \"n < 64\"\n"
              "}\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %6: u32 = program_id 0\n"
              "  store out[%6] = %0\n"
              "}\n");
}

TEST(EliminateDeadCode, KeepsEffectsCooperationAndArrayLoads) {
  // Unused results of barriers' kin stay: a collective is cooperation (removing one changes
  // which threads take part), an atomic writes, an array load may read what nothing wrote.
  Kernel k = trace("coop", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor counts = b.output("counts", DType::U32);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, 32);
    ArrayRef hist = b.threadgroup_array("hist", DType::U32, 32);
    Val t = thread_id(0);
    Val x = b.scalar_f32("x");
    tile[t] = x;
    barrier();
    Val a = tile[t];
    warp_barrier();
    warp_sum(a);
    warp_shuffle_down(a, 1);
    warp_exclusive_prefix_sum(a);
    threadgroup_min(a);
    threadgroup_argmax(a, t);
    atomic_or(counts, t, t);
    atomic_max(hist, t, t);
    Tensor src = b.input("src", DType::F32);
    ArrayRef v = load_vector(src, t, 4);
    Tensor out = b.output("out", DType::F32);
    store_vector(out, t, v, 4);
  });
  expect_unchanged(eliminate_dead_code, k);
}

TEST(EliminateDeadCode, RemovesUnusedThreadIdentityAndUnnamedArrays) {
  Kernel k = trace("unused", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    b.threadgroup_array("spare", DType::F32, 1024);  // never used: no memory for it
    ArrayRef acc = b.thread_array("acc", DType::F32, 2);
    b.thread_array("unused", DType::U32, 8);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, 32);
    lane_id();
    warp_id();
    threads_per_threadgroup(1);
    threadgroups_per_grid(2);
    Val t = thread_id(0);
    acc[0] = f32(1);
    tile[t] = acc[0];
    barrier();
    out[t] = tile[t];
  });
  expect_pass(eliminate_dead_code, k,
              "kernel unused mode=Reduction\n"
              "  param out: output f32\n"
              "  array acc: thread f32[2]\n"
              "  array tile: threadgroup f32[32]\n"
              "body {\n"
              "  %4: u32 = thread_id 0\n"
              "  %5: f32 = const 1\n"
              "  %6: u32 = const 0\n"
              "  array_store acc[%6] = %5\n"
              "  %7: u32 = const 0\n"
              "  %8: f32 = array_load acc[%7]\n"
              "  array_store tile[%4] = %8\n"
              "  barrier\n"
              "  %9: f32 = array_load tile[%4]\n"
              "  store out[%4] = %9\n"
              "}\n");
}

// Arrays named only as fragments of a tensor-core op are used; the renumbering reaches them.
TEST(EliminateDeadCode, KeepsAndRenumbersFragmentArrays) {
  Kernel k = trace("fragments", KernelMode::Reduction, [](KernelBuilder& b) {
    b.thread_array("spare", DType::F32, 4);
    const Fragments a = fragments("a", FragmentRole::A, DType::F16);
    const Fragments w = fragments("w", FragmentRole::B, DType::F16);
    const Fragments acc = fragments("acc", FragmentRole::Accumulator, DType::F16);
    mma(acc[0], a[0], w[0], acc[0]);
    b.output("out", DType::F32);
  });
  k = eliminate_dead_code(k);
  verify(k);
  ASSERT_EQ(k.arrays.size(), 3u);
  EXPECT_EQ(k.arrays[0].name, "a");
  EXPECT_NE(print(k).find("mma acc[0..4) = a[0..8) * w[0..4) + acc[0..4)"), std::string::npos)
      << print(k);
}

// Operand arrays named only by a warpgroup MMA are used too, and renumbered with the rest.
TEST(EliminateDeadCode, KeepsAndRenumbersWarpgroupOperandArrays) {
  Kernel k = trace("wg_operands", KernelMode::Reduction, [](KernelBuilder& b) {
    b.threadgroup_array("spare", DType::F32, 4);
    const ArrayRef sa = b.threadgroup_array("sa", DType::BF16, 1024);
    const ArrayRef sb = b.threadgroup_array("sb", DType::BF16, 1024);
    const WarpgroupAccumulator acc = warpgroup_accumulator("acc", 8);
    warpgroup_fence();
    warpgroup_mma(acc, {sa, u32(0), Swizzle::Bytes128, 0, 1024},
                  {sb, u32(0), Swizzle::Bytes128, 0, 1024});
    b.output("out", DType::F32);
  });
  k = eliminate_dead_code(k);
  verify(k);
  ASSERT_EQ(k.arrays.size(), 3u);
  EXPECT_EQ(k.arrays[0].name, "sa");
  EXPECT_NE(print(k).find("acc[0..4) += sa[%"), std::string::npos) << print(k);
  EXPECT_NE(print(k).find("* sb[%"), std::string::npos) << print(k);
}

}  // namespace
}  // namespace mt
