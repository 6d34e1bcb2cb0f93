// Warpgroup MMA on every backend (CUDA: sm_90 devices only, said when skipped): one 64 x n x 16
// MMA from operands stored at a plain oracle's addresses of each swizzle mode (small integers:
// every summation order gives the same bits, so the comparison is exact), and a k-loop GEMM
// with tails fed by copy_async into the 128-byte-swizzled tiles of mt::swizzle, against an
// f64 oracle. The interpreter reports misuse: an accumulator read before the wait, an MMA by
// part of a warpgroup, a missing fence, operand memory overwritten while an MMA reads it, a
// group ending with MMAs in flight, a start the warpgroup's threads disagree on, and a
// swizzled start off the first row of its pattern.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "metaltile/dsl/dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt::test {
namespace {

// Warpgroup MMA needs sm_90 on CUDA; elsewhere the test says it did not run there.
bool runs_warpgroup_mma(const Context& ctx) {
  if (ctx.backend() != Backend::Cuda || ctx.description().find("sm_90") != std::string::npos) {
    return true;
  }
  std::cout << "*** warpgroup MMA not run on " << ctx.description() << ": it needs sm_90\n";
  return false;
}

// Where element (row, k) of a k-major operand lives, in elements, for each layout the test
// uses (written as tiles, independently of core/warpgroup.cpp's address arithmetic): rows of
// the swizzle's width whose 16-byte chunks are XORed with the row's place in the pattern, or
// (no swizzle) 8 x 8 core matrices with the row groups outermost ("rows") or the two k halves
// outermost, for an operand of `rows` rows.
struct Layout {
  Swizzle swizzle;
  bool k_outer = false;  // no swizzle: the k halves outermost
};

std::uint32_t oracle_index(const Layout& l, std::uint32_t rows, std::uint32_t r, std::uint32_t k) {
  switch (l.swizzle) {
    case Swizzle::None:
      return l.k_outer ? k / 8 * rows * 8 + r / 8 * 64 + r % 8 * 8 + k % 8
                       : r / 8 * 128 + k / 8 * 64 + r % 8 * 8 + k % 8;
    case Swizzle::Bytes32: return r * 16 + ((k / 8) ^ (r / 4 % 2)) * 8 + k % 8;
    case Swizzle::Bytes64: return r * 32 + ((k / 8) ^ (r / 2 % 4)) * 8 + k % 8;
    case Swizzle::Bytes128: return r * 64 + ((k / 8) ^ (r % 8)) * 8 + k % 8;
  }
  return 0;
}

std::uint32_t tile_elements(const Layout& l, std::uint32_t rows) {
  return l.swizzle == Swizzle::None ? rows * 16 : rows * swizzle_row_bytes(l.swizzle) / 2;
}

MatrixDescriptor descriptor(const ArrayRef& shared, const Layout& l, std::uint32_t rows) {
  if (l.swizzle != Swizzle::None) {
    // The leading offset is unused with a swizzle: one 16-byte unit, as the PTX ISA assumes.
    return {shared, u32(0), l.swizzle, 16, 8 * swizzle_row_bytes(l.swizzle)};
  }
  return l.k_outer ? MatrixDescriptor{shared, u32(0), l.swizzle, rows * 16, 128}
                   : MatrixDescriptor{shared, u32(0), l.swizzle, 128, 256};
}

// out = a * bᵀ + c for one warpgroup: a [64, 16], b [n, 16], c and out [64, n], f32. The
// operands are stored element by element at a_at / b_at (the oracle's indices).
Kernel one_mma_kernel(DType t, std::uint32_t n, const Layout& la, const Layout& lb) {
  const std::string name = "wg_once_" + std::string(name_of(t)) + "_n" + std::to_string(n) + "_" +
                           std::string(swizzle_name(la.swizzle)) + (la.k_outer ? "_kouter" : "");
  return trace(name, KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor a = b.input("a", t), bt = b.input("b", t);
    const Tensor a_at = b.input("a_at", DType::U32), b_at = b.input("b_at", DType::U32);
    const Tensor c = b.input("c", DType::F32), out = b.output("out", DType::F32);
    const ArrayRef sa = b.threadgroup_array("sa", t, tile_elements(la, kWarpgroupM));
    const ArrayRef sb = b.threadgroup_array("sb", t, tile_elements(lb, n));
    const Val tid = thread_id(0);
    for (std::uint32_t j = 0; j < kWarpgroupM * kWarpgroupK / kWarpgroupSize; ++j) {
      const Val i = tid + j * kWarpgroupSize;
      sa[a_at[i]] = a[i];
    }
    for (std::uint32_t j = 0; j < n * kWarpgroupK / kWarpgroupSize; ++j) {
      const Val i = tid + j * kWarpgroupSize;
      sb[b_at[i]] = bt[i];
    }
    const WarpgroupAccumulator acc = warpgroup_accumulator("acc", n);
    for (std::uint32_t e = 0; e < acc.size(); ++e) acc[e] = c[acc.row(e) * n + acc.col(e)];
    fence_async_shared();
    barrier();
    warpgroup_fence();
    warpgroup_mma(acc, descriptor(sa, la, kWarpgroupM), descriptor(sb, lb, n));
    warpgroup_commit();
    warpgroup_wait(0);
    for (std::uint32_t e = 0; e < acc.size(); ++e) out[acc.row(e) * n + acc.col(e)] = acc[e];
  });
}

