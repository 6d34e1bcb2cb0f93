// Dense gemv x {f32, f16, bf16} on every backend against the f64 oracle of gemv_oracle.hpp:
// launched by name (the rule picks gemv_m1/_m4/_m8 or gemv itself) and each variant launched
// by name on its own, over shapes with odd N, K not a multiple of the vector width, K with and
// without a remainder after the unrolled loop, M = 1, 3, 16; specialised scalars; the
// device-resident path; over-dispatch; every precondition error.
#include "metaltile/kernels/mlx/gemv.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/mlx/gemv_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/run.hpp"
#include "metaltile/runtime/device.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace oracle = mt::test::gemv;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

struct Shape {
  std::uint32_t n, k, m;
  std::string text() const {
    return "n=" + std::to_string(n) + " k=" + std::to_string(k) + " m=" + std::to_string(m);
  }
};

// Odd N; K = 1 and 7 (never vectorised), 100 (a whole number of f32 vectors, not of f16/bf16
// ones), 264 (vectors, no full unrolled step), 1032 (an unrolled step plus a remainder
// vector), 1030 (element path over several steps); M = 1, 3 and 16, and 2 and 8.
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {1, 1, 1},    {3, 7, 1},     {5, 100, 3}, {17, 264, 1}, {9, 1032, 1},
      {7, 1030, 3}, {13, 264, 16}, {4, 100, 2}, {6, 1032, 8}, {35, 64, 16},
  };
  return all;
}

struct Inputs {
  std::vector<float> w, x;
};

Inputs inputs(const Shape& s, DType t, std::uint64_t seed) {
  return {mt::test::rows::random_values(std::size_t{s.n} * s.k, seed, t, -1.0f, 1.0f),
          mt::test::rows::random_values(std::size_t{s.m} * s.k, seed + 1, t, -2.0f, 2.0f)};
}

mt::BufferMap buffers(const Shape& s, DType t, const Inputs& in) {
  return {{"w", mt::test::pack(in.w, t)},
          {"x", mt::test::pack(in.x, t)},
          {"out", mt::test::poisoned(std::size_t{s.m} * s.n, t)},
          {"k", le_bytes(s.k)},
          {"n", le_bytes(s.n)}};
}

std::vector<float> output(const mt::DispatchResult& r, DType t) {
  return mt::test::unpack(r.outputs.at("out"), t);
}

// The variants that serve M rows by name (each handles M up to its x-rows).
std::vector<std::string> variants_for(std::uint32_t m) {
  std::vector<std::string> names = {"gemv"};
  if (m <= 1) names.push_back("gemv_m1");
  if (m <= 4) names.push_back("gemv_m4");
  if (m <= 8) names.push_back("gemv_m8");
  return names;
}

TEST(MlxGemv, EveryVariantMatchesTheOracleOnEveryShape) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 11;
    for (DType t : kDTypes) {
      for (const Shape& s : shapes()) {
        const Inputs in = inputs(s, t, seed += 2);
        const oracle::Expected want = oracle::gemv(in.w, in.x, s.n, s.k);
        for (const std::string& name : variants_for(s.m)) {
          SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " " + name);
          const mt::DispatchResult r = mt::kernels::run(ctx, name, t, buffers(s, t, in));
          oracle::expect_within(output(r, t), want, t, "out");
        }
      }
    }
  });
}

TEST(MlxGemv, SpecialisedScalarsGiveTheSameResult) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (const Shape& s : {Shape{9, 1032, 1}, Shape{7, 1030, 3}, Shape{13, 264, 16}}) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " k, n specialised");
        const Inputs in = inputs(s, t, 3);
        mt::BufferMap b = buffers(s, t, in);
        const std::vector<float> plain = output(mt::kernels::run(ctx, "gemv", t, b), t);
        b.erase("k");
        b.erase("n");
        const std::vector<float> specialised =
            output(mt::kernels::run(ctx, "gemv", t, b, {{"k", s.k}, {"n", s.n}}), t);
        mt::test::expect_close(specialised, plain, 0.0, 0.0, "out");
      }
    }
  });
}

// The path a decode loop takes: device buffers and a KernelRunner (the rule's variant).
TEST(MlxGemv, DeviceResidentLaunchMatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (const Shape& s : {Shape{17, 264, 1}, Shape{5, 100, 3}, Shape{13, 264, 16}}) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " device-resident");
        const Inputs in = inputs(s, t, 5);
        const mt::DeviceBuffer w = ctx.upload(mt::test::pack(in.w, t));
        const mt::DeviceBuffer x = ctx.upload(mt::test::pack(in.x, t));
        const mt::DeviceBuffer out = ctx.upload(mt::test::poisoned(std::size_t{s.m} * s.n, t));
        const mt::Stream stream = ctx.create_stream();
        mt::kernels::KernelRunner runner(ctx, "gemv", t);
        runner.launch({{"w", w}, {"x", x}, {"out", out}, {"k", s.k}, {"n", s.n}}, stream);
        stream.synchronize();
        oracle::expect_within(mt::test::unpack(out.download(), t),
                              oracle::gemv(in.w, in.x, s.n, s.k), t, "out");
      }
    }
  });
}

