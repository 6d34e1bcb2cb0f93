// Dense GEMM (a * bᵀ) x {f16, bf16} on every backend against an f64 oracle, launched by name:
// the entry (its rule picks a variant) and every variant on its own, with tails in every
// dimension (M, N not multiples of the block, K not a multiple of the k slice, K not a
// multiple of 8 through the entry's own kernel); every precondition error; and a pipelined kernel
// written with the tile layer that waits one stage too few, which the interpreter rejects as
// a race. CPU shapes stay small: the interpreter computes every mma from its fragments.
#include "metaltile/kernels/mlx/gemm.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/tile.hpp"
#include "metaltile/dsl/warpgroup_tile.hpp"
#include "metaltile/kernels/launch_plan.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;

struct Shape {
  std::uint32_t m, n, k;
  std::string text() const {
    return "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k);
  }
};

struct Problem {
  Shape s;
  std::vector<float> a, b;
};

Problem problem(const Shape& s, DType t, std::uint64_t seed) {
  return {s, mt::test::rows::random_values(std::size_t{s.m} * s.k, seed, t, -1.0f, 1.0f),
          mt::test::rows::random_values(std::size_t{s.n} * s.k, seed + 1, t, -1.0f, 1.0f)};
}

mt::BufferMap buffers(const Problem& p, DType t) {
  return {{"a", mt::test::pack(p.a, t)},
          {"b", mt::test::pack(p.b, t)},
          {"out", mt::test::poisoned(std::size_t{p.s.m} * p.s.n, t)},
          {"m", le_bytes(p.s.m)},
          {"n", le_bytes(p.s.n)},
          {"k", le_bytes(p.s.k)}};
}

// Within ulp_T(ref) + 2^-16 * sum_k |a_k b_k| of the f64 product (the accumulation order of
// the tensor cores is unspecified). NaN fails.
void expect_gemm(const mt::DispatchResult& r, const Problem& p, DType t) {
  const std::vector<float> got = mt::test::unpack(r.outputs.at("out"), t);
  ASSERT_EQ(got.size(), std::size_t{p.s.m} * p.s.n);
  const double ulp = t == DType::BF16 ? std::ldexp(1.0, -7) : std::ldexp(1.0, -10);
  int failures = 0;
  for (std::uint32_t i = 0; i < p.s.m; ++i) {
    for (std::uint32_t j = 0; j < p.s.n; ++j) {
      double sum = 0, magnitude = 0;
      for (std::uint32_t q = 0; q < p.s.k; ++q) {
        const double x = double{p.a[i * p.s.k + q]} * p.b[j * p.s.k + q];
        sum += x;
        magnitude += std::fabs(x);
      }
      const double tolerance = ulp * std::fabs(sum) + std::ldexp(magnitude, -16) + 1e-7;
      const float v = got[i * p.s.n + j];
      if (!(std::fabs(v - sum) <= tolerance) && ++failures <= 10) {
        ADD_FAILURE() << "out[" << i << ", " << j << "]: expected " << sum << ", got " << v
                      << " (tolerance " << tolerance << ")";
      }
    }
  }
  EXPECT_EQ(failures, 0);
}

const std::vector<std::string>& variants() {
  static const std::vector<std::string> names = {"gemm",
                                                 "gemm_128x128_s3",
                                                 "gemm_128x128_s4",
                                                 "gemm_128x128_w8",
                                                 "gemm_128x256_s3",
                                                 "gemm_128x128_s3_u",
                                                 "gemm_128x256_s3_u",
                                                 "gemm_64x64_s2"};
  return names;
}

// Tails everywhere: M and N past a block (and under one), K past a slice; the smallest legal
// sizes; K = 72 runs two slices of 64 with a tail of 8, K = 40 one of 32 and a tail of 8.
std::vector<Shape> shapes(const mt::Context& ctx) {
  std::vector<Shape> all = {{1, 1, 8}, {33, 40, 72}, {70, 9, 40}};
  if (ctx.backend() == mt::Backend::Cuda) {
    all.insert(all.end(), {{129, 257, 200}, {300, 136, 520}, {512, 384, 1024}});
  }
  return all;
}

