// Threadgroup and per-thread arrays on the interpreter, traced with the DSL: loads and stores
// across barriers, per-thread privacy, threadgroup atomics (results and old values), and each
// check on them firing: bounds, unwritten reads, write-write, read-after-write and
// write-after-read races, and an array size that was never specialised.
#include "backends/cpu/arrays.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/dsl_launch.hpp"
#include "metaltile/passes/specialise_scalars.hpp"

namespace mt::test {
namespace {

const std::vector<LaunchDims> kShapes{
    launch({2, 1, 1}, {1, 1, 1}),  launch({2, 1, 1}, {31, 1, 1}),  launch({2, 1, 1}, {32, 1, 1}),
    launch({2, 1, 1}, {33, 1, 1}), launch({3, 1, 1}, {100, 1, 1}), launch({2, 1, 1}, {1024, 1, 1}),
    launch({2, 2, 1}, {8, 4, 2})};

std::string shape_name(const LaunchDims& d) {
  return "tpg " + std::to_string(d.tpg[0]) + "x" + std::to_string(d.tpg[1]) + "x" +
         std::to_string(d.tpg[2]);
}

void expect_contains(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << message << "\n  lacks: " << part;
}

// s[t] = in[i]; barrier; out[i] = s[n-1-t]: each group reverses its own slice through its own
// threadgroup memory.
TEST(Arrays, ThreadgroupArrayReversesEachGroup) {
  for (const LaunchDims& dims : kShapes) {
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U8}) {
      SCOPED_TRACE(shape_name(dims) + " " + std::string(name_of(t)));
      const std::uint32_t n = group_size(dims);
      const Kernel k = trace("reverse", KernelMode::Grid3D, [&](KernelBuilder& b) {
        const Tensor in = b.input("in", t);
        const Tensor out = b.output("out", t);
        const ArrayRef s = b.threadgroup_array("s", t, n);
        const Val i = global_thread(), tid = linear_thread();
        s[tid] = in[i];
        barrier();
        out[i] = s[(n - 1) - tid];
      });
      std::vector<double> src(total_threads(dims));
      for (std::size_t i = 0; i < src.size(); ++i) src[i] = in_type(i % 200 + 0.5, t);
      Launcher l(k);
      l.bind("in", to_bytes(src, t));
      l.bind("out", poisoned(src.size(), t));
      l.run(dims);
      std::vector<double> expected(src.size());
      for (std::size_t i = 0; i < src.size(); ++i) expected[i] = src[i / n * n + (n - 1 - i % n)];
      expect_exact(from_bytes(l.buffer("out"), t), expected, "out");
    }
  }
}

// The textbook shared-memory sum: halving strides, a barrier after each. Every read of another
// thread's element follows a barrier, so the race checks stay silent.
TEST(Arrays, TreeReductionWithBarriersSumsEachGroup) {
  const LaunchDims dims = launch({3, 1, 1}, {256, 1, 1});
  const Kernel k = trace("tree", KernelMode::Reduction, [&](KernelBuilder& b) {
    const Tensor in = b.input("in", DType::F32);
    const Tensor out = b.output("out", DType::F32);
    const ArrayRef s = b.threadgroup_array("s", DType::F32, 256);
    const Val t = thread_id(0);
    s[t] = in[program_id(0) * 256u + t];
    barrier();
    for (std::uint32_t stride = 128; stride > 0; stride /= 2) {
      if_(t < stride, [&] { s[t] = s[t] + s[t + stride]; });
      barrier();
    }
    if_(t == 0u, [&] { out[program_id(0)] = s[0u]; });
  });
  std::vector<double> src(768);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<double>(i % 37) / 8;
  Launcher l(k);
  l.bind("in", to_bytes(src, DType::F32));
  l.bind("out", poisoned(3, DType::F32));
  l.run(dims);
  std::vector<double> expected(3, 0.0);
  for (std::size_t i = 0; i < src.size(); ++i) expected[i / 256] += src[i];
  expect_exact(from_bytes(l.buffer("out"), DType::F32), expected, "out");
}

