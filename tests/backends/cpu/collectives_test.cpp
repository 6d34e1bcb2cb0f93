// Warp and threadgroup collectives on the interpreter, traced with the DSL: reductions,
// shuffles, prefix sums, argmax, on every dtype they take and on group shapes 1, 31, 32, 33,
// 100, 1024, 8x4x2 and 5x3x3 (partial warps included); and barriers and collectives reached by
// only part of a group or warp, each reported naming kernel, op and thread.
#include "backends/cpu/collectives.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/dsl_launch.hpp"

namespace mt::test {
namespace {

const std::vector<LaunchDims> kShapes{
    launch({2, 1, 1}, {1, 1, 1}),  launch({2, 1, 1}, {31, 1, 1}),  launch({2, 1, 1}, {32, 1, 1}),
    launch({2, 1, 1}, {33, 1, 1}), launch({3, 1, 1}, {100, 1, 1}), launch({2, 1, 1}, {1024, 1, 1}),
    launch({2, 2, 1}, {8, 4, 2}),  launch({1, 1, 2}, {5, 3, 3})};

std::string shape_name(const LaunchDims& d) {
  return "grid " + std::to_string(d.grid[0]) + "x" + std::to_string(d.grid[1]) + "x" +
         std::to_string(d.grid[2]) + " tpg " + std::to_string(d.tpg[0]) + "x" +
         std::to_string(d.tpg[1]) + "x" + std::to_string(d.tpg[2]);
}

// Inputs whose float sums are exact in f32 (multiples of 1/64 below 4 in magnitude: sums of
// 1024 need 18 bits), so a collective's only rounding is the final one to the dtype, and its
// result can be compared exactly. Integers span the whole type, so sums and products wrap.
// Mul on floats gets +-2^(i%3-1): every contiguous run's product stays within [1/4, 4].
std::vector<double> inputs(DType t, CombineOp c, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (t == DType::I32) {
      v[i] = static_cast<std::int32_t>(rng());
    } else if (t == DType::U32) {
      v[i] = static_cast<std::uint32_t>(rng());
    } else if (c == CombineOp::Mul) {
      v[i] = std::ldexp(rng() % 2 ? 1.0 : -1.0, static_cast<int>(i % 3) - 1);
    } else {
      v[i] = static_cast<double>(static_cast<int>(rng() % 512) - 256) / 64.0;
    }
  }
  return v;
}

// The combine of v[lo, hi), computed exactly (floats) or with 32-bit wrap (integers), then
// held in the dtype as the interpreter's result is.
double fold(CombineOp c, DType t, const std::vector<double>& v, std::size_t lo, std::size_t hi) {
  if (is_float(t)) {
    double r = v[lo];
    for (std::size_t i = lo + 1; i < hi; ++i) {
      if (c == CombineOp::Add) r += v[i];
      if (c == CombineOp::Mul) r *= v[i];
      if (c == CombineOp::Max) r = std::max(r, v[i]);
      if (c == CombineOp::Min) r = std::min(r, v[i]);
    }
    return in_type(r, t);
  }
  std::uint64_t bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(v[lo]));
  double extreme = v[lo];
  for (std::size_t i = lo + 1; i < hi; ++i) {
    const auto x = static_cast<std::uint64_t>(static_cast<std::int64_t>(v[i]));
    if (c == CombineOp::Add) bits += x;
    if (c == CombineOp::Mul) bits *= x;
    extreme = c == CombineOp::Max ? std::max(extreme, v[i]) : std::min(extreme, v[i]);
  }
  if (c == CombineOp::Max || c == CombineOp::Min) return extreme;
  const auto low = static_cast<std::uint32_t>(bits);
  return t == DType::I32 ? static_cast<double>(static_cast<std::int32_t>(low)) : low;
}

// Runs out[i] = op(in[i]) with one thread per element over the launch, and returns out.
std::vector<double> run_per_thread(DType in_t, DType out_t, const std::vector<double>& in,
                                   const LaunchDims& dims,
                                   const std::function<Val(const Val&)>& op) {
  const Kernel k = trace("per_thread", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor src = b.input("in", in_t);
    const Tensor dst = b.output("out", out_t);
    const Val i = global_thread();
    dst[i] = op(src[i]);
  });
  Launcher l(k);
  l.bind("in", to_bytes(in, in_t));
  l.bind("out", poisoned(in.size(), out_t));
  l.run(dims);
  return from_bytes(l.buffer("out"), out_t);
}