// Variants that need sm_90 (warpgroup MMA), on the interpreter and on sm_90 (said when CUDA is
// another architecture, naming them as `what`): the shapes of every variant plus `cpu_shape` on
// the interpreter.
void expect_sm90_variants_match(mt::Context& ctx, const std::string& what,
                                const std::vector<const char*>& names, const Shape& cpu_shape,
                                std::uint64_t seed) {
  if (ctx.backend() == mt::Backend::Cuda && ctx.description().find("sm_90") == std::string::npos) {
    std::cout << "*** " << what << " not run on " << ctx.description() << ": they need sm_90\n";
    return;
  }
  std::vector<Shape> all = shapes(ctx);
  if (ctx.backend() == mt::Backend::Cpu) all.push_back(cpu_shape);
  for (DType t : {DType::F16, DType::BF16}) {
    for (const Shape& s : all) {
      const Problem p = problem(s, t, seed += 2);
      for (const char* name : names) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " " + name);
        expect_gemm(mt::kernels::run(ctx, name, t, buffers(p, t)), p, t);
      }
    }
  }
}

// The warpgroup MMA variants, with K = 200 (four slices with a tail of 8) on the CPU, so the
// ring of stages wraps around.
TEST(MlxGemm, WarpgroupVariantsMatchTheOracleWithTails) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    expect_sm90_variants_match(ctx, "gemm_wgmma_*", {"gemm_wgmma_128x128", "gemm_wgmma_128x256"},
                               {65, 130, 200}, 11);
  });
}

// The bulk-copy variants. Tails in every dimension come from the copies' zeros past the tensor
// maps' extents; on the CPU, K = 424 runs 7 slices through the 6 (4) stages, so the producer
// refills stages after waiting on their `empty` barriers, in blocks past M and N, and the
// consumers end with a slice outside the pairs they take (K = 72: one pair; K = 8: one slice).
TEST(MlxGemm, BulkCopyVariantsMatchTheOracleWithTails) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    expect_sm90_variants_match(ctx, "gemm_wgmma_tma_*",
                               {"gemm_wgmma_tma_128x128", "gemm_wgmma_tma_128x256"},
                               {130, 140, 424}, 41);
  });
}

TEST(MlxGemm, EveryVariantMatchesTheOracleWithTails) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 5;
    for (DType t : {DType::F16, DType::BF16}) {
      for (const Shape& s : shapes(ctx)) {
        const Problem p = problem(s, t, seed += 2);
        for (const std::string& name : variants()) {
          SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " " + name);
          expect_gemm(mt::kernels::run(ctx, name, t, buffers(p, t)), p, t);
        }
      }
    }
  });
}

// K not a multiple of 8: the entry runs its own element-wise kernel; the aligned variants
// refuse it.
TEST(MlxGemm, AnyKRunsThroughTheUnalignedVariant) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Shape& s : {Shape{17, 23, 13}, Shape{65, 3, 37}}) {
      const Problem p = problem(s, DType::BF16, 3);
      SCOPED_TRACE(s.text());
      expect_gemm(mt::kernels::run(ctx, "gemm", DType::BF16, buffers(p, DType::BF16)), p,
                  DType::BF16);
      mt::test::expect_mentions(mt::test::error_of([&] {
                                  mt::kernels::run(ctx, "gemm_64x64_s2", DType::BF16,
                                                   buffers(p, DType::BF16));
                                }),
                                {"kernel 'gemm_64x64_s2'", "k % 8 == 0"});
    }
  });
}

// The entry's own kernel (element-wise tile loads) launched directly, on aligned k as well, with
// more groups than blocks: the extra groups write nothing.
TEST(MlxGemm, EntryKernelRunsDirectlyWithOverDispatch) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Shape& s : {Shape{33, 40, 72}, Shape{70, 9, 13}}) {
      SCOPED_TRACE(s.text());
      const Problem p = problem(s, DType::F16, 9);
      const std::size_t blocks = (s.m + 63) / 64 * ((s.n + 63) / 64);
      expect_gemm(
          ctx.dispatch_with_grid(mt::kernels::mlx::gemm::gemm::kernel_ir_for(DType::F16),
                                 buffers(p, DType::F16), {},
                                 {static_cast<std::uint32_t>(blocks + 3), 1, 1}, {128, 1, 1}),
          p, DType::F16);
    }
  });
}

