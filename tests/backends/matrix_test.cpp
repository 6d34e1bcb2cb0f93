// Tensor cores on every backend: one warp multiplies a 16 x k by a k x 8 matrix (f16, bf16:
// k = 16; i8: k = 32) from fragments filled by plain loads at fragment row()/col(), and again
// through copy_async into a swizzled threadgroup tile and load_matrix (B stored n-major, and
// k-major through the transposing load), against a plain matrix oracle. The interpreter reports
// a read of copy_async-filled memory before its wait, and a warp op reached by part of a warp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
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

constexpr std::uint32_t kM = 16, kN = 8;

std::uint32_t depth(DType t) { return mma_shape(t).k; }

// How a kernel gets its fragments.
enum class Staging { Loads, SharedLayout, SharedTransposedB };

// out[m][n] = sum_k a[m][k] * b[n][k] + c[m][n]; b is n-major (b[n*K + k]) except for
// SharedTransposedB, where it is k-major (b[k*N + n]).
Kernel mma_kernel(DType t, Staging staging) {
  return trace("mma_" + std::string(name_of(t)), KernelMode::Grid3D, [&](KernelBuilder& k) {
    const std::uint32_t K = depth(t);
    const DType acc_t = mma_accumulator_type(t);
    const Tensor a = k.input("a", t), b = k.input("b", t), c = k.input("c", acc_t);
    const Tensor out = k.output("out", acc_t);
    const Fragments fa = fragments("fa", FragmentRole::A, t);
    const Fragments fb = fragments("fb", FragmentRole::B, t);
    const Fragments acc = fragments("acc", FragmentRole::Accumulator, t);
    const Val lane = lane_id();
    if (staging == Staging::Loads) {
      for (std::uint32_t e = 0; e < fa[0].size(); ++e) {
        fa[0][e] = a[fa[0].row(e) * K + fa[0].col(e)];
      }
      for (std::uint32_t e = 0; e < fb[0].size(); ++e) {
        fb[0][e] = b[fb[0].col(e) * K + fb[0].row(e)];
      }
    } else {
      const std::uint32_t chunk = 16 / static_cast<std::uint32_t>(size_of(t));
      const ArrayRef sa = k.threadgroup_array("sa", t, kM * K);
      const ArrayRef sb = k.threadgroup_array("sb", t, kN * K);
      // A: one 16-byte chunk per lane, stored swizzled; B: 16 chunks, from lanes 0..15.
      const Val row = lane * chunk / K, col = lane * chunk % K;
      copy_async(sa, swizzle(row, col, K, t), a, lane * chunk, chunk, lane < 32u);
      if_(lane < 16u, [&] { copy_async(sb, lane * chunk, b, lane * chunk, chunk, lane < 16u); });
      copy_async_commit();
      copy_async_wait(0);
      barrier();
      load_matrix(fa[0], sa, swizzle(lane % 16u, lane / 16u * chunk, K, t));
      if (staging == Staging::SharedLayout) {
        load_matrix(fb[0], sb, lane % 8u * K + lane / 8u % 2u * chunk);
      } else {
        load_matrix(fb[0], sb, lane % 16u * kN, true);
      }
    }
    for (std::uint32_t e = 0; e < acc[0].size(); ++e)
      acc[0][e] = c[acc[0].row(e) * kN + acc[0].col(e)];
    mma(acc[0], fa[0], fb[0], acc[0]);
    for (std::uint32_t e = 0; e < acc[0].size(); ++e)
      out[acc[0].row(e) * kN + acc[0].col(e)] = acc[0][e];
  });
}

std::vector<float> random_values(std::size_t n, DType t, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  if (t == DType::I8 || t == DType::I32) {
    std::uniform_int_distribution<int> d(t == DType::I8 ? -128 : -1000,
                                         t == DType::I8 ? 127 : 1000);
    for (float& x : v) x = static_cast<float>(d(rng));
    return v;
  } else {
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (float& x : v) x = d(rng);
  }
  return round_all(v, t);
}

