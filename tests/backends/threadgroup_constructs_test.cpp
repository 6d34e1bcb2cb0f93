// Thread identity, warp collectives (reduce, shuffle by index/xor/up/down, broadcast, prefix
// sums) and threadgroup collectives (sum, max, min, argmax) traced with the DSL and run through
// mt::Context on every available backend, against plain C++ oracles over the same numbering.
// Arrays, atomics and vector access are in threadgroup_memory_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/threadgroup_helpers.hpp"
#include "support/backends.hpp"

namespace mt::test::tg {
namespace {

const DType kTypes[] = {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U32};

// --- thread identity -----------------------------------------------------------------------

constexpr std::size_t kIdFields = 17;

// Per thread: thread_id, threadgroup_id, threads_per_threadgroup, threadgroups_per_grid and
// program_id (a Reduction kernel: the threadgroup index) on each axis, then lane and warp.
Kernel identity_kernel() {
  return trace("tg_identity", KernelMode::Reduction, [](KernelBuilder& b) {
    const Tensor out = b.output("ids", DType::U32);
    const Val base = global_thread() * static_cast<std::uint32_t>(kIdFields);
    for (std::uint32_t a = 0; a < 3; ++a) {
      const int axis = static_cast<int>(a);
      out[base + a] = thread_id(axis);
      out[base + (3 + a)] = threadgroup_id(axis);
      out[base + (6 + a)] = threads_per_threadgroup(axis);
      out[base + (9 + a)] = threadgroups_per_grid(axis);
      out[base + (12 + a)] = program_id(axis);
    }
    out[base + 15u] = lane_id();
    out[base + 16u] = warp_id();
  });
}

// Coordinates of linear index i over extents e, x fastest.
std::array<std::size_t, 3> coords(std::size_t i, const std::array<std::size_t, 3>& e) {
  return {i % e[0], i / e[0] % e[1], i / (e[0] * e[1])};
}

std::vector<double> identity_oracle(const Shape& s) {
  std::vector<double> out;
  for (std::size_t g = 0; g < s.groups(); ++g) {
    const std::array<std::size_t, 3> group = coords(g, s.grid);
    for (std::size_t t = 0; t < s.group(); ++t) {
      const std::array<std::size_t, 3> thread = coords(t, s.tpg);
      for (const auto* field : {&thread, &group, &s.tpg, &s.grid, &group}) {
        for (int a = 0; a < 3; ++a) out.push_back(static_cast<double>((*field)[a]));
      }
      out.push_back(static_cast<double>(t % 32));
      out.push_back(static_cast<double>(t / 32));
    }
  }
  return out;
}

TEST(ThreadgroupConstructs, ThreadIdentityOn1DAnd3DShapes) {
  const Kernel k = identity_kernel();
  const std::vector<Shape> shapes{{{2, 3, 2}, {7, 5, 3}},   {{1, 2, 1}, {32, 32, 1}},
                                  {{3, 1, 1}, {100, 1, 1}}, {{2, 1, 1}, {1024, 1, 1}},
                                  {{2, 2, 2}, {1, 1, 1}},   {{1, 1, 3}, {5, 1, 7}},
                                  {{2, 1, 1}, {1, 64, 1}},  {{1, 2, 1}, {2, 3, 40}}};
  for_each_backend([&](Context& ctx) {
    for (const Shape& s : shapes) {
      SCOPED_TRACE(s.text());
      BufferMap b;
      b["ids"] = poisoned(s.threads() * kIdFields, DType::U32);
      expect_exact(run(ctx, k, b, s), "ids", identity_oracle(s), DType::U32);
    }
  });
}

// --- inputs --------------------------------------------------------------------------------

// Floats: multiples of 1/4 in [-4, 4] (33 values: ties are common), so every sum of up to 1024
// is exact in f32 and the only rounding is the final one to the dtype. Integers: the whole
// range (sums wrap), or -8 .. 8 (u32: 0 .. 16) with many ties when `small` is set.
std::vector<double> values(DType t, std::size_t n, std::mt19937& rng, bool small = false) {
  std::vector<double> v(n);
  for (double& x : v) {
    if (t == DType::I32) {
      x = small ? static_cast<int>(rng() % 17) - 8 : static_cast<std::int32_t>(rng());
    } else if (t == DType::U32) {
      x = small ? rng() % 17 : rng();
    } else {
      x = (static_cast<int>(rng() % 33) - 16) * 0.25;
    }
  }
  return v;
}

// Factors for products: integers of the whole range (products wrap); floats +-2^(i%3 - 1),
// whose products over any run of consecutive elements lie in +-[1/2, 2]: exact in every type.
std::vector<double> factors(DType t, std::size_t n, std::mt19937& rng) {
  if (is_int(t)) return values(t, n, rng);
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = std::ldexp(rng() % 2 ? 1.0 : -1.0, static_cast<int>(i % 3) - 1);
  }
  return v;
}

// Shuffle operands: mostly lanes 0..39 (present, absent and >= 32), sometimes extremes.
std::vector<double> selectors(std::size_t n, std::mt19937& rng) {
  const std::uint32_t specials[] = {0u, 1u, 31u, 32u, 33u, 0xFFFFFFFFu, 0x80000000u, 0xFFFFFFE1u};
  std::vector<double> v(n);
  for (double& x : v) x = rng() % 8 == 0 ? specials[rng() % 8] : rng() % 40;
  return v;
}

// --- oracles -------------------------------------------------------------------------------

enum class Fold { Add, Mul, Max, Min };

// Combine of v[lo, hi) in plain C++: floats exactly in double, then rounded to t once;
// integers with 32-bit wrap; i32 max/min signed.
double fold(Fold f, DType t, const std::vector<double>& v, std::size_t lo, std::size_t hi) {
  if (f == Fold::Max || f == Fold::Min) {
    double r = v[lo];
    for (std::size_t i = lo + 1; i < hi; ++i) {
      r = f == Fold::Max ? std::max(r, v[i]) : std::min(r, v[i]);
    }
    return r;
  }
  if (!is_int(t)) {
    double r = f == Fold::Add ? 0.0 : 1.0;
    for (std::size_t i = lo; i < hi; ++i) r = f == Fold::Add ? r + v[i] : r * v[i];
    return in_type(r, t);
  }
  std::uint32_t r = f == Fold::Add ? 0u : 1u;
  for (std::size_t i = lo; i < hi; ++i) {
    const auto x = static_cast<std::uint32_t>(static_cast<std::int64_t>(v[i]));
    r = f == Fold::Add ? r + x : r * x;
  }
  return in_type(r, t);
}

// Calls fn(first, count) for each warp of the launch: elements [first, first + count) are its
// threads, lanes 0 .. count-1 (count < 32 for a partial last warp).
void for_each_warp(const Shape& s, const std::function<void(std::size_t, std::size_t)>& fn) {
  for (std::size_t g = 0; g < s.groups(); ++g) {
    for (std::size_t w = 0; w * 32 < s.group(); ++w) {
      fn(g * s.group() + w * 32, std::min<std::size_t>(32, s.group() - w * 32));
    }
  }
}

// --- warp reduce, shuffle and broadcast ----------------------------------------------------

Kernel warp_kernel(DType t) {
  return trace("tg_warp_" + type_text(t), KernelMode::Reduction, [t](KernelBuilder& b) {
    const Tensor x = b.input("x", t);
    const Tensor m = b.input("m", t);
    const Tensor sel = b.input("sel", DType::U32);
    const Val i = global_thread();
    const Val v = x[i];
    const Val s = sel[i];
    b.output("sum", t)[i] = warp_sum(v);
    b.output("product", t)[i] = warp_product(m[i]);
    b.output("max", t)[i] = warp_max(v);
    b.output("min", t)[i] = warp_min(v);
    b.output("index", t)[i] = warp_shuffle(v, s);
    b.output("xor", t)[i] = warp_shuffle_xor(v, s);
    b.output("up", t)[i] = warp_shuffle_up(v, s);
    b.output("down", t)[i] = warp_shuffle_down(v, s);
    b.output("bcast3", t)[i] = warp_broadcast(v, 3u);
    b.output("bcast31", t)[i] = warp_broadcast(v, 31u);
  });
}

TEST(ThreadgroupConstructs, WarpReduceShuffleAndBroadcast) {
  const char* outputs[] = {"sum", "product", "max",  "min",    "index",
                           "xor", "up",      "down", "bcast3", "bcast31"};
  for_each_backend([&](Context& ctx) {
    for (DType t : kTypes) {
      const Kernel k = warp_kernel(t);
      std::mt19937 rng(101);
      for (const Shape& s : group_shapes()) {
        SCOPED_TRACE(type_text(t) + " " + s.text());
        const std::size_t n = s.threads();
        const std::vector<double> x = values(t, n, rng), m = factors(t, n, rng),
                                  sel = selectors(n, rng);
        BufferMap b{{"x", encode(x, t)}, {"m", encode(m, t)}, {"sel", encode(sel, DType::U32)}};
        for (const char* o : outputs) b[o] = poisoned(n, t);
        std::map<std::string, std::vector<double>> want;
        for (const char* o : outputs) want[o].resize(n);
        for_each_warp(s, [&](std::size_t first, std::size_t count) {
          const std::size_t last = first + count;
          const double sum = fold(Fold::Add, t, x, first, last),
                       product = fold(Fold::Mul, t, m, first, last),
                       max = fold(Fold::Max, t, x, first, last),
                       min = fold(Fold::Min, t, x, first, last);
          // The value of `lane` if that lane is present, else the caller's own.
          const auto from = [&](std::size_t own, std::uint64_t lane) {
            return lane < count ? x[first + lane] : x[own];
          };
          for (std::size_t lane = 0; lane < count; ++lane) {
            const std::size_t i = first + lane;
            const auto sl = static_cast<std::uint32_t>(sel[i]);
            want["sum"][i] = sum;
            want["product"][i] = product;
            want["max"][i] = max;
            want["min"][i] = min;
            want["index"][i] = from(i, sl);
            want["xor"][i] = from(i, lane ^ sl);
            want["up"][i] = sl <= lane ? x[i - sl] : x[i];
            want["down"][i] = from(i, std::uint64_t{lane} + sl);
            want["bcast3"][i] = from(i, 3);
            want["bcast31"][i] = from(i, 31);
          }
        });
        const DispatchResult r = run(ctx, k, b, s);
        for (const char* o : outputs) {
          SCOPED_TRACE(o);
          expect_exact(r, o, want[o], t);
        }
      }
    }
  });
}

// --- warp prefix sums ----------------------------------------------------------------------

Kernel prefix_kernel(DType t) {
  return trace("tg_prefix_" + type_text(t), KernelMode::Reduction, [t](KernelBuilder& b) {
    const Tensor x = b.input("x", t);
    const Val i = global_thread();
    const Val v = x[i];
    b.output("inclusive", t)[i] = warp_prefix_sum(v);
    b.output("exclusive", t)[i] = warp_exclusive_prefix_sum(v);
  });
}

TEST(ThreadgroupConstructs, WarpPrefixSumsInclusiveAndExclusive) {
  for_each_backend([&](Context& ctx) {
    for (DType t : kTypes) {
      const Kernel k = prefix_kernel(t);
      std::mt19937 rng(202);
      for (const Shape& s : group_shapes()) {
        SCOPED_TRACE(type_text(t) + " " + s.text());
        const std::size_t n = s.threads();
        const std::vector<double> x = values(t, n, rng);
        std::vector<double> inclusive(n), exclusive(n);
        for_each_warp(s, [&](std::size_t first, std::size_t count) {
          for (std::size_t lane = 0; lane < count; ++lane) {
            const std::size_t i = first + lane;
            inclusive[i] = fold(Fold::Add, t, x, first, i + 1);
            exclusive[i] = fold(Fold::Add, t, x, first, i);  // empty for lane 0: 0
          }
        });
        const BufferMap b{
            {"x", encode(x, t)}, {"inclusive", poisoned(n, t)}, {"exclusive", poisoned(n, t)}};
        const DispatchResult r = run(ctx, k, b, s);
        expect_exact(r, "inclusive", inclusive, t);
        expect_exact(r, "exclusive", exclusive, t);
      }
    }
  });
}

// --- threadgroup sum, max, min and argmax --------------------------------------------------

// argmax twice: with the linear thread index and with an index from the input (duplicates
// allowed); ties among the largest values go to the lowest index.
Kernel group_kernel(DType t) {
  return trace("tg_group_" + type_text(t), KernelMode::Reduction, [t](KernelBuilder& b) {
    const Tensor x = b.input("x", t);
    const Tensor w = b.input("w", t);
    const Tensor idx = b.input("idx", DType::U32);
    const Val i = global_thread();
    const Val v = x[i];
    b.output("sum", t)[i] = threadgroup_sum(w[i]);
    b.output("max", t)[i] = threadgroup_max(v);
    b.output("min", t)[i] = threadgroup_min(v);
    const ArgMax by_thread = threadgroup_argmax(v, linear_thread());
    b.output("arg_value", t)[i] = by_thread.value;
    b.output("arg_thread", DType::U32)[i] = by_thread.index;
    b.output("arg_index", DType::U32)[i] = threadgroup_argmax(v, idx[i]).index;
  });
}

// The index of the largest non-NaN v[lo, hi) (lowest on ties), or the lowest index if all
// are NaN.
double argmax(const std::vector<double>& v, const std::vector<double>& index, std::size_t lo,
              std::size_t hi) {
  double best_index = std::numeric_limits<double>::infinity();
  double best = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t i = lo; i < hi; ++i) {
    if (std::isnan(v[i])) continue;
    if (std::isnan(best) || v[i] > best || (v[i] == best && index[i] < best_index)) {
      best = v[i];
      best_index = index[i];
    }
  }
  if (std::isnan(best)) best_index = *std::min_element(index.begin() + lo, index.begin() + hi);
  return best_index;
}