// Rotating by one thread per round inside a DSL loop: read the neighbour, barrier, write own,
// barrier. After r rounds thread t holds in[(t + r) % n].
TEST(Arrays, RotationWithBarriersInALoop) {
  for (std::uint32_t n : {1u, 33u, 100u}) {
    SCOPED_TRACE(n);
    const Kernel k = trace("rotate", KernelMode::Reduction, [&](KernelBuilder& b) {
      const Tensor in = b.input("in", DType::I32);
      const Tensor out = b.output("out", DType::I32);
      const Val rounds = b.scalar_u32("rounds");
      const ArrayRef s = b.threadgroup_array("s", DType::I32, n);
      const Val t = thread_id(0);
      s[t] = in[t];
      barrier();
      for (Val r : range(rounds)) {
        (void)r;
        const Val next = s[(t + 1u) % n];
        barrier();
        s[t] = next;
        barrier();
      }
      out[t] = s[t];
    });
    std::vector<double> src(n);
    for (std::uint32_t i = 0; i < n; ++i) src[i] = 1000 + i;
    Launcher l(k);
    l.bind("in", to_bytes(src, DType::I32));
    l.bind("out", poisoned(n, DType::I32));
    l.set("rounds", Scalar::of_int(5));
    l.run(launch({1, 1, 1}, {n, 1, 1}));
    std::vector<double> expected(n);
    for (std::uint32_t i = 0; i < n; ++i) expected[i] = src[(i + 5) % n];
    expect_exact(from_bytes(l.buffer("out"), DType::I32), expected, "out");
  }
}

// Every thread fills its own acc[0..3] and reads it back by a thread-dependent index: the same
// index names a different element in each thread.
TEST(Arrays, ThreadArraysArePrivatePerThread) {
  for (DType t : {DType::U32, DType::F16}) {
    SCOPED_TRACE(name_of(t));
    const LaunchDims dims = launch({2, 1, 1}, {8, 4, 2});
    const Kernel k = trace("private", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", t);
      const ArrayRef acc = b.thread_array("acc", t, 4);
      const Val i = global_thread();
      for (std::uint32_t j = 0; j < 4; ++j) acc[j] = (i * 4u + j).to(t);
      for (std::uint32_t j = 0; j < 4; ++j) out[i * 4u + j] = acc[(i + j) % 4u];
    });
    const std::size_t threads = total_threads(dims);
    Launcher l(k);
    l.bind("out", poisoned(threads * 4, t));
    l.run(dims);
    std::vector<double> expected(threads * 4);
    for (std::size_t i = 0; i < threads; ++i) {
      for (std::size_t j = 0; j < 4; ++j) expected[i * 4 + j] = in_type(i * 4 + (i + j) % 4, t);
    }
    expect_exact(from_bytes(l.buffer("out"), t), expected, "out");
  }
}

// --- threadgroup atomics -------------------------------------------------------------------

using AtomicFn = Val (*)(const ArrayRef&, const Val&, const Val&);

// bins[0..B) start at init[b] (thread b writes it); after a barrier each thread applies
// `fn(bins[key], v)` and keeps the old value; after another barrier threads 0..B-1 copy out
// the bins. The interpreter applies the atomics in thread order.
struct AtomicCase {
  CombineOp combine;
  AtomicFn fn;
  DType t;
};