// For every thread, `per_warp(values of its warp, its lane)` over each group of the launch.
std::vector<double> per_warp_oracle(
    const std::vector<double>& in, const LaunchDims& dims,
    const std::function<double(const std::vector<double>&, std::size_t)>& per_warp) {
  const std::size_t n = group_size(dims);
  std::vector<double> out(in.size());
  for (std::size_t g = 0; g < in.size() / n; ++g) {
    for (std::size_t w = 0; w * 32 < n; ++w) {
      const std::size_t lo = g * n + w * 32, hi = g * n + std::min(n, w * 32 + 32);
      const std::vector<double> warp(in.begin() + lo, in.begin() + hi);
      for (std::size_t lane = 0; lane < hi - lo; ++lane) out[lo + lane] = per_warp(warp, lane);
    }
  }
  return out;
}

const DType kReduceTypes[] = {DType::I32, DType::U32, DType::F32, DType::F16, DType::BF16};

// out = f(in) widened to f32 for float types: the result must already be rounded to the
// dtype, not only when a store rounds it.
std::vector<double> run_widened(DType t, const std::vector<double>& in, const LaunchDims& dims,
                                Val (*f)(const Val&)) {
  const DType out_t = is_float(t) ? DType::F32 : t;
  return run_per_thread(t, out_t, in, dims, [&](const Val& v) {
    const Val r = f(v);
    return is_float(t) ? r.to(DType::F32) : r;
  });
}

TEST(Collectives, WarpReduceEveryCombineTypeAndShape) {
  const std::pair<CombineOp, Val (*)(const Val&)> ops[] = {{CombineOp::Add, warp_sum},
                                                           {CombineOp::Mul, warp_product},
                                                           {CombineOp::Max, warp_max},
                                                           {CombineOp::Min, warp_min}};
  for (const LaunchDims& dims : kShapes) {
    for (DType t : kReduceTypes) {
      for (const auto& [combine_op, fn] : ops) {
        const CombineOp c = combine_op;
        SCOPED_TRACE(shape_name(dims) + " " + std::string(name_of(t)) + " " +
                     std::string(combine_name(c)));
        const std::vector<double> in = inputs(t, c, total_threads(dims), 7);
        const std::vector<double> expected = per_warp_oracle(
            in, dims,
            [&](const std::vector<double>& w, std::size_t) { return fold(c, t, w, 0, w.size()); });
        expect_exact(run_widened(t, in, dims, fn), expected, "out");
      }
    }
  }
}

// bf16 sums accumulate in f32 and round once: 256 + 31 ones is 287, which bf16 (spacing 2 at
// 256) rounds to 288; a bf16 accumulator would lose every 1 (256 + 1 ties to 256). 100 lanes
// of f16 0.1 likewise round once.
TEST(Collectives, HalfTypesRoundOnlyTheFinalResult) {
  const LaunchDims dims = launch({1, 1, 1}, {32, 1, 1});
  std::vector<double> bf(32, 1.0);
  bf[0] = 256;
  EXPECT_EQ(run_per_thread(DType::BF16, DType::BF16, bf, dims, warp_sum)[5], 288.0);
  const LaunchDims hundred = launch({1, 1, 1}, {100, 1, 1});
  const std::vector<double> tenth(100, in_type(0.1, DType::F16));
  const double exact = 100 * in_type(0.1, DType::F16);
  EXPECT_EQ(run_per_thread(DType::F16, DType::F16, tenth, hundred, threadgroup_sum)[99],
            in_type(exact, DType::F16));
}

TEST(Collectives, ThreadgroupReduceEveryCombineTypeAndShape) {
  const std::pair<CombineOp, Val (*)(const Val&)> ops[] = {{CombineOp::Add, threadgroup_sum},
                                                           {CombineOp::Max, threadgroup_max},
                                                           {CombineOp::Min, threadgroup_min}};
  for (const LaunchDims& dims : kShapes) {
    for (DType t : kReduceTypes) {
      for (const auto& [combine_op, fn] : ops) {
        const CombineOp c = combine_op;
        SCOPED_TRACE(shape_name(dims) + " " + std::string(name_of(t)) + " " +
                     std::string(combine_name(c)));
        const std::vector<double> in = inputs(t, c, total_threads(dims), 11);
        const std::size_t n = group_size(dims);
        std::vector<double> expected(in.size());
        for (std::size_t i = 0; i < in.size(); ++i) {
          expected[i] = fold(c, t, in, i / n * n, i / n * n + n);
        }
        expect_exact(run_widened(t, in, dims, fn), expected, "out");
      }
    }
  }
}