// Floats in their dtype's bytes; integers (i8, i32) as two's complement.
Bytes pack_any(const std::vector<float>& v, DType t) {
  if (t == DType::I32) return pack_i32(std::vector<std::int32_t>(v.begin(), v.end()));
  if (t != DType::I8) return pack(v, t);
  Bytes out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(v[i]));
  }
  return out;
}

void check_mma(Context& ctx, DType t, Staging staging) {
  SCOPED_TRACE(std::string(name_of(t)) + " staging " + std::to_string(static_cast<int>(staging)));
  const std::uint32_t K = depth(t);
  const DType acc_t = mma_accumulator_type(t);
  const std::vector<float> a = random_values(kM * K, t, 1), b = random_values(kN * K, t, 2);
  const std::vector<float> c = random_values(kM * kN, acc_t, 3);
  const bool k_major = staging == Staging::SharedTransposedB;
  std::vector<float> b_stored = b;  // b[n][k] as given, or k-major
  if (k_major) {
    for (std::uint32_t n = 0; n < kN; ++n)
      for (std::uint32_t kk = 0; kk < K; ++kk) b_stored[kk * kN + n] = b[n * K + kk];
  }
  std::vector<float> expected(kM * kN);
  double magnitude = 0;  // the largest sum of |a*b| of a row and column
  for (std::uint32_t m = 0; m < kM; ++m) {
    for (std::uint32_t n = 0; n < kN; ++n) {
      double sum = c[m * kN + n], abs_sum = 0;
      for (std::uint32_t kk = 0; kk < K; ++kk) {
        sum += double{a[m * K + kk]} * b[n * K + kk];
        abs_sum += std::fabs(double{a[m * K + kk]} * b[n * K + kk]);
      }
      expected[m * kN + n] = static_cast<float>(sum);
      magnitude = std::max(magnitude, abs_sum);
    }
  }
  BufferMap buffers;
  buffers["a"] = pack_any(a, t);
  buffers["b"] = pack_any(b_stored, t);
  buffers["c"] = pack_any(c, acc_t);
  buffers["out"] = poisoned(kM * kN, acc_t);
  const Kernel k = mma_kernel(t, staging);
  const DispatchResult r = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
  if (acc_t == DType::I32) {
    const std::vector<std::int32_t> got = unpack_i32(r.outputs.at("out"));
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i], static_cast<std::int32_t>(expected[i])) << "element " << i;
    }
    return;
  }
  // Tensor cores sum in an unspecified order: 2^-16 of the largest sum of magnitudes.
  expect_close(unpack(r.outputs.at("out"), acc_t), expected, std::ldexp(magnitude, -16) + 1e-6,
               1e-6, "out");
}

TEST(Matrix, MmaFromFragmentLoads) {
  for_each_backend([](Context& ctx) {
    for (DType t : {DType::F16, DType::BF16, DType::I8}) check_mma(ctx, t, Staging::Loads);
  });
}

TEST(Matrix, MmaThroughCopyAsyncSwizzleAndLoadMatrix) {
  for_each_backend([](Context& ctx) {
    for (DType t : {DType::F16, DType::BF16, DType::I8}) check_mma(ctx, t, Staging::SharedLayout);
    for (DType t : {DType::F16, DType::BF16}) check_mma(ctx, t, Staging::SharedTransposedB);
  });
}

// One matrix (x1) per lane group: lanes receive row l/4, elements 2(l%4), 2(l%4)+1.
TEST(Matrix, LoadMatrixX1GivesEachLaneItsRowPair) {
  const Kernel k = trace("load_x1", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor src = b.input("src", DType::F16);
    const Tensor out = b.output("out", DType::F16);
    const ArrayRef s = b.threadgroup_array("s", DType::F16, 64);
    const ArrayRef dst = b.thread_array("dst", DType::F16, 2);
    const Val lane = lane_id();
    s[lane * 2u] = src[lane * 2u];
    s[lane * 2u + 1u] = src[lane * 2u + 1u];
    barrier();
    // Row r of the matrix is row 7 - r of the array: the row starts are the lanes' to choose.
    const Fragment f(dst, 0, FragmentRole::B, DType::F16);
    KernelBuilder::current().append_statement(
        make::load_matrix(b.kernel(), f.ref(), s.id(), ((7u - lane % 8u) * 8u).id(), 1, false));
    out[lane * 2u] = dst[0];
    out[lane * 2u + 1u] = dst[1];
  });
  std::vector<float> src(64);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
  std::vector<float> expected(64);
  for (std::uint32_t l = 0; l < 32; ++l) {
    for (std::uint32_t e = 0; e < 2; ++e)
      expected[l * 2 + e] = src[(7 - l / 4) * 8 + (l % 4) * 2 + e];
  }
  for_each_backend([&](Context& ctx) {
    BufferMap buffers{{"src", pack(src, DType::F16)}, {"out", poisoned(64, DType::F16)}};
    const DispatchResult r = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
    expect_close(unpack(r.outputs.at("out"), DType::F16), expected, 0, 0, "out");
  });
}

