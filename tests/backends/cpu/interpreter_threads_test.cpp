// The interpreter's thread identity, vector access and global atomics (the threadgroup
// programming ops interpreter.cpp runs itself), traced with the DSL: values on group shapes
// 1, 33, 1024 and 8x4x2, vector copies per dtype and width, the alignment contract and bounds,
// and atomics' results and old values, also with several workers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/dsl_launch.hpp"
#include "backends/cpu/interpreter.hpp"

namespace mt::test {
namespace {

void expect_contains(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << message << "\n  lacks: " << part;
}

// Each thread writes its 14 identity values: thread_id, threadgroup_id, threads_per_threadgroup
// and threadgroups_per_grid on axes 0..2, then lane_id and warp_id.
TEST(InterpreterThreads, ThreadIdentityOnEveryAxis) {
  const Kernel k = trace("identity", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const Val base = global_thread() * 14u;
    for (int a = 0; a < 3; ++a) {
      out[base + static_cast<std::uint32_t>(a)] = thread_id(a);
      out[base + static_cast<std::uint32_t>(3 + a)] = threadgroup_id(a);
      out[base + static_cast<std::uint32_t>(6 + a)] = threads_per_threadgroup(a);
      out[base + static_cast<std::uint32_t>(9 + a)] = threadgroups_per_grid(a);
    }
    out[base + 12u] = lane_id();
    out[base + 13u] = warp_id();
  });
  const LaunchDims shapes[] = {launch({2, 1, 1}, {1, 1, 1}), launch({2, 1, 1}, {33, 1, 1}),
                               launch({1, 2, 1}, {1024, 1, 1}), launch({3, 2, 2}, {8, 4, 2}),
                               launch({1, 1, 1}, {5, 3, 3})};
  for (const LaunchDims& d : shapes) {
    SCOPED_TRACE("tpg " + std::to_string(d.tpg[0]) + "x" + std::to_string(d.tpg[1]) + "x" +
                 std::to_string(d.tpg[2]));
    Launcher l(k);
    l.bind("out", poisoned(total_threads(d) * 14, DType::U32));
    l.run(d);
    std::vector<double> expected;
    for (std::uint32_t gz = 0; gz < d.grid[2]; ++gz)
      for (std::uint32_t gy = 0; gy < d.grid[1]; ++gy)
        for (std::uint32_t gx = 0; gx < d.grid[0]; ++gx)
          for (std::uint32_t z = 0; z < d.tpg[2]; ++z)
            for (std::uint32_t y = 0; y < d.tpg[1]; ++y)
              for (std::uint32_t x = 0; x < d.tpg[0]; ++x) {
                const std::uint32_t linear = x + d.tpg[0] * (y + d.tpg[1] * z);
                const std::vector<double> v{
                    double(x),           double(y),          double(z),         double(gx),
                    double(gy),          double(gz),         double(d.tpg[0]),  double(d.tpg[1]),
                    double(d.tpg[2]),    double(d.grid[0]),  double(d.grid[1]), double(d.grid[2]),
                    double(linear % 32), double(linear / 32)};
                expected.insert(expected.end(), v.begin(), v.end());
              }
    expect_exact(from_bytes(l.buffer("out"), DType::U32), expected, "out");
  }
}

// --- vector access -------------------------------------------------------------------------

// Each thread loads `lanes` elements at i * lanes, rotates them by one through a second
// per-thread array, and stores them back; `direct` also stores the loaded array as is.
Kernel vector_copy(DType t, std::uint32_t lanes) {
  return trace("vector_copy", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor in = b.input("in", t);
    const Tensor out = b.output("out", t);
    const Tensor direct = b.output("direct", t);
    const Val at = global_thread() * lanes;
    const ArrayRef v = load_vector(in, at, lanes);
    const ArrayRef w = b.thread_array("w", t, lanes);
    for (std::uint32_t j = 0; j < lanes; ++j) w[j] = v[(j + 1) % lanes];
    store_vector(out, at, w, lanes);
    store_vector(direct, at, v, lanes);
  });
}

TEST(InterpreterThreads, VectorLoadsAndStoresEveryWidth) {
  const std::pair<DType, std::uint32_t> cases[] = {
      {DType::F32, 2}, {DType::F32, 4}, {DType::F16, 4}, {DType::F16, 8}, {DType::BF16, 8},
      {DType::I32, 4}, {DType::U32, 2}, {DType::U8, 8},  {DType::U8, 16}};
  const LaunchDims dims = launch({2, 1, 1}, {33, 1, 1});
  for (const auto& [type, width] : cases) {
    const DType t = type;
    const std::uint32_t lanes = width;
    SCOPED_TRACE(std::string(name_of(t)) + " x" + std::to_string(lanes));
    const Kernel k = vector_copy(t, lanes);
    const std::size_t n = total_threads(dims) * lanes;
    std::vector<double> src(n);
    for (std::size_t i = 0; i < n; ++i) src[i] = in_type(static_cast<double>(i % 250) + 0.5, t);
    Launcher l(k);
    l.bind("in", to_bytes(src, t));
    l.bind("out", poisoned(n, t));
    l.bind("direct", poisoned(n, t));
    l.run(dims);
    std::vector<double> rotated(n);
    for (std::size_t i = 0; i < n; ++i)
      rotated[i] = src[i / lanes * lanes + (i % lanes + 1) % lanes];
    expect_exact(from_bytes(l.buffer("out"), t), rotated, "out");
    expect_exact(from_bytes(l.buffer("direct"), t), src, "direct");
  }
}