TEST(Arrays, ThreadgroupAtomicsReturnOldValuesInThreadOrder) {
  const AtomicCase cases[] = {
      {CombineOp::Add, atomic_add, DType::I32}, {CombineOp::Add, atomic_add, DType::U32},
      {CombineOp::Add, atomic_add, DType::F32}, {CombineOp::Max, atomic_max, DType::I32},
      {CombineOp::Max, atomic_max, DType::U32}, {CombineOp::Min, atomic_min, DType::I32},
      {CombineOp::Min, atomic_min, DType::U32}, {CombineOp::And, atomic_and, DType::U32},
      {CombineOp::Or, atomic_or, DType::I32},   {CombineOp::Xor, atomic_xor, DType::U32}};
  for (const LaunchDims& dims : kShapes) {
    for (const AtomicCase& c : cases) {
      SCOPED_TRACE(shape_name(dims) + " " + std::string(combine_name(c.combine)) + " " +
                   std::string(name_of(c.t)));
      const std::uint32_t n = group_size(dims), bins = std::min(n, 5u);
      const Kernel k = trace("hist", KernelMode::Grid3D, [&](KernelBuilder& b) {
        const Tensor init = b.input("init", c.t);
        const Tensor key = b.input("key", DType::U32);
        const Tensor value = b.input("value", c.t);
        const Tensor old = b.output("old", c.t);
        const Tensor out = b.output("bins", c.t);
        const ArrayRef s = b.threadgroup_array("s", c.t, bins);
        const Val i = global_thread(), tid = linear_thread(), g = linear_group();
        if_(tid < bins, [&] { s[tid] = init[g * bins + tid]; });
        barrier();
        old[i] = c.fn(s, key[i], value[i]);
        barrier();
        if_(tid < bins, [&] { out[g * bins + tid] = s[tid]; });
      });
      const std::size_t threads = total_threads(dims), groups = threads / n;
      std::mt19937 rng(17);
      std::vector<double> init(groups * bins), keys(threads), values(threads);
      const auto draw = [&]() -> double {
        if (c.t == DType::F32) return static_cast<double>(rng() % 64) / 4 - 8;
        return c.t == DType::I32 ? static_cast<double>(static_cast<std::int32_t>(rng()))
                                 : static_cast<double>(rng());
      };
      for (double& x : init) x = draw();
      for (std::size_t i = 0; i < threads; ++i) {
        keys[i] = rng() % bins;
        values[i] = draw();
      }
      // The oracle: thread order within each group, with the combine as the IR states it.
      std::vector<double> bins_out = init, olds(threads);
      for (std::size_t i = 0; i < threads; ++i) {
        double& bin = bins_out[i / n * bins + static_cast<std::size_t>(keys[i])];
        olds[i] = bin;
        const auto a = static_cast<std::int64_t>(bin), v = static_cast<std::int64_t>(values[i]);
        switch (c.combine) {
          case CombineOp::Add:
            bin = c.t == DType::F32 ? bin + values[i] : in_type(double(a + v), c.t);
            break;
          case CombineOp::Max: bin = std::max(bin, values[i]); break;
          case CombineOp::Min: bin = std::min(bin, values[i]); break;
          case CombineOp::And: bin = in_type(double(a & v), c.t); break;
          case CombineOp::Or: bin = in_type(double(a | v), c.t); break;
          case CombineOp::Xor: bin = in_type(double(a ^ v), c.t); break;
          case CombineOp::Mul: FAIL() << "no atomic mul";
        }
      }
      Launcher l(k);
      l.bind("init", to_bytes(init, c.t));
      l.bind("key", to_bytes(keys, DType::U32));
      l.bind("value", to_bytes(values, c.t));
      l.bind("old", poisoned(threads, c.t));
      l.bind("bins", poisoned(init.size(), c.t));
      l.run(dims);
      expect_exact(from_bytes(l.buffer("old"), c.t), olds, "old");
      expect_exact(from_bytes(l.buffer("bins"), c.t), bins_out, "bins");
    }
  }
}

// --- checks --------------------------------------------------------------------------------

std::string run_error(const Kernel& k, const LaunchDims& dims, std::size_t out_elements = 64) {
  Launcher l(k);
  l.bind("out", poisoned(out_elements, DType::U32));
  return error_of([&] { l.run(dims); });
}

TEST(Arrays, ReadingAThreadgroupElementNothingWroteIsAnError) {
  const Kernel k = trace("unwritten", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const ArrayRef s = b.threadgroup_array("s", DType::U32, 8);
    const Val t = thread_id(0);
    if_(t < 4u, [&] { s[t] = t; });
    barrier();
    out[t] = s[7u - t];
  });
  expect_contains(run_error(k, launch({1, 1, 1}, {8, 1, 1})),
                  "kernel 'unwritten': array 's': element 7 read before anything wrote it at "
                  "thread (0,0,0) of threadgroup (0,0,0): %");
  EXPECT_NE(run_error(k, launch({1, 1, 1}, {8, 1, 1})).find("array_load s["), std::string::npos);
}

