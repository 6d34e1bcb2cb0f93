// unroll_loops: short constant-trip loops become copies of their body with fresh ids; loops it
// cannot prove (unknown bounds, bad steps, barriers, collectives, too long) stay, and
// optimise() keeps the interpreter's results bit for bit.
#include "metaltile/passes/unroll_loops.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "metaltile/passes/specialise_scalars.hpp"
#include "metaltile/runtime/context.hpp"
#include "passes/expect_pass.hpp"
#include "support/bytes.hpp"

namespace mt {
namespace {

using passes::unroll_loops;
using test::expect_pass;
using test::expect_unchanged;

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(UnrollLoops, CopiesTheBodyOncePerTrip) {
  // j = 1, 3, 5: ceil((6 - 1) / 2) = 3 trips.
  Kernel k = trace("sum3", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val i = program_id(0);
    Var acc(f32(0.0f), "acc");
    for (Val j : range(u32(1), u32(6), 2)) acc += in[i + j];
    out[i] = acc;
  });
  // Fresh ids from %11 on; the accumulator's reads and writes stay in trip order.
  expect_pass(unroll_loops, k,
              "kernel sum3 mode=Grid3D\n"
              "  param in: input f32\n"
              "  param out: output f32\n"
              "  local acc: f32\n"
              "body {\n"
              "  %0: u32 = program_id 0\n"
              "  %1: f32 = const 0\n"
              "  write acc = %1\n"
              "  %2: u32 = const 6\n"
              "  %3: u32 = const 1\n"
              "  %4: u32 = const 2\n"
              "  %11: u32 = const 1\n"
              "  %12: u32 = add %0, %11\n"
              "  %13: f32 = load in[%12]\n"
              "  %14: f32 = read acc\n"
              "  %15: f32 = add %14, %13\n"
              "  write acc = %15\n"
              "  %16: u32 = const 3\n"
              "  %17: u32 = add %0, %16\n"
              "  %18: f32 = load in[%17]\n"
              "  %19: f32 = read acc\n"
              "  %20: f32 = add %19, %18\n"
              "  write acc = %20\n"
              "  %21: u32 = const 5\n"
              "  %22: u32 = add %0, %21\n"
              "  %23: f32 = load in[%22]\n"
              "  %24: f32 = read acc\n"
              "  %25: f32 = add %24, %23\n"
              "  write acc = %25\n"
              "  %10: f32 = read acc\n"
              "  store out[%0] = %10\n"
              "}\n");
}

TEST(UnrollLoops, NonConstantBoundsStay) {
  Kernel k = trace("unknown", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    for (Val j : range(u32(0), n)) out[j] = j;
    for (Val j : range(n, u32(4))) out[j] = j;
    for (Val j : range(u32(0), u32(4), n)) out[j] = j;
  });
  expect_unchanged(unroll_loops, k);
}

// Steps of 0 and -1 (specialised: the DSL refuses them as literals) and loops of no trip.
TEST(UnrollLoops, BadStepsAndZeroTripsStay) {
  Kernel k = trace("steps", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::I32);
    Val still = b.scalar_i32("still"), back = b.scalar_i32("back");
    for (Val j : range(i32(0), i32(4), still)) out[j] = j;  // the run reports the step
    for (Val j : range(i32(0), i32(4), back)) out[j] = j;   // likewise
    for (Val j : range(i32(3), i32(3))) out[j] = j;         // zero trips: fold_constants' job
    for (Val j : range(i32(5), i32(2))) out[j] = j;
  });
  k = passes::specialise_scalars(k, {{"still", Scalar::of_int(0)}, {"back", Scalar::of_int(-1)}});
  expect_unchanged(unroll_loops, k);
}

TEST(UnrollLoops, BarriersAndCollectivesStay) {
  Kernel k = trace("sync", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, 64);
    Val t = thread_id(0);
    for (Val j : range(u32(0), u32(2))) {
      tile[t] = j.to(DType::F32);
      barrier();
      out[t] = tile[t + j];
    }
    for (Val j : range(u32(0), u32(2))) {
      Val x = j.to(DType::F32);
      if_(t < 32u, [&] { out[t + j] = warp_sum(x); });  // nested deep in the body
    }
  });
  expect_unchanged(unroll_loops, k);
}