// A float sum whose order matters: within a tolerance of the exact sum on any shape.
TEST(Collectives, FloatSumsAreCloseForAnyOrder) {
  const LaunchDims dims = launch({2, 1, 1}, {1000, 1, 1});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<double> in(total_threads(dims));
  for (double& x : in) x = dist(rng);
  const std::vector<double> out = run_per_thread(DType::F32, DType::F32, in, dims, threadgroup_sum);
  for (std::size_t g = 0; g < 2; ++g) {
    double exact = 0, magnitude = 0;
    for (std::size_t i = g * 1000; i < g * 1000 + 1000; ++i) {
      exact += in[i];
      magnitude += std::fabs(in[i]);
    }
    EXPECT_NEAR(out[g * 1000 + 17], exact, 1e-6 * magnitude) << "group " << g;
  }
}

// The lane each thread reads, by the documented rules; -1 means its own value.
std::int64_t shuffle_source(ShuffleKind kind, std::int64_t lane, std::int64_t x,
                            std::int64_t warp_threads) {
  std::int64_t s = lane;
  if (kind == ShuffleKind::Index) s = x;
  if (kind == ShuffleKind::Xor) s = lane ^ x;
  if (kind == ShuffleKind::Up) s = lane - x;
  if (kind == ShuffleKind::Down) s = lane + x;
  return s >= 0 && s < 32 && s < warp_threads ? s : -1;
}

// Each lane asks for (lane * 7 + 3) % 37: lanes, masks and deltas of 0 .. 36, so some point
// outside the warp (>= 32), and in partial warps some at absent threads.
TEST(Collectives, WarpShufflesEveryKindIncludingOutOfRangeLanes) {
  const std::pair<ShuffleKind, Val (*)(const Val&, const Val&)> kinds[] = {
      {ShuffleKind::Index, warp_shuffle},
      {ShuffleKind::Xor, warp_shuffle_xor},
      {ShuffleKind::Up, warp_shuffle_up},
      {ShuffleKind::Down, warp_shuffle_down}};
  const DType types[] = {DType::I32, DType::F32, DType::F16, DType::BF16, DType::U8};
  for (const LaunchDims& dims : kShapes) {
    for (DType t : types) {
      for (const auto& [kind, fn] : kinds) {
        SCOPED_TRACE(shape_name(dims) + " " + std::string(name_of(t)) + " " +
                     std::string(shuffle_name(kind)));
        std::vector<double> in(total_threads(dims));
        for (std::size_t i = 0; i < in.size(); ++i) in[i] = in_type(i * 0.75 + 1, t);
        const auto op = [fn = fn](const Val& v) { return fn(v, (lane_id() * 7u + 3u) % 37u); };
        const std::vector<double> expected = per_warp_oracle(
            in, dims, [&, kind = kind](const std::vector<double>& w, std::size_t lane) {
              const std::int64_t x = (static_cast<std::int64_t>(lane) * 7 + 3) % 37;
              const std::int64_t s = shuffle_source(kind, static_cast<std::int64_t>(lane), x,
                                                    static_cast<std::int64_t>(w.size()));
              return w[s < 0 ? lane : static_cast<std::size_t>(s)];
            });
        expect_exact(run_per_thread(t, t, in, dims, op), expected, "out");
      }
    }
  }
}

// Broadcast of lane 31 in a 33-thread group: warp 0 gets lane 31's value; the one thread of
// warp 1 has no lane 31 and keeps its own. Constant deltas past the warp keep their own too.
TEST(Collectives, BroadcastAndConstantShufflesInAPartialWarp) {
  const LaunchDims dims = launch({1, 1, 1}, {33, 1, 1});
  std::vector<double> in(33);
  for (std::size_t i = 0; i < 33; ++i) in[i] = 100 + i;
  const std::vector<double> b = run_per_thread(DType::I32, DType::I32, in, dims,
                                               [](const Val& v) { return warp_broadcast(v, 31); });
  const std::vector<double> down = run_per_thread(
      DType::I32, DType::I32, in, dims, [](const Val& v) { return warp_shuffle_down(v, 40); });
  for (std::size_t i = 0; i < 33; ++i) {
    EXPECT_EQ(b[i], i < 32 ? 131 : 132) << "broadcast, thread " << i;
    EXPECT_EQ(down[i], in[i]) << "down 40, thread " << i;
  }
}