struct GroupInputs {
  std::vector<double> x, w, idx, thread;
};

GroupInputs group_inputs(DType t, const Shape& s, std::mt19937& rng) {
  GroupInputs in;
  const std::size_t n = s.threads();
  in.x = values(t, n, rng, true);  // many ties for max, min and argmax
  in.w = values(t, n, rng);        // integers wrap when summed
  in.idx.resize(n);
  in.thread.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    in.idx[i] = rng() % 50;
    in.thread[i] = static_cast<double>(i % s.group());
  }
  return in;
}

BufferMap group_buffers(DType t, const GroupInputs& in) {
  const std::size_t n = in.x.size();
  BufferMap b{{"x", encode(in.x, t)}, {"w", encode(in.w, t)}, {"idx", encode(in.idx, DType::U32)}};
  for (const char* o : {"sum", "max", "min", "arg_value"}) b[o] = poisoned(n, t);
  for (const char* o : {"arg_thread", "arg_index"}) b[o] = poisoned(n, DType::U32);
  return b;
}

TEST(ThreadgroupConstructs, ThreadgroupSumMaxMinArgmaxWithTies) {
  for_each_backend([&](Context& ctx) {
    for (DType t : kTypes) {
      const Kernel k = group_kernel(t);
      std::mt19937 rng(303);
      for (const Shape& s : group_shapes()) {
        SCOPED_TRACE(type_text(t) + " " + s.text());
        const std::size_t n = s.threads(), size = s.group();
        const GroupInputs in = group_inputs(t, s, rng);
        std::vector<double> sum(n), max(n), min(n), arg_thread(n), arg_index(n);
        for (std::size_t g = 0; g < s.groups(); ++g) {
          const std::size_t lo = g * size, hi = lo + size;
          for (std::size_t i = lo; i < hi; ++i) {
            sum[i] = fold(Fold::Add, t, in.w, lo, hi);
            max[i] = fold(Fold::Max, t, in.x, lo, hi);
            min[i] = fold(Fold::Min, t, in.x, lo, hi);
            arg_thread[i] = argmax(in.x, in.thread, lo, hi);
            arg_index[i] = argmax(in.x, in.idx, lo, hi);
          }
        }
        const DispatchResult r = run(ctx, k, group_buffers(t, in), s);
        expect_exact(r, "sum", sum, t);
        expect_exact(r, "max", max, t);
        expect_exact(r, "min", min, t);
        expect_exact(r, "arg_value", max, t);
        expect_exact(r, "arg_thread", arg_thread, DType::U32);
        expect_exact(r, "arg_index", arg_index, DType::U32);
      }
    }
  });
}