// Group 0 writes every element; group 1 writes none and must not see group 0's values.
TEST(Arrays, EachGroupStartsWithNothingWritten) {
  const Kernel k = trace("fresh", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const ArrayRef s = b.threadgroup_array("s", DType::U32, 4);
    const Val t = thread_id(0);
    if_(threadgroup_id(0) == 0u, [&] { s[t] = t; });
    barrier();
    out[program_id(0)] = s[t];
  });
  expect_contains(run_error(k, launch({2, 1, 1}, {4, 1, 1})),
                  "array 's': element 0 read before anything wrote it at thread (4,0,0) of "
                  "threadgroup (1,0,0)");
}

// Thread 0 writes acc[1]; thread 1 reads its own acc[1], which it never wrote.
TEST(Arrays, ReadingAThreadArrayElementTheThreadDidNotWriteIsAnError) {
  const Kernel k = trace("private_unwritten", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const ArrayRef acc = b.thread_array("acc", DType::U32, 2);
    const Val t = thread_id(0);
    if_(t == 0u, [&] { acc[1] = t; });
    out[t] = acc[1];
  });
  expect_contains(run_error(k, launch({1, 1, 1}, {2, 1, 1})),
                  "kernel 'private_unwritten': array 'acc': element 1 read before this thread "
                  "wrote it at thread (1,0,0) of threadgroup (0,0,0)");
}

TEST(Arrays, TwoThreadsWritingOneElementBetweenBarriersIsARace) {
  const Kernel same_op = trace("ww", KernelMode::Grid3D, [](KernelBuilder& b) {
    b.output("out", DType::U32);
    const ArrayRef s = b.threadgroup_array("s", DType::U32, 4);
    s[thread_id(0) / 2u] = thread_id(0);
  });
  expect_contains(run_error(same_op, launch({1, 1, 1}, {4, 1, 1})),
                  "kernel 'ww': array 's': element 0 written by two threads with no barrier "
                  "between (first by thread (0,0,0)) at thread (1,0,0) of threadgroup (0,0,0): "
                  "array_store s[");
  // In separate ops, with and without a barrier between.
  for (bool with_barrier : {false, true}) {
    const Kernel k = trace("ww2", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::U32);
      const ArrayRef s = b.threadgroup_array("s", DType::U32, 4);
      const Val t = thread_id(0);
      if_(t == 3u, [&] { s[0u] = t; });
      if (with_barrier) barrier();
      if_(t == 1u, [&] { s[0u] = t; });
      barrier();
      out[t] = s[0u];
    });
    if (with_barrier) {
      Launcher l(k);
      l.bind("out", poisoned(4, DType::U32));
      EXPECT_NO_THROW(l.run(launch({1, 1, 1}, {4, 1, 1})));
      EXPECT_EQ(from_bytes(l.buffer("out"), DType::U32), std::vector<double>(4, 1.0));
    } else {
      expect_contains(run_error(k, launch({1, 1, 1}, {4, 1, 1})),
                      "element 0 written by two threads with no barrier between (first by "
                      "thread (3,0,0)) at thread (1,0,0)");
    }
  }
}

TEST(Arrays, ReadingAnotherThreadsWriteWithoutABarrierIsARace) {
  const Kernel k = trace("raw", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const ArrayRef s = b.threadgroup_array("s", DType::U32, 8);
    const Val t = thread_id(0);
    s[t] = t;
    out[t] = s[(t + 1u) % 8u];
  });
  expect_contains(run_error(k, launch({2, 1, 1}, {8, 1, 1})),
                  "kernel 'raw': array 's': element 1 read with no barrier after thread (1,0,0) "
                  "wrote it at thread (0,0,0) of threadgroup (0,0,0): %");
}