TEST(Collectives, WarpPrefixSumsInclusiveAndExclusive) {
  for (const LaunchDims& dims : kShapes) {
    for (DType t : kReduceTypes) {
      for (bool inclusive : {true, false}) {
        SCOPED_TRACE(shape_name(dims) + " " + std::string(name_of(t)) +
                     (inclusive ? " inclusive" : " exclusive"));
        const std::vector<double> in = inputs(t, CombineOp::Add, total_threads(dims), 5);
        const std::vector<double> expected =
            per_warp_oracle(in, dims, [&](const std::vector<double>& w, std::size_t lane) {
              const std::size_t end = inclusive ? lane + 1 : lane;
              return end == 0 ? 0.0 : fold(CombineOp::Add, t, w, 0, end);
            });
        const auto op = inclusive ? warp_prefix_sum : warp_exclusive_prefix_sum;
        expect_exact(run_widened(t, in, dims, op), expected, "out");
      }
    }
  }
}

// Argmax returns the `index` that came with the largest value: lowest index on ties, never
// NaN unless all are NaN. Indices run backwards (lane n-1 has index 1000), so "lowest index"
// is not "lowest lane".
std::vector<double> argmax_oracle(const std::vector<double>& v, std::size_t n) {
  std::vector<double> out(v.size());
  for (std::size_t g = 0; g < v.size() / n; ++g) {
    double best = std::numeric_limits<double>::quiet_NaN(), best_index = 0, lowest = 1e18;
    for (std::size_t lane = 0; lane < n; ++lane) {
      const double x = v[g * n + lane];
      const double index = 1000 + (n - 1 - lane);
      lowest = std::min(lowest, index);
      if (std::isnan(x)) continue;
      if (std::isnan(best) || x > best || (x == best && index < best_index)) {
        best = x;
        best_index = index;
      }
    }
    for (std::size_t lane = 0; lane < n; ++lane)
      out[g * n + lane] = std::isnan(best) ? lowest : best_index;
  }
  return out;
}

std::vector<double> run_argmax(DType t, const std::vector<double>& in, const LaunchDims& dims,
                               std::vector<double>* values) {
  const Kernel k = trace("argmax", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor src = b.input("in", t);
    const Tensor best = b.output("best", DType::U32);
    const Tensor value = b.output("value", t);
    const Val i = global_thread();
    const Val n =
        threads_per_threadgroup(0) * threads_per_threadgroup(1) * threads_per_threadgroup(2);
    const ArgMax a = threadgroup_argmax(src[i], n - 1u - linear_thread() + 1000u);
    best[i] = a.index;
    value[i] = a.value;
  });
  Launcher l(k);
  l.bind("in", to_bytes(in, t));
  l.bind("best", poisoned(in.size(), DType::U32));
  l.bind("value", poisoned(in.size(), t));
  l.run(dims);
  if (values != nullptr) *values = from_bytes(l.buffer("value"), t);
  return from_bytes(l.buffer("best"), DType::U32);
}

TEST(Collectives, ArgmaxTiesTakeTheLowestIndex) {
  for (const LaunchDims& dims : kShapes) {
    for (DType t : kReduceTypes) {
      SCOPED_TRACE(shape_name(dims) + " " + std::string(name_of(t)));
      std::mt19937 rng(9);
      std::vector<double> in(total_threads(dims));
      for (double& x : in) x = static_cast<double>(rng() % 5) + (t == DType::U32 ? 0 : -2);
      std::vector<double> values;
      const std::vector<double> expected = argmax_oracle(in, group_size(dims));
      expect_exact(run_argmax(t, in, dims, &values), expected, "best");
      for (std::size_t i = 0; i < in.size(); ++i) {
        const std::size_t n = group_size(dims), g = i / n;
        const double lane = static_cast<double>(n - 1) - (expected[i] - 1000);
        ASSERT_EQ(values[i], in[g * n + static_cast<std::size_t>(lane)]) << "value " << i;
      }
    }
  }
}

TEST(Collectives, ArgmaxSkipsNaNUnlessAllAreNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    SCOPED_TRACE(name_of(t));
    const LaunchDims dims = launch({3, 1, 1}, {40, 1, 1});
    std::vector<double> in(120, -5.0);
    for (std::size_t i = 0; i < 40; i += 3) in[i] = nan;  // group 0: NaNs among values
    in[7] = 2.5;
    in[30] = 2.5;                                       // tie: lane 30 has the lower index
    for (std::size_t i = 40; i < 80; ++i) in[i] = nan;  // group 1: every value NaN
    for (std::size_t i = 80; i < 120; ++i) in[i] = (i % 2) ? 0.0 : -0.0;  // group 2: +-0 tie
    const std::vector<double> best = run_argmax(t, in, dims, nullptr);
    EXPECT_EQ(best[0], 1000 + 39 - 30);
    EXPECT_EQ(best[45], 1000);  // the lowest index: lane 39
    EXPECT_EQ(best[100], 1000);
    expect_exact(best, argmax_oracle(in, 40), "best");
  }
}