TEST(MlxGemm, PreconditionErrorsNameKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F16;
    const Problem p = problem({5, 6, 16}, t, 1);
    const auto error = [&](const mt::BufferMap& b) {
      return mt::test::error_of([&] { mt::kernels::run(ctx, "gemm", t, b); });
    };
    mt::BufferMap bad = buffers(p, t);
    bad["a"] = mt::test::pack(std::vector<float>(79, 0.0f), t);
    mt::test::expect_mentions(error(bad), {"kernel 'gemm'", "param 'a'", "m*k"});
    bad = buffers(p, t);
    bad["b"] = mt::test::pack(std::vector<float>(97, 0.0f), t);
    mt::test::expect_mentions(error(bad), {"kernel 'gemm'", "param 'b'", "n*k"});
    bad = buffers(p, t);
    bad["out"] = mt::test::poisoned(31, t);
    mt::test::expect_mentions(error(bad), {"kernel 'gemm'", "param 'out'", "m*n"});
    bad = buffers(p, t);
    bad["m"] = le_bytes(0u);
    bad["a"] = {};
    bad["out"] = {};
    mt::test::expect_mentions(error(bad), {"kernel 'gemm'", "param 'm'", "positive"});
    // The context stays usable.
    expect_gemm(mt::kernels::run(ctx, "gemm", t, buffers(p, t)), p, t);
  });
}

TEST(MlxGemm, RejectsOtherDTypes) {
  mt::test::expect_mentions(
      mt::test::error_of([] { mt::kernels::mlx::gemm::gemm::kernel_ir_for(DType::F32); }),
      {"kernel 'gemm'", "f32"});
}

// A two-stage pipeline that waits for no copy before multiplying: the warps read a tile whose
// copies are still in flight.
TEST(MlxGemm, InterpreterRejectsAPipelineThatReadsBeforeItsWait) {
  const mt::Kernel k = mt::trace("gemm_race", mt::KernelMode::Reduction, [](mt::KernelBuilder& b) {
    using namespace mt;
    const Tensor a = b.input("a", DType::F16), w = b.input("b", DType::F16);
    const Tensor out = b.output("out", DType::F16);
    const MatrixView va = matrix_view(a, u32(16), u32(32)), vb = matrix_view(w, u32(8), u32(32));
    const SharedTiles sa("a_tiles", DType::F16, 16, 32, 2), sb("b_tiles", DType::F16, 8, 32, 2);
    AccumulatorTile acc("acc", DType::F16, 16, 8);
    copy_tile_async(sa, u32(0), va, u32(0), u32(0), 32, true);
    copy_tile_async(sb, u32(0), vb, u32(0), u32(0), 32, true);
    copy_async_commit();
    copy_async_wait(1);  // should be 0: the only group is still pending
    barrier();
    acc.mma(sa, u32(0), u32(0), sb, u32(0));
    acc.store(matrix_view(out, u32(16), u32(8)), u32(0), u32(0));
  });
  mt::Context ctx = mt::Context::create(mt::Backend::Cpu);
  mt::BufferMap b{{"a", mt::test::pack(std::vector<float>(512, 1.0f), DType::F16)},
                  {"b", mt::test::pack(std::vector<float>(256, 1.0f), DType::F16)},
                  {"out", mt::test::poisoned(128, DType::F16)}};
  mt::test::expect_mentions(
      mt::test::error_of([&] {
        ctx.dispatch_with_grid(k, b, {}, {1, 1, 1}, {32, 1, 1});
      }),
      {"kernel 'gemm_race'", "array 'a_tiles'", "in flight", "race", "load_matrix"});
}