// A warp barrier makes a warp's writes visible to that warp only.
TEST(Arrays, WarpBarrierOrdersOnlyItsOwnWarp) {
  for (bool across : {false, true}) {
    const Kernel k = trace("warp_sync", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::U32);
      const ArrayRef s = b.threadgroup_array("s", DType::U32, 64);
      const Val t = thread_id(0);
      s[t] = t * 3u;
      warp_barrier();
      out[t] = s[across ? (t + 32u) % 64u : t ^ 1u];
    });
    Launcher l(k);
    l.bind("out", poisoned(64, DType::U32));
    if (across) {
      expect_contains(error_of([&] {
                        l.run(launch({1, 1, 1}, {64, 1, 1}));
                      }),
                      "element 32 read with no barrier after thread (32,0,0) wrote it at thread "
                      "(0,0,0)");
      continue;
    }
    l.run(launch({1, 1, 1}, {64, 1, 1}));
    std::vector<double> expected(64);
    for (std::uint32_t t = 0; t < 64; ++t) expected[t] = (t ^ 1u) * 3.0;
    expect_exact(from_bytes(l.buffer("out"), DType::U32), expected, "out");
  }
}

// An in-place Hillis-Steele scan: each round reads the element d to the left, then adds it to
// its own. The read and the write need a barrier between, or thread t overwrites s[t] while
// thread t + d may still have to read it.
TEST(Arrays, OverwritingWhatAnotherThreadReadWithoutABarrierIsARace) {
  constexpr std::uint32_t n = 8;
  for (bool with_barrier : {false, true}) {
    SCOPED_TRACE(with_barrier ? "barrier between read and write" : "no barrier");
    const Kernel k = trace("scan", KernelMode::Reduction, [&](KernelBuilder& b) {
      const Tensor in = b.input("in", DType::U32);
      const Tensor out = b.output("out", DType::U32);
      const ArrayRef s = b.threadgroup_array("s", DType::U32, n);
      const Val t = thread_id(0);
      s[t] = in[t];
      barrier();
      for (std::uint32_t d = 1; d < n; d *= 2) {
        const Val left = s[(t + (n - d)) % n];
        if (with_barrier) barrier();
        s[t] = s[t] + select(t >= d, left, u32(0));
        barrier();
      }
      out[t] = s[t];
    });
    const std::vector<double> src{3, 1, 4, 1, 5, 9, 2, 6};
    Launcher l(k);
    l.bind("in", to_bytes(src, DType::U32));
    l.bind("out", poisoned(n, DType::U32));
    if (!with_barrier) {
      // Thread 1 read s[0] (and thread 0 its own) before thread 0 wrote it.
      expect_contains(error_of([&] {
                        l.run(launch({1, 1, 1}, {n, 1, 1}));
                      }),
                      "kernel 'scan': array 's': element 0 written with no barrier after thread "
                      "(1,0,0) read it at thread (0,0,0) of threadgroup (0,0,0): array_store s[");
      continue;
    }
    l.run(launch({1, 1, 1}, {n, 1, 1}));
    std::vector<double> expected(n);
    double sum = 0;
    for (std::uint32_t i = 0; i < n; ++i) expected[i] = sum += src[i];
    expect_exact(from_bytes(l.buffer("out"), DType::U32), expected, "out");
  }
}