std::vector<float> small_integers(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-3, 3);
  std::vector<float> v(count);
  for (float& x : v) x = static_cast<float>(d(rng));
  return v;
}

void check_one_mma(Context& ctx, DType t, std::uint32_t n, const Layout& la, const Layout& lb) {
  SCOPED_TRACE(std::string(name_of(t)) + " n " + std::to_string(n) + " " +
               std::string(swizzle_name(la.swizzle)) + (la.k_outer ? " k-outer" : ""));
  const std::vector<float> a = small_integers(kWarpgroupM * kWarpgroupK, 1 + n);
  const std::vector<float> b = small_integers(n * kWarpgroupK, 2 + n);
  const std::vector<float> c = small_integers(kWarpgroupM * n, 3 + n);
  std::vector<std::uint32_t> a_at(a.size()), b_at(b.size());
  for (std::uint32_t r = 0; r < kWarpgroupM; ++r) {
    for (std::uint32_t k = 0; k < kWarpgroupK; ++k) {
      a_at[r * kWarpgroupK + k] = oracle_index(la, kWarpgroupM, r, k);
    }
  }
  for (std::uint32_t r = 0; r < n; ++r) {
    for (std::uint32_t k = 0; k < kWarpgroupK; ++k) {
      b_at[r * kWarpgroupK + k] = oracle_index(lb, n, r, k);
    }
  }
  std::vector<float> expected(kWarpgroupM * n);
  for (std::uint32_t r = 0; r < kWarpgroupM; ++r) {
    for (std::uint32_t col = 0; col < n; ++col) {
      float sum = c[r * n + col];
      for (std::uint32_t k = 0; k < kWarpgroupK; ++k) {
        sum += a[r * kWarpgroupK + k] * b[col * kWarpgroupK + k];
      }
      expected[r * n + col] = sum;  // small integers: exact in any order
    }
  }
  BufferMap buffers{{"a", pack(a, t)},          {"b", pack(b, t)},
                    {"a_at", pack_u32(a_at)},   {"b_at", pack_u32(b_at)},
                    {"c", pack(c, DType::F32)}, {"out", poisoned(expected.size(), DType::F32)}};
  const DispatchResult r = ctx.dispatch_with_grid(one_mma_kernel(t, n, la, lb), buffers, {},
                                                  {1, 1, 1}, {kWarpgroupSize, 1, 1});
  expect_close(unpack(r.outputs.at("out"), DType::F32), expected, 0, 0, "out");
}

TEST(Warpgroup, OneMmaInEachSwizzleMode) {
  for_each_backend([](Context& ctx) {
    if (!runs_warpgroup_mma(ctx)) return;
    for (Swizzle s : {Swizzle::Bytes128, Swizzle::Bytes64, Swizzle::Bytes32, Swizzle::None}) {
      check_one_mma(ctx, DType::BF16, 64, {s}, {s});
    }
    check_one_mma(ctx, DType::F16, 64, {Swizzle::Bytes128}, {Swizzle::Bytes128});
    check_one_mma(ctx, DType::BF16, 32, {Swizzle::None, true}, {Swizzle::None, true});
  });
}

TEST(Warpgroup, OneMmaAtEveryWidth) {
  for_each_backend([](Context& ctx) {
    if (!runs_warpgroup_mma(ctx)) return;
    for (std::uint32_t n : {8u, 24u, 128u, 256u}) {
      check_one_mma(ctx, DType::BF16, n, {Swizzle::Bytes128}, {Swizzle::Bytes64});
    }
  });
}