// NaN never wins argmax unless the whole group is NaN (then the lowest index): group 0 is all
// NaN, the others about one NaN in four.
TEST(ThreadgroupConstructs, ThreadgroupArgmaxSkipsNaN) {
  const std::vector<Shape> shapes{
      {{2, 1, 1}, {33, 1, 1}}, {{3, 1, 1}, {100, 1, 1}}, {{2, 1, 1}, {1024, 1, 1}}};
  for_each_backend([&](Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      const Kernel k = group_kernel(t);
      std::mt19937 rng(404);
      for (const Shape& s : shapes) {
        SCOPED_TRACE(type_text(t) + " " + s.text());
        GroupInputs in = group_inputs(t, s, rng);
        for (std::size_t i = 0; i < in.x.size(); ++i) {
          if (i < s.group() || rng() % 4 == 0) in.x[i] = std::numeric_limits<double>::quiet_NaN();
        }
        std::vector<double> arg_thread(in.x.size()), arg_index(in.x.size());
        for (std::size_t i = 0; i < in.x.size(); ++i) {
          const std::size_t lo = i / s.group() * s.group(), hi = lo + s.group();
          arg_thread[i] = argmax(in.x, in.thread, lo, hi);
          arg_index[i] = argmax(in.x, in.idx, lo, hi);
        }
        const DispatchResult r = run(ctx, k, group_buffers(t, in), s);
        expect_exact(r, "arg_thread", arg_thread, DType::U32);
        expect_exact(r, "arg_index", arg_index, DType::U32);
      }
    }
  });
}

}  // namespace
}  // namespace mt::test::tg