TEST(UnrollLoops, TripAndSizeLimits) {
  auto stores = [](std::uint32_t trips, int per_trip) {
    return trace("limits", KernelMode::Grid3D, [&](KernelBuilder& b) {
      Tensor out = b.output("out", DType::U32);
      Val one = u32(1);
      for (Val j : range(u32(0), u32(trips))) {
        for (int s = 0; s < per_trip; ++s) out[j] = one;
      }
    });
  };
  expect_unchanged(unroll_loops, stores(17, 1));   // 17 trips
  expect_unchanged(unroll_loops, stores(16, 16));  // 16 * (1 const + 16 stores) = 272 > 256
  const std::string most = print(unroll_loops(stores(16, 15)));  // 16 * 16 = 256: unrolls
  EXPECT_EQ(count_of(most, "for "), 0u) << most;
  EXPECT_EQ(count_of(most, "store out"), 16u * 15u) << most;
  for (std::uint32_t j = 0; j < 16; ++j) {  // each trip's constant, before its copy
    EXPECT_EQ(count_of(most, "u32 = const " + std::to_string(j) + "\n  store out[%"), 1u)
        << "the const for trip " << j << " in:\n"
        << most;
  }
}

TEST(UnrollLoops, SignedBoundsCountExactly) {
  // i32 j = -5, -2, 1: ceil((2 - -5) / 3) = 3 trips, and the constants keep their sign.
  Kernel k = trace("signed", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::I32);
    for (Val j : range(i32(-5), i32(2), 3)) out[j + 5] = j;
  });
  expect_pass(unroll_loops, k,
              "kernel signed mode=Grid3D\n"
              "  param out: output i32\n"
              "body {\n"
              "  %0: i32 = const 2\n"
              "  %1: i32 = const -5\n"
              "  %2: i32 = const 3\n"
              "  %6: i32 = const -5\n"
              "  %7: i32 = const 5\n"
              "  %8: i32 = add %6, %7\n"
              "  store out[%8] = %6\n"
              "  %9: i32 = const -2\n"
              "  %10: i32 = const 5\n"
              "  %11: i32 = add %9, %10\n"
              "  store out[%11] = %9\n"
              "  %12: i32 = const 1\n"
              "  %13: i32 = const 5\n"
              "  %14: i32 = add %12, %13\n"
              "  store out[%14] = %12\n"
              "}\n");
}

TEST(UnrollLoops, NestedLoopsUnrollInnermostFirst) {
  Kernel k = trace("nested", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    for (Val j : range(n)) {  // unknown trips: stays, its inner loop unrolls
      for (Val m : range(u32(0), u32(2))) out[j * 2u + m] = m;
    }
    for (Val j : range(u32(0), u32(2))) {  // both constant: the whole nest unrolls
      for (Val m : range(u32(0), u32(2))) {
        Val at = j * 2u + m;
        out[at] = at;
      }
    }
  });
  // The inner loops' bound constants stay behind for eliminate_dead_code. In the full nest the
  // inner loop unrolled first (ids %30..%37, now gone with the outer body), then each outer
  // copy renamed its two inner copies afresh.
  expect_pass(unroll_loops, k,
              "kernel nested mode=Grid3D\n"
              "  param out: output u32\n"
              "  param n: scalar u32\n"
              "body {\n"
              "  %0: u32 = scalar n\n"
              "  %1: u32 = const 0\n"
              "  %2: u32 = const 1\n"
              "  for %3: u32 in [%1, %0) step %2 {\n"
              "    %4: u32 = const 2\n"
              "    %5: u32 = const 0\n"
              "    %6: u32 = const 1\n"
              "    %22: u32 = const 0\n"
              "    %23: u32 = const 2\n"
              "    %24: u32 = mul %3, %23\n"
              "    %25: u32 = add %24, %22\n"
              "    store out[%25] = %22\n"
              "    %26: u32 = const 1\n"
              "    %27: u32 = const 2\n"
              "    %28: u32 = mul %3, %27\n"
              "    %29: u32 = add %28, %26\n"
              "    store out[%29] = %26\n"
              "  }\n"
              "  %11: u32 = const 2\n"
              "  %12: u32 = const 0\n"
              "  %13: u32 = const 1\n"
              "  %38: u32 = const 0\n"
              "  %39: u32 = const 2\n"
              "  %40: u32 = const 0\n"
              "  %41: u32 = const 1\n"
              "  %42: u32 = const 0\n"
              "  %43: u32 = const 2\n"
              "  %44: u32 = mul %38, %43\n"
              "  %45: u32 = add %44, %42\n"
              "  store out[%45] = %45\n"
              "  %46: u32 = const 1\n"
              "  %47: u32 = const 2\n"
              "  %48: u32 = mul %38, %47\n"
              "  %49: u32 = add %48, %46\n"
              "  store out[%49] = %49\n"
              "  %50: u32 = const 1\n"
              "  %51: u32 = const 2\n"
              "  %52: u32 = const 0\n"
              "  %53: u32 = const 1\n"
              "  %54: u32 = const 0\n"
              "  %55: u32 = const 2\n"
              "  %56: u32 = mul %50, %55\n"
              "  %57: u32 = add %56, %54\n"
              "  store out[%57] = %57\n"
              "  %58: u32 = const 1\n"
              "  %59: u32 = const 2\n"
              "  %60: u32 = mul %50, %59\n"
              "  %61: u32 = add %60, %58\n"
              "  store out[%61] = %61\n"
              "}\n");
}