// Read s[index], then (maybe after a warp barrier) overwrite s[t]: a warp barrier orders a read
// before a write only when reader and writer share a warp, also when many threads read.
TEST(Arrays, WarpBarrierOrdersAReadBeforeAWriteOnlyInItsWarp) {
  struct Case {
    const char* name;
    std::uint32_t threads;
    bool warp_sync;
    std::function<Val(const Val&)> index;
    const char* error;  // "" when the kernel is race-free
  };
  const std::vector<Case> cases{
      {"partner", 64, true, [](const Val& t) { return t ^ 1u; }, ""},
      {"partner unsynced", 64, false, [](const Val& t) { return t ^ 1u; },
       "element 0 written with no barrier after thread (1,0,0) read it at thread (0,0,0)"},
      {"other warp", 64, true, [](const Val& t) { return (t + 32u) % 64u; },
       "element 0 written with no barrier after thread (32,0,0) read it at thread (0,0,0)"},
      {"broadcast in a warp", 32, true, [](const Val&) { return u32(0); }, ""},
      {"broadcast unsynced", 32, false, [](const Val&) { return u32(0); },
       "element 0 written with no barrier after thread (1,0,0) read it at thread (0,0,0)"},
      {"broadcast to two warps", 64, true, [](const Val&) { return u32(0); },
       "element 0 written with no barrier after thread (32,0,0) read it at thread (0,0,0)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Kernel k = trace("war_warp", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::U32);
      const ArrayRef s = b.threadgroup_array("s", DType::U32, 64);
      const Val t = thread_id(0);
      s[t] = t * 3u;
      barrier();
      const Val v = s[c.index(t)];
      if (c.warp_sync) warp_barrier();
      s[t] = v + 1u;
      barrier();
      out[t] = s[t];
    });
    Launcher l(k);
    l.bind("out", poisoned(c.threads, DType::U32));
    const LaunchDims dims = launch({1, 1, 1}, {c.threads, 1, 1});
    if (*c.error != '\0') {
      expect_contains(error_of([&] { l.run(dims); }), c.error);
      continue;
    }
    l.run(dims);
    std::vector<double> expected(c.threads);
    for (std::uint32_t t = 0; t < c.threads; ++t) {
      expected[t] = std::string(c.name) == "partner" ? (t ^ 1u) * 3.0 + 1 : 1.0;
    }
    expect_exact(from_bytes(l.buffer("out"), DType::U32), expected, "out");
  }
}

// A plain read is not exempt from an atomic that follows it in another thread: the reader may
// see the value before or after the update.
TEST(Arrays, AnAtomicAfterAnotherThreadsPlainReadIsARace) {
  for (bool with_barrier : {false, true}) {
    const Kernel k = trace("peek", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::U32);
      const ArrayRef s = b.threadgroup_array("s", DType::U32, 1);
      const Val t = thread_id(0);
      if_(t == 0u, [&] { s[0u] = u32(100); });
      barrier();
      const Val seen = s[0u];
      if (with_barrier) barrier();
      out[t] = seen + atomic_add(s, u32(0), u32(1));
    });
    Launcher l(k);
    l.bind("out", poisoned(4, DType::U32));
    const LaunchDims dims = launch({1, 1, 1}, {4, 1, 1});
    if (!with_barrier) {
      expect_contains(error_of([&] { l.run(dims); }),
                      "kernel 'peek': array 's': element 0 written with no barrier after thread "
                      "(1,0,0) read it at thread (0,0,0) of threadgroup (0,0,0): %");
      continue;
    }
    l.run(dims);
    // Atomics apply in thread order: thread t sees 100 + t as the old value.
    EXPECT_EQ(from_bytes(l.buffer("out"), DType::U32), (std::vector<double>{200, 201, 202, 203}));
  }
}

// Atomics by many threads on one element do not race with each other; a plain write or read
// of it by another thread before the next barrier does.
TEST(Arrays, AtomicsAreExemptFromRacesOnlyAmongThemselves) {
  enum class After { Barrier, Write, Read };
  for (After after : {After::Barrier, After::Write, After::Read}) {
    const Kernel k = trace("count", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::U32);
      const ArrayRef s = b.threadgroup_array("s", DType::U32, 1);
      const Val t = thread_id(0);
      if_(t == 0u, [&] { s[0u] = u32(0); });
      barrier();
      atomic_add(s, u32(0), u32(1));
      if (after == After::Barrier) barrier();
      if (after == After::Write) if_(t == 2u, [&] { s[0u] = t; });
      out[t] = s[0u];
    });
    Launcher l(k);
    l.bind("out", poisoned(40, DType::U32));
    const LaunchDims dims = launch({1, 1, 1}, {40, 1, 1});
    if (after == After::Barrier) {
      l.run(dims);
      EXPECT_EQ(from_bytes(l.buffer("out"), DType::U32), std::vector<double>(40, 40.0));
    } else if (after == After::Write) {
      expect_contains(error_of([&] { l.run(dims); }),
                      "array 's': element 0 written by two threads with no barrier between");
    } else {
      // Thread 0 made the first atomic, but others followed: its own read races too.
      expect_contains(error_of([&] { l.run(dims); }),
                      "array 's': element 0 read with no barrier after thread (0,0,0) wrote it "
                      "at thread (0,0,0)");
    }
  }
}