// Load at i * 4 + offset; store at i * 4 + offset.
Kernel offset_copy(bool offset_store) {
  return trace("vec", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor in = b.input("in", DType::F32);
    const Tensor out = b.output("out", DType::F32);
    const Val offset = b.scalar_u32("offset");
    const Val at = thread_id(0) * 4u;
    const ArrayRef v = load_vector(in, offset_store ? at : at + offset, 4);
    store_vector(out, offset_store ? at + offset : at, v, 4);
  });
}

std::string offset_error(bool offset_store, std::uint32_t offset, std::size_t in_elements,
                         std::vector<double>* out_after = nullptr) {
  const Kernel k = offset_copy(offset_store);
  Launcher l(k);
  l.bind("in", to_bytes(std::vector<double>(in_elements, 1.0), DType::F32));
  l.bind("out", poisoned(12, DType::F32));
  l.set("offset", Scalar::of_int(offset));
  const std::string message = error_of([&] { l.run(launch({1, 1, 1}, {3, 1, 1})); });
  if (out_after != nullptr) *out_after = from_bytes(l.buffer("out"), DType::F32);
  return message;
}

TEST(InterpreterThreads, MisalignedVectorIndexIsAnError) {
  expect_contains(offset_error(false, 1, 16),
                  "kernel 'vec': param 'in': vector access at index 1 is not a multiple of 4 at "
                  "thread (0,0,0) of threadgroup (0,0,0): load_vector in[%");
  expect_contains(offset_error(false, 1, 16), "-> in_vec x4");
  expect_contains(offset_error(true, 2, 16),
                  "kernel 'vec': param 'out': vector access at index 2 is not a multiple of 4 at "
                  "thread (0,0,0) of threadgroup (0,0,0): store_vector out[%");
}

// 10 elements: thread 2's vector [8, 12) runs past the end. A failing store writes nothing.
TEST(InterpreterThreads, VectorPastTheEndIsAnError) {
  expect_contains(offset_error(false, 0, 10),
                  "kernel 'vec': param 'in': load_vector of 4 elements at index 8 out of bounds "
                  "(10 elements) at thread (2,0,0) of threadgroup (0,0,0)");
  std::vector<double> out;
  expect_contains(offset_error(true, 4, 12, &out),
                  "param 'out': store_vector of 4 elements at index 12 out of bounds (12 "
                  "elements) at thread (2,0,0)");
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_TRUE(std::isnan(out[i])) << "out " << i;
}

TEST(InterpreterThreads, StoringAVectorTheThreadDidNotFillIsAnError) {
  const Kernel k = trace("partial_vec", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::F16);
    const ArrayRef w = b.thread_array("w", DType::F16, 4);
    const Val t = thread_id(0);
    for (std::uint32_t j = 0; j < 3; ++j) w[j] = t.to(DType::F16);
    store_vector(out, t * 4u, w, 4);
  });
  Launcher l(k);
  l.bind("out", poisoned(8, DType::F16));
  expect_contains(error_of([&] {
                    l.run(launch({1, 1, 1}, {2, 1, 1}));
                  }),
                  "kernel 'partial_vec': array 'w': element 3 read before this thread wrote it "
                  "at thread (0,0,0) of threadgroup (0,0,0): store_vector out[");
}

// --- global atomics ------------------------------------------------------------------------

using GlobalAtomic = Val (*)(const Tensor&, const Val&, const Val&);