// Each thread i sums in[i*4 + j] * w[j] over j < 4, clipping negative products to zero, and
// counts the clipped ones in a nested constant loop.
Kernel weighted_rows() {
  return trace("weighted_rows", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor w = b.input("w", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Tensor counts = b.output("counts", DType::U32);
    Val i = program_id(0);
    Var acc(f32(0.0f), "acc");
    Var clipped(u32(0), "clipped");
    Val width = u32(2) * 2u;  // folds to 4 before unrolling
    for (Val j : range(u32(0), width)) {
      Val p = in[i * width + j] * w[j];
      if_(p > 0.0f, [&] { acc += p; }).else_([&] { clipped += 1; });
    }
    out[i] = acc;
    counts[i] = clipped;
  });
}

TEST(UnrollLoops, OptimiseKeepsTheInterpretersResults) {
  constexpr std::uint32_t kRows = 8, kWidth = 4;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> in(kRows * kWidth), w(kWidth);
  for (float& x : in) x = dist(rng);
  for (float& x : w) x = dist(rng);

  const Kernel traced = weighted_rows();
  const std::string optimised = print(passes::optimise(traced));
  EXPECT_EQ(count_of(optimised, "for "), 0u) << "the loop was not unrolled:\n" << optimised;

  // Traced kernel, unoptimised, straight on the interpreter.
  std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  test::Bytes in_bytes = test::pack(in, DType::F32);
  test::Bytes w_bytes = test::pack(w, DType::F32);
  test::Bytes out_bytes = test::poisoned(kRows, DType::F32);
  test::Bytes count_bytes = test::poisoned(kRows, DType::U32);
  std::vector<Argument> args(4);
  args[0].bytes = in_bytes;
  args[1].bytes = w_bytes;
  args[2].bytes = out_bytes;
  args[3].bytes = count_bytes;
  LaunchDims dims;
  dims.tpg = {kRows, 1, 1};
  cpu->launch(*cpu->compile(traced), args, dims);

  // The same kernel through the Context, which optimises (and so unrolls) before compiling.
  const Context ctx = Context::create(Backend::Cpu);
  const BufferMap buffers = {{"in", in_bytes},
                             {"w", w_bytes},
                             {"out", test::poisoned(kRows, DType::F32)},
                             {"counts", test::poisoned(kRows, DType::U32)}};
  const DispatchResult r = ctx.dispatch_with_grid(traced, buffers, {}, {1, 1, 1}, {kRows, 1, 1});

  // A plain oracle, so both runs agreeing on a wrong answer cannot pass.
  std::vector<float> expected_out(kRows);
  std::vector<std::uint32_t> expected_counts(kRows);
  for (std::uint32_t i = 0; i < kRows; ++i) {
    float acc = 0.0f;
    for (std::uint32_t j = 0; j < kWidth; ++j) {
      const float p = in[i * kWidth + j] * w[j];
      if (p > 0.0f) {
        acc += p;
      } else {
        ++expected_counts[i];
      }
    }
    expected_out[i] = acc;
  }
  const std::vector<float> before_out = test::unpack(out_bytes, DType::F32);
  const std::vector<std::uint32_t> before_counts = test::unpack_u32(count_bytes);
  ASSERT_EQ(before_out.size(), kRows);
  test::expect_close(std::span(before_out).first(kRows), expected_out, 0.0, 0.0,
                     "traced kernel vs oracle");
  test::expect_equal(std::span(before_counts).first(kRows), expected_counts,
                     "traced kernel counts vs oracle");

  // Bit-identical: the unrolled adds happen in the same order.
  const std::vector<float> after_out = test::unpack(r.outputs.at("out"), DType::F32);
  const std::vector<std::uint32_t> after_counts = test::unpack_u32(r.outputs.at("counts"));
  ASSERT_EQ(after_out.size(), kRows);
  ASSERT_EQ(after_counts.size(), kRows);
  for (std::uint32_t i = 0; i < kRows; ++i) {
    EXPECT_EQ(std::bit_cast<std::uint32_t>(after_out[i]),
              std::bit_cast<std::uint32_t>(before_out[i]))
        << "out[" << i << "]: traced " << before_out[i] << ", optimised " << after_out[i];
    EXPECT_EQ(after_counts[i], before_counts[i]) << "counts[" << i << "]";
  }
}

}  // namespace
}  // namespace mt