// Lanes 0-31 of 33 take a branch: warp 0 is complete, warp 1 (thread 32) absent, so the warp
// sum is fine; the whole warps of a 100-thread group outside warp 1 likewise.
TEST(Collectives, WarpOpsUnderBranchesTakenByWholeWarps) {
  for (std::uint32_t n : {33u, 100u}) {
    SCOPED_TRACE(n);
    const Kernel k = trace("whole_warps", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::U32);
      const Val t = thread_id(0);
      out[t] = u32(0);
      if_(warp_id() != 1u, [&] { out[t] = warp_sum(t); });
    });
    Launcher l(k);
    l.bind("out", poisoned(n, DType::U32));
    l.run(launch({1, 1, 1}, {n, 1, 1}));
    const std::vector<double> out = from_bytes(l.buffer("out"), DType::U32);
    for (std::uint32_t t = 0; t < n; ++t) {
      const std::uint32_t lo = t / 32 * 32, hi = std::min(n, lo + 32);
      const double expected = t / 32 == 1 ? 0 : (lo + hi - 1) * (hi - lo) / 2.0;
      ASSERT_EQ(out[t], expected) << "thread " << t;
    }
  }
}

// Each op under `if (thread_id(0) < 40)` in a group of 64 threads of threadgroup 1.
std::string partial_error(const std::function<void(const Tensor&, const Val&)>& body) {
  const Kernel k = trace("partial", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const Val t = thread_id(0);
    // Every thread of group 0 takes the branch: group 1 is the one to fail.
    if_(t < 40u || threadgroup_id(0) == 0u, [&] { body(out, t); });
  });
  Launcher l(k);
  l.bind("out", poisoned(64, DType::U32));
  return error_of([&] { l.run(launch({2, 1, 1}, {64, 1, 1})); });
}

void expect_contains(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << message << "\n  lacks: " << part;
}

TEST(Collectives, BarrierReachedByPartOfTheGroupIsAnError) {
  const std::string m = partial_error([](const Tensor&, const Val&) { barrier(); });
  EXPECT_EQ(m,
            "kernel 'partial': reached by only part of the threadgroup (40 of 64 threads; thread "
            "(104,0,0) is missing) at thread (64,0,0) of threadgroup (1,0,0): barrier")
      << m;
}

TEST(Collectives, ThreadgroupCollectivesReachedByPartOfTheGroupAreErrors) {
  expect_contains(
      partial_error([](const Tensor& out, const Val& t) { out[t] = threadgroup_sum(t); }),
      "reached by only part of the threadgroup (40 of 64 threads");
  const std::string m = partial_error(
      [](const Tensor& out, const Val& t) { out[t] = threadgroup_argmax(t, t).index; });
  expect_contains(m, "kernel 'partial': reached by only part of the threadgroup");
  expect_contains(m, "threadgroup_argmax");
}

TEST(Collectives, WarpOpsReachedByPartOfTheWarpAreErrors) {
  const std::string prefix =
      "kernel 'partial': reached by only part of warp 1 (8 of 32 threads; thread (104,0,0) is "
      "missing) at thread (96,0,0) of threadgroup (1,0,0): ";
  expect_contains(partial_error([](const Tensor&, const Val&) { warp_barrier(); }),
                  prefix + "warp_barrier");
  expect_contains(partial_error([](const Tensor& out, const Val& t) { out[t] = warp_max(t); }),
                  prefix);
  expect_contains(
      partial_error([](const Tensor& out, const Val& t) { out[t] = warp_shuffle_xor(t, 1); }),
      "warp_shuffle xor");
  expect_contains(
      partial_error([](const Tensor& out, const Val& t) { out[t] = warp_prefix_sum(t); }),
      "warp_prefix_sum inclusive");
}

// A barrier inside a loop whose trip count differs by thread: the threads that stay in the
// loop longer reach a barrier the others never will.
TEST(Collectives, BarrierInADivergentLoopIsAnError) {
  const Kernel k = trace("loop", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const Val t = thread_id(0);
    for (Val i : range(t / 2u + 1u)) {
      barrier();
      out[t] = i;
    }
  });
  Launcher l(k);
  l.bind("out", poisoned(4, DType::U32));
  EXPECT_EQ(error_of([&] {
              l.run(launch({1, 1, 1}, {4, 1, 1}));
            }),
            "kernel 'loop': reached by only part of the threadgroup (2 of 4 threads; thread "
            "(0,0,0) is missing) at thread (2,0,0) of threadgroup (0,0,0): barrier");
}

}  // namespace
}  // namespace mt::test