// Reads the tile copy_async fills: after the wait and a barrier (fine), or before the wait.
Kernel copy_then_read(bool wait_first) {
  return trace(wait_first ? "copy_ok" : "copy_race", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor src = b.input("src", DType::F32);
    const Tensor out = b.output("out", DType::F32);
    const ArrayRef s = b.threadgroup_array("tile", DType::F32, 256);
    const Val t = thread_id(0);
    copy_async(s, t * 4u, src, t * 4u, 4, t * 4u < src.len());
    copy_async_commit();
    if (wait_first) copy_async_wait(0);
    barrier();
    out[t] = s[(t * 4u + 5u) % 256u];
    if (!wait_first) copy_async_wait(0);
  });
}

TEST(Matrix, CopyAsyncFillsAndZeroesTheTail) {
  std::vector<float> src(200);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
  std::vector<float> expected(64);
  for (std::size_t t = 0; t < 64; ++t) {
    const std::size_t i = (t * 4 + 5) % 256;
    expected[t] = i < 200 ? src[i] : 0.0f;  // groups past len(src) copy zeros
  }
  for_each_backend([&](Context& ctx) {
    BufferMap buffers{{"src", pack(src, DType::F32)}, {"out", poisoned(64, DType::F32)}};
    const DispatchResult r =
        ctx.dispatch_with_grid(copy_then_read(true), buffers, {}, {1, 1, 1}, {64, 1, 1});
    expect_close(unpack(r.outputs.at("out"), DType::F32), expected, 0, 0, "out");
  });
}

TEST(Matrix, InterpreterReportsAReadBeforeTheWait) {
  Context ctx = Context::create(Backend::Cpu);
  std::vector<float> src(256, 1.0f);
  BufferMap buffers{{"src", pack(src, DType::F32)}, {"out", poisoned(64, DType::F32)}};
  const std::string message = error_of([&] {
    ctx.dispatch_with_grid(copy_then_read(false), buffers, {}, {1, 1, 1}, {64, 1, 1});
  });
  expect_mentions(message, {"kernel 'copy_race'", "array 'tile'", "copy_async", "in flight", "race",
                            "array_load"});
  // The context stays usable.
  const DispatchResult r =
      ctx.dispatch_with_grid(copy_then_read(true), buffers, {}, {1, 1, 1}, {64, 1, 1});
  EXPECT_EQ(r.outputs.at("out").size(), 64u * 4);
}

TEST(Matrix, InterpreterReportsAnMmaByPartOfAWarp) {
  const Kernel k = trace("partial_mma", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::F32);
    const Fragments fa = fragments("fa", FragmentRole::A, DType::F16);
    const Fragments fb = fragments("fb", FragmentRole::B, DType::F16);
    const Fragments acc = fragments("acc", FragmentRole::Accumulator, DType::F16);
    fa.fill(constant(DType::F16, 1));
    fb.fill(constant(DType::F16, 1));
    acc.fill(constant(DType::F32, 0));
    if_(lane_id() < 16u, [&] { mma(acc[0], fa[0], fb[0], acc[0]); });
    out[lane_id()] = acc[0][0];
  });
  Context ctx = Context::create(Backend::Cpu);
  BufferMap buffers{{"out", poisoned(32, DType::F32)}};
  expect_mentions(error_of([&] {
                    ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
                  }),
                  {"kernel 'partial_mma'", "only part of warp 0", "mma"});
}

}  // namespace
}  // namespace mt::test