TEST(Arrays, AtomicOnAnUnwrittenElementIsAnError) {
  const Kernel k = trace("atomic_unwritten", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const ArrayRef s = b.threadgroup_array("s", DType::U32, 2);
    out[thread_id(0)] = atomic_add(s, u32(1), u32(1));
  });
  expect_contains(run_error(k, launch({1, 1, 1}, {2, 1, 1})),
                  "array 's': element 1 read before anything wrote it at thread (0,0,0) of "
                  "threadgroup (0,0,0): %");
}

TEST(Arrays, IndexOutOfBoundsIsAnError) {
  for (MemorySpace space : {MemorySpace::Threadgroup, MemorySpace::Thread}) {
    const bool shared = space == MemorySpace::Threadgroup;
    const Kernel load = trace("bounds", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::I32);
      const ArrayRef s =
          shared ? b.threadgroup_array("s", DType::I32, 8) : b.thread_array("s", DType::I32, 8);
      const Val t = thread_id(0).to(DType::I32);
      s[t] = t;
      barrier();
      out[t] = s[t - 1];
    });
    expect_contains(run_error(load, launch({1, 1, 1}, {8, 1, 1})),
                    "kernel 'bounds': array 's': array_load index -1 out of bounds (8 elements) "
                    "at thread (0,0,0) of threadgroup (0,0,0): %");
    const Kernel store = trace("bounds", KernelMode::Grid3D, [&](KernelBuilder& b) {
      b.output("out", DType::I32);
      const ArrayRef s =
          shared ? b.threadgroup_array("s", DType::I32, 8) : b.thread_array("s", DType::I32, 8);
      s[thread_id(0) + 5u] = i32(1);
    });
    expect_contains(run_error(store, launch({1, 1, 1}, {8, 1, 1})),
                    "array 's': array_store index 8 out of bounds (8 elements) at thread "
                    "(3,0,0) of threadgroup (0,0,0): array_store s[");
  }
}

// A size from a scalar parameter: an error until the scalar is specialised, then it runs.
TEST(Arrays, SizeFromAScalarMustBeSpecialised) {
  const Kernel k = trace("sized", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const ArrayRef s = b.threadgroup_array("s", DType::U32, b.scalar_u32("n"));
    const Val t = thread_id(0);
    s[t] = t + 10u;
    barrier();
    out[t] = s[t];
  });
  Launcher unspecialised(k);
  unspecialised.bind("out", poisoned(4, DType::U32));
  unspecialised.set("n", Scalar::of_int(4));
  EXPECT_EQ(error_of([&] {
              unspecialised.run(launch({1, 1, 1}, {4, 1, 1}));
            }),
            "kernel 'sized': array 's': size comes from scalar 'n', which must be specialised "
            "(pass it in consts)");
  const Kernel specialised = passes::specialise_scalars(k, {{"n", Scalar::of_int(4)}});
  Launcher l(specialised);
  l.bind("out", poisoned(4, DType::U32));
  l.run(launch({1, 1, 1}, {4, 1, 1}));
  EXPECT_EQ(from_bytes(l.buffer("out"), DType::U32), (std::vector<double>{10, 11, 12, 13}));
  // 5 threads write past the 4 elements.
  Launcher over(specialised);
  over.bind("out", poisoned(5, DType::U32));
  expect_contains(error_of([&] {
                    over.run(launch({1, 1, 1}, {5, 1, 1}));
                  }),
                  "array_store index 4 out of bounds (4 elements)");
}

}  // namespace
}  // namespace mt::test