// out [m, n] = a [m, k] · b [n, k]ᵀ for m <= 64, n <= kLoopN by one warpgroup: k walked in
// 64-wide slices, each copied with copy_async into 64-element rows stored with mt::swizzle
// (zeros past m, n and k), then four MMAs whose operands start 16 elements further along the
// rows. One stage: the copies of the next slice wait until the MMAs of this one retired.
constexpr std::uint32_t kLoopN = 64, kSlice = 64;

Kernel k_loop_kernel(DType t) {
  return trace("wg_k_loop_" + std::string(name_of(t)), KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor a = b.input("a", t), bt = b.input("b", t), out = b.output("out", DType::F32);
    const Val m = b.scalar_u32("m"), n = b.scalar_u32("n"), kk = b.scalar_u32("k");
    const ArrayRef sa = b.threadgroup_array("sa", t, kWarpgroupM * kSlice);
    const ArrayRef sb = b.threadgroup_array("sb", t, kLoopN * kSlice);
    const WarpgroupAccumulator acc = warpgroup_accumulator("acc", kLoopN);
    acc.fill(f32(0));
    const Val tid = thread_id(0);
    for (const Val& k0 : range(u32(0), kk, u32(kSlice))) {
      // 8-element chunks: 64 rows x 8 chunks of a, as many of b; 4 per thread each.
      for (std::uint32_t j = 0; j < kWarpgroupM * kSlice / 8 / kWarpgroupSize; ++j) {
        const Val chunk = tid + j * kWarpgroupSize, row = chunk / 8u, col = chunk % 8u * 8u;
        copy_async(sa, swizzle(row, col, kSlice, t), a, row * kk + k0 + col, 8,
                   row < m && k0 + col < kk);
        copy_async(sb, swizzle(row, col, kSlice, t), bt, row * kk + k0 + col, 8,
                   row < n && k0 + col < kk);
      }
      copy_async_commit();
      copy_async_wait(0);
      fence_async_shared();
      barrier();
      warpgroup_fence();
      for (std::uint32_t step = 0; step < kSlice / kWarpgroupK; ++step) {
        warpgroup_mma(acc, {sa, u32(step * kWarpgroupK), Swizzle::Bytes128, 16, 1024},
                      {sb, u32(step * kWarpgroupK), Swizzle::Bytes128, 16, 1024});
      }
      warpgroup_commit();
      warpgroup_wait(0);
      barrier();  // every warpgroup's reads of the tiles are done: the next slice may land
    }
    for (std::uint32_t e = 0; e < acc.size(); ++e) {
      const Val r = acc.row(e), c = acc.col(e);
      if_(r < m && c < n, [&] { out[r * n + c] = acc[e]; });
    }
  });
}

void check_k_loop(Context& ctx, DType t, std::uint32_t m, std::uint32_t n, std::uint32_t k) {
  SCOPED_TRACE(std::string(name_of(t)) + " m " + std::to_string(m) + " n " + std::to_string(n) +
               " k " + std::to_string(k));
  std::mt19937 rng(7 + k);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> a(std::size_t{m} * k), b(std::size_t{n} * k);
  for (float& x : a) x = d(rng);
  for (float& x : b) x = d(rng);
  a = round_all(a, t);
  b = round_all(b, t);
  std::vector<float> expected(std::size_t{m} * n);
  double magnitude = 0;
  for (std::uint32_t i = 0; i < m; ++i) {
    for (std::uint32_t j = 0; j < n; ++j) {
      double sum = 0, abs_sum = 0;
      for (std::uint32_t x = 0; x < k; ++x) {
        const double p = double{a[i * k + x]} * b[j * k + x];
        sum += p;
        abs_sum += std::fabs(p);
      }
      expected[i * n + j] = static_cast<float>(sum);
      magnitude = std::max(magnitude, abs_sum);
    }
  }
  BufferMap buffers{{"a", pack(a, t)},
                    {"b", pack(b, t)},
                    {"m", pack_u32(std::vector<std::uint32_t>{m})},
                    {"n", pack_u32(std::vector<std::uint32_t>{n})},
                    {"k", pack_u32(std::vector<std::uint32_t>{k})},
                    {"out", poisoned(expected.size(), DType::F32)}};
  const DispatchResult r =
      ctx.dispatch_with_grid(k_loop_kernel(t), buffers, {}, {1, 1, 1}, {kWarpgroupSize, 1, 1});
  // Tensor cores sum in an unspecified order: 2^-16 of the largest sum of magnitudes.
  expect_close(unpack(r.outputs.at("out"), DType::F32), expected, std::ldexp(magnitude, -16) + 1e-6,
               1e-6, "out");
}