// The warpgroup pipeline with copies one slice too far ahead for the MMAs it keeps in flight:
// slice 2's copies land in stage 0 while slice 0's MMAs may still read it. The interpreter
// reports the write as a race with the MMA in flight.
TEST(MlxGemm, InterpreterRejectsAWarpgroupPipelineThatRefillsAStageInUse) {
  const mt::Kernel k =
      mt::trace("gemm_wg_race", mt::KernelMode::Reduction, [](mt::KernelBuilder& b) {
        using namespace mt;
        const Tensor a = b.input("a", DType::BF16), w = b.input("b", DType::BF16);
        const Tensor out = b.output("out", DType::F32);
        const MatrixView va = matrix_view(a, u32(64), u32(192)),
                         vb = matrix_view(w, u32(8), u32(192));
        const SharedTiles sa("a_tiles", DType::BF16, 64, 64, 2),
            sb("b_tiles", DType::BF16, 8, 64, 2);
        const WarpgroupAccumulator acc = warpgroup_accumulator("acc", 8);
        acc.fill(f32(0));
        const auto load = [&](std::uint32_t slice) {
          copy_tile_async(sa, u32(slice % 2), va, u32(0), u32(slice * 64), 128, true);
          copy_tile_async(sb, u32(slice % 2), vb, u32(0), u32(slice * 64), 128, true);
          copy_async_commit();
        };
        load(0);
        for (std::uint32_t slice = 0; slice < 3; ++slice) {
          copy_async_wait(0);
          fence_async_shared();
          barrier();
          if (slice + 1 < 3) load(slice + 1);  // into the stage of slice - 1, still in flight
          warpgroup_fence();
          warpgroup_mma(acc, sa, u32(slice % 2), u32(0), sb, u32(0));
          warpgroup_commit();
          warpgroup_wait(1);  // should be 0 with two stages
        }
        warpgroup_wait(0);
        store(acc, matrix_view(out, u32(64), u32(8)), u32(0), u32(0));
      });
  mt::Context ctx = mt::Context::create(mt::Backend::Cpu);
  mt::BufferMap b{{"a", mt::test::pack(std::vector<float>(64 * 192, 1.0f), DType::BF16)},
                  {"b", mt::test::pack(std::vector<float>(8 * 192, 1.0f), DType::BF16)},
                  {"out", mt::test::poisoned(512, DType::F32)}};
  mt::test::expect_mentions(mt::test::error_of([&] {
                              ctx.dispatch_with_grid(k, b, {}, {1, 1, 1}, {128, 1, 1});
                            }),
                            {"kernel 'gemm_wg_race'", "array 'a_tiles'",
                             "warpgroup_mma reading it is in flight", "copy_async"});
}

}  // namespace

namespace {

// The entry's rule: 64 x 64 blocks when 128 x 128 ones would not fill the device, then the
// warpgroup MMA where the device has it (sm_90) and mma.sync elsewhere, and its own kernel for
// any k % 8 != 0.
TEST(MlxGemm, RulePicksTheWarpgroupVariantOnlyWhereTheDeviceHasIt) {
  const mt::KernelInfo& info = mt::kernel_info("gemm");
  const auto plan = [&](std::uint32_t m, std::uint32_t n, std::uint32_t k, bool wgmma) {
    mt::DeviceLimits limits;
    limits.multiprocessors = 132;
    limits.warpgroup_mma = wgmma;
    return info.geometry(mt::LaunchShape(
        "gemm", DType::BF16, limits,
        {{"a", std::size_t{m} * k}, {"b", std::size_t{n} * k}, {"out", std::size_t{m} * n}},
        {{"m", mt::Scalar::of_int(m)},
         {"n", mt::Scalar::of_int(n)},
         {"k", mt::Scalar::of_int(k)}}));
  };
  const mt::LaunchPlan big = plan(4096, 4096, 4096, true);
  ASSERT_EQ(big.steps.size(), 1u);
  EXPECT_EQ(big.steps[0].kernel, "gemm_wgmma_tma_128x256");
  EXPECT_EQ(big.steps[0].grid, (std::array<std::size_t, 3>{32 * 16, 1, 1}));
  EXPECT_EQ(big.steps[0].tpg, (std::array<std::size_t, 3>{288, 1, 1}));
  // 80 tiles of 128 x 256 would leave SMs idle; 160 of 128 x 128 fill them.
  const mt::LaunchPlan medium = plan(1024, 2560, 4096, true);
  EXPECT_EQ(medium.steps[0].kernel, "gemm_wgmma_tma_128x128");
  EXPECT_EQ(medium.steps[0].grid, (std::array<std::size_t, 3>{8 * 20, 1, 1}));
  EXPECT_EQ(plan(4096, 4096, 4096, false).steps[0].kernel, "gemm_128x128_s3");
  EXPECT_EQ(plan(256, 256, 4096, true).steps[0].kernel, "gemm_64x64_s2");
  EXPECT_EQ(plan(4096, 4096, 4100, true).steps[0].kernel, "");
}

}  // namespace