// More threadgroups than rows: the extra warps write nothing (the interpreter would report
// any access past a buffer) and the rows that exist are still right.
TEST(MlxGemv, OverDispatchWritesNothingPastTheRows) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      const Shape s{6, 264, 3};
      SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " 5 groups");
      const Inputs in = inputs(s, t, 9);
      const mt::DispatchResult r =
          ctx.dispatch_with_grid(mt::kernels::mlx::gemv::gemv_m4::kernel_ir_for(t),
                                 buffers(s, t, in), {}, {5, 1, 1}, {128, 1, 1});
      oracle::expect_within(output(r, t), oracle::gemv(in.w, in.x, s.n, s.k), t, "out");
    }
  });
}

// Each bad request is an mt::Error naming the kernel, the failed condition and the values;
// the context stays usable.
TEST(MlxGemv, PreconditionErrorsNameKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const Shape s{5, 16, 2};
    const Inputs in = inputs(s, t, 1);
    const mt::BufferMap good = buffers(s, t, in);
    const auto error = [&](const std::string& name, const mt::BufferMap& b) {
      return mt::test::error_of([&] { mt::kernels::run(ctx, name, t, b); });
    };
    mt::BufferMap bad = good;
    bad["w"] = mt::test::pack(std::vector<float>(5 * 16 - 1, 0.0f), t);
    mt::test::expect_length_error(error("gemv", bad), "gemv", "w", "80", 79);
    bad = good;
    bad["x"] = mt::test::pack(std::vector<float>(33, 0.0f), t);
    mt::test::expect_length_error(error("gemv", bad), "gemv", "x", "a multiple of 16", 33);
    bad = good;
    bad["x"] = mt::test::pack(std::vector<float>(17 * 16, 0.0f), t);
    bad["out"] = mt::test::poisoned(17 * 5, t);
    mt::test::expect_mentions(error("gemv", bad),
                              {"kernel 'gemv'", "1 <= len(x) / k <= 16", "len(x)=272"});
    bad["x"] = mt::test::pack(std::vector<float>(5 * 16, 0.0f), t);
    bad["out"] = mt::test::poisoned(5 * 5, t);
    mt::test::expect_mentions(error("gemv_m4", bad), {"kernel 'gemv_m4'", "1 <= len(x) / k <= 4"});
    bad = good;
    bad["x"] = {};
    bad["out"] = {};
    mt::test::expect_mentions(error("gemv", bad), {"kernel 'gemv'", "1 <= len(x) / k <= 16"});
    bad = good;
    bad["out"] = mt::test::poisoned(9, t);
    mt::test::expect_length_error(error("gemv", bad), "gemv", "out", "10", 9);
    bad = good;
    bad["k"] = le_bytes(0u);
    mt::test::expect_mentions(error("gemv", bad), {"kernel 'gemv'", "param 'k'", "k > 0"});
    bad = good;
    bad["n"] = le_bytes(0u);
    mt::test::expect_mentions(error("gemv", bad), {"kernel 'gemv'", "param 'n'", "n > 0"});
    const mt::DispatchResult r = mt::kernels::run(ctx, "gemv", t, good);
    oracle::expect_within(output(r, t), oracle::gemv(in.w, in.x, s.n, s.k), t, "out");
  });
}

// Warp w of group g owns the rows from (g * 4 + w) * R: a group of other than 128 threads used to
// skip rows (32 threads: three rows in four never written) or repeat them, silently. Now the
// launch is an error naming the kernel, as is a 2-D group; the context stays usable.
TEST(MlxGemv, GroupOfOtherThan128ThreadsIsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const Shape s{5, 16, 1};
    const Inputs in = inputs(s, t, 3);
    const mt::Kernel k = mt::kernels::mlx::gemv::gemv_m1::kernel_ir_for(t);
    for (const std::array<std::size_t, 3> tpg :
         {std::array<std::size_t, 3>{32, 1, 1}, std::array<std::size_t, 3>{256, 1, 1}}) {
      mt::test::expect_mentions(mt::test::error_of([&] {
                                  ctx.dispatch_with_grid(k, buffers(s, t, in), {}, {5, 1, 1}, tpg);
                                }),
                                {"kernel 'gemv_m1'", "tpg = (128, 1, 1)"});
    }
    mt::test::expect_mentions(
        mt::test::error_of([&] {
          ctx.dispatch_with_grid(k, buffers(s, t, in), {}, {2, 1, 1}, {128, 2, 1});
        }),
        {"kernel 'gemv_m1'", "a 1-D threadgroup"});
    const mt::DispatchResult r =
        ctx.dispatch_with_grid(k, buffers(s, t, in), {}, {2, 1, 1}, {128, 1, 1});
    oracle::expect_within(output(r, t), oracle::gemv(in.w, in.x, s.n, s.k), t, "out");
  });
}

TEST(MlxGemv, RejectsNonFloatDTypes) {
  for (DType t : {DType::U32, DType::I32}) {
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::mlx::gemv::gemv::kernel_ir_for(t); }),
        {"kernel 'gemv'", std::string(mt::name_of(t))});
  }
}

}  // namespace