TEST(Warpgroup, KLoopGemmWithTails) {
  for_each_backend([](Context& ctx) {
    if (!runs_warpgroup_mma(ctx)) return;
    check_k_loop(ctx, DType::BF16, 64, 64, 256);
    check_k_loop(ctx, DType::BF16, 50, 40, 168);  // tails in m, n and k
    check_k_loop(ctx, DType::F16, 1, 64, 8);
  });
}

// --- the interpreter's reports ----------------------------------------------------------------

enum class Misuse {
  None,
  ReadBeforeWait,
  NoFence,
  OverwriteInFlight,
  EndInFlight,
  SplitStart,
  SwizzledStartOffPattern,
  NoAsyncProxyFence
};

Kernel misuse_kernel(Misuse what) {
  return trace("wg_misuse", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::F32);
    const ArrayRef sa = b.threadgroup_array("sa", DType::BF16, 1024);
    const Val tid = thread_id(0);
    if_(tid < 128u, [&] {
      for (std::uint32_t j = 0; j < 8; ++j) sa[tid + j * 128u] = constant(DType::BF16, 1);
    });
    const WarpgroupAccumulator acc = warpgroup_accumulator("acc", 8);
    acc.fill(f32(0));
    if (what != Misuse::NoAsyncProxyFence) fence_async_shared();
    barrier();
    if (what != Misuse::NoFence) warpgroup_fence();
    const Val start = what == Misuse::SplitStart ? tid / 64u * 512u : u32(0);
    if (what == Misuse::SwizzledStartOffPattern) {  // byte 128: the pattern's second row
      warpgroup_mma(acc, {sa, u32(64), Swizzle::Bytes128, 0, 1024},
                    {sa, u32(0), Swizzle::None, 128, 256});
    } else {
      warpgroup_mma(acc, {sa, start, Swizzle::None, 128, 256},
                    {sa, u32(0), Swizzle::None, 128, 256});
    }
    warpgroup_commit();
    if (what == Misuse::ReadBeforeWait) out[tid] = acc[1];
    if (what == Misuse::OverwriteInFlight) sa[tid] = constant(DType::BF16, 2);
    if (what == Misuse::EndInFlight) return;
    warpgroup_wait(0);
    out[tid] = acc[0];
  });
}

TEST(Warpgroup, InterpreterReportsMisuse) {
  Context ctx = Context::create(Backend::Cpu);
  const auto run = [&](Misuse what, std::uint32_t threads = 128) {
    BufferMap buffers{{"out", poisoned(256, DType::F32)}};
    return error_of([&] {
      ctx.dispatch_with_grid(misuse_kernel(what), buffers, {}, {1, 1, 1}, {threads, 1, 1});
    });
  };
  expect_mentions(run(Misuse::ReadBeforeWait), {"kernel 'wg_misuse'", "accumulator 'acc'[1]",
                                                "in flight", "warpgroup_wait", "array_load"});
  expect_mentions(run(Misuse::NoFence),
                  {"kernel 'wg_misuse'", "warpgroup 0", "no warpgroup_fence", "warpgroup_mma"});
  expect_mentions(
      run(Misuse::OverwriteInFlight),
      {"kernel 'wg_misuse'", "array 'sa'", "warpgroup_mma reading it is in flight", "array_store"});
  expect_mentions(run(Misuse::EndInFlight),
                  {"kernel 'wg_misuse'", "warpgroup 0", "ends with warpgroup_mma in flight"});
  expect_mentions(run(Misuse::SplitStart), {"kernel 'wg_misuse'", "operand A starts at 512",
                                            "one descriptor per warpgroup"});
  expect_mentions(run(Misuse::SwizzledStartOffPattern), {"kernel 'wg_misuse'", "operand A in 'sa'",
                                                         "byte 128", "first row", "128B swizzle"});
  expect_mentions(run(Misuse::NoAsyncProxyFence),
                  {"kernel 'wg_misuse'", "operand A reads 'sa'", "no fence_async_shared"});
  expect_mentions(run(Misuse::ReadBeforeWait, 64),
                  {"kernel 'wg_misuse'", "whole warpgroup of 128 threads", "has 64 threads"});
  // The context stays usable, and the well-ordered kernel (all ones, two warpgroups) gives
  // 16 everywhere.
  BufferMap buffers{{"out", poisoned(256, DType::F32)}};
  const DispatchResult r =
      ctx.dispatch_with_grid(misuse_kernel(Misuse::None), buffers, {}, {1, 1, 1}, {256, 1, 1});
  expect_close(unpack(r.outputs.at("out"), DType::F32), std::vector<float>(256, 16.0f), 0, 0,
               "out");
}

}  // namespace
}  // namespace mt::test