// old[i] = fn(bins[key[i]], value[i]) by every thread; with one worker the groups run in order,
// so the old values follow the global thread order.
TEST(InterpreterThreads, GlobalAtomicsReturnOldValuesInThreadOrder) {
  struct Case {
    CombineOp combine;
    GlobalAtomic fn;
    DType t;
  };
  const Case cases[] = {
      {CombineOp::Add, atomic_add, DType::U32}, {CombineOp::Add, atomic_add, DType::I32},
      {CombineOp::Add, atomic_add, DType::F32}, {CombineOp::Max, atomic_max, DType::I32},
      {CombineOp::Min, atomic_min, DType::U32}, {CombineOp::And, atomic_and, DType::I32},
      {CombineOp::Or, atomic_or, DType::U32},   {CombineOp::Xor, atomic_xor, DType::I32}};
  const LaunchDims dims = launch({3, 1, 1}, {100, 1, 1});
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(combine_name(c.combine)) + " " + std::string(name_of(c.t)));
    const Kernel k = trace("atomics", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor key = b.input("key", DType::U32);
      const Tensor value = b.input("value", c.t);
      const Tensor bins = b.output("bins", c.t);
      const Tensor old = b.output("old", c.t);
      const Val i = global_thread();
      old[i] = c.fn(bins, key[i], value[i]);
    });
    std::mt19937 rng(23);
    const auto draw = [&]() -> double {
      if (c.t == DType::F32) return static_cast<double>(rng() % 64) / 4 - 8;
      return c.t == DType::I32 ? static_cast<double>(static_cast<std::int32_t>(rng()))
                               : static_cast<double>(rng());
    };
    const std::size_t threads = total_threads(dims);
    std::vector<double> keys(threads), values(threads), bins(7);
    for (double& x : bins) x = draw();
    for (std::size_t i = 0; i < threads; ++i) {
      keys[i] = rng() % 7;
      values[i] = draw();
    }
    std::vector<double> expected_bins = bins, olds(threads);
    for (std::size_t i = 0; i < threads; ++i) {
      double& bin = expected_bins[static_cast<std::size_t>(keys[i])];
      olds[i] = bin;
      const auto a = static_cast<std::int64_t>(bin), v = static_cast<std::int64_t>(values[i]);
      if (c.combine == CombineOp::Add)
        bin = c.t == DType::F32 ? bin + values[i] : in_type(double(a + v), c.t);
      if (c.combine == CombineOp::Max) bin = std::max(bin, values[i]);
      if (c.combine == CombineOp::Min) bin = std::min(bin, values[i]);
      if (c.combine == CombineOp::And) bin = in_type(double(a & v), c.t);
      if (c.combine == CombineOp::Or) bin = in_type(double(a | v), c.t);
      if (c.combine == CombineOp::Xor) bin = in_type(double(a ^ v), c.t);
    }
    Launcher l(k);
    l.bind("key", to_bytes(keys, DType::U32));
    l.bind("value", to_bytes(values, c.t));
    l.bind("bins", to_bytes(bins, c.t));
    l.bind("old", poisoned(threads, c.t));
    l.run(dims);
    expect_exact(from_bytes(l.buffer("bins"), c.t), expected_bins, "bins");
    expect_exact(from_bytes(l.buffer("old"), c.t), olds, "old");
  }
}

// 64 groups of 1024 threads count into 7 bins on 4 workers at once: the counts are exact, and
// each bin's old values are 0 .. count-1, each exactly once (no update was lost or doubled).
TEST(InterpreterThreads, GlobalAtomicsAreAtomicAcrossWorkers) {
  const Kernel k = trace("count", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor bins = b.output("bins", DType::U32);
    const Tensor old = b.output("old", DType::U32);
    const Val i = global_thread();
    old[i] = atomic_add(bins, i % 7u, u32(1));
  });
  const LaunchDims dims = launch({64, 1, 1}, {1024, 1, 1});
  const std::size_t threads = total_threads(dims);
  Launcher l(k);
  l.bind("bins", to_bytes(std::vector<double>(7, 0.0), DType::U32));
  l.bind("old", poisoned(threads, DType::U32));
  l.run(dims, 4);
  std::vector<double> counts(7, 0.0);
  std::vector<std::vector<double>> olds(7);
  const std::vector<double> old = from_bytes(l.buffer("old"), DType::U32);
  for (std::size_t i = 0; i < threads; ++i) {
    counts[i % 7] += 1;
    olds[i % 7].push_back(old[i]);
  }
  expect_exact(from_bytes(l.buffer("bins"), DType::U32), counts, "bins");
  for (std::size_t b = 0; b < 7; ++b) {
    std::sort(olds[b].begin(), olds[b].end());
    std::vector<double> expected(olds[b].size());
    for (std::size_t j = 0; j < expected.size(); ++j) expected[j] = static_cast<double>(j);
    expect_exact(olds[b], expected, "old values of bin " + std::to_string(b));
  }
}

// Thread 3 of 4 points past the 3 bins: nothing is updated, for any thread.
TEST(InterpreterThreads, GlobalAtomicOutOfBoundsUpdatesNothing) {
  const Kernel k = trace("atomic_bounds", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor bins = b.output("bins", DType::I32);
    atomic_add(bins, thread_id(0), i32(5));
  });
  Launcher l(k);
  l.bind("bins", to_bytes(std::vector<double>{1, 2, 3}, DType::I32));
  expect_contains(error_of([&] {
                    l.run(launch({1, 1, 1}, {4, 1, 1}));
                  }),
                  "kernel 'atomic_bounds': param 'bins': atomic index 3 out of bounds (3 elements) "
                  "at thread (3,0,0) of threadgroup (0,0,0): %");
  EXPECT_EQ(from_bytes(l.buffer("bins"), DType::I32), (std::vector<double>{1, 2, 3}));
}

}  // namespace
}  // namespace mt::test
