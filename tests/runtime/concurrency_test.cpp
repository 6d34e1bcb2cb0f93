// One Context used from 8 threads at once: different kernels, dtypes, shapes and
// specialisations interleaved (with rejected dispatches among them), every result checked.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "runtime/compile_cache.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace mt {
namespace {

constexpr int kThreads = 8;
constexpr int kDispatchesPerThread = 36;

// out[i] = a[i] + b[i] * c for i < n, in dtype t (computed in f32, rounded once to t).
Kernel axpy(DType t) {
  return trace("axpy", KernelMode::Grid3D, [t](KernelBuilder& b) {
    Tensor a = b.input("a", t), x = b.input("b", t);
    Tensor out = b.output("out", t);
    Val n = b.scalar_u32("n");
    Val c = b.scalar_f32("c");
    Val i = program_id(0);
    if_(i < n, [&] { out[i] = (a[i].to(DType::F32) + x[i].to(DType::F32) * c).to(t); });
  });
}

// out[row * cols + col] = sum of src[row * cols + k] for k <= col (a per-row prefix sum).
Kernel row_prefix_sum() {
  return trace("row_prefix_sum", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::U32);
    Tensor out = b.output("out", DType::U32);
    Val cols = b.scalar_u32("cols");
    Val rows = b.scalar_u32("rows");
    Val col = program_id(0), row = program_id(1);
    if_(col < cols && row < rows, [&] {
      Var acc = u32(0);
      for (Val k : range(0u, col + 1u)) acc += src[row * cols + k];
      out[row * cols + col] = acc;
    });
  });
}

// A fixed-seed xorshift so every thread's work is reproducible.
struct Rng {
  std::uint64_t s;
  std::uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<std::uint32_t>(s);
  }
  float unit() { return float(next() % 20000) / 10000.0f - 1.0f; }
};

// Runs one dispatch and returns "" when its result is right, else a description.
std::string run_axpy(const Context& ctx, const Kernel& k, DType t, Rng& rng, bool specialise) {
  const std::uint32_t n = 1 + rng.next() % 150;
  const std::size_t len = n + rng.next() % 5;
  std::vector<float> a(len), x(len);
  for (std::size_t i = 0; i < len; ++i) a[i] = rng.unit(), x[i] = rng.unit();
  a = test::round_all(a, t);
  x = test::round_all(x, t);
  const float c = float(1 + rng.next() % 4) * 0.5f;
  BufferMap buffers;
  buffers["a"] = test::pack(a, t);
  buffers["b"] = test::pack(x, t);
  buffers["out"] = test::poisoned(len, t);
  ConstMap consts;
  if (specialise) {
    consts["c"] = c;
  } else {
    buffers["c"] = test::le_bytes(c);
  }
  buffers["n"] = test::le_bytes(n);
  const std::size_t tpg = std::size_t{1} << (4 + rng.next() % 4);  // 16..128
  const DispatchResult r =
      ctx.dispatch_with_grid(k, buffers, consts, {(n + tpg - 1) / tpg, 1, 1}, {tpg, 1, 1});
  const std::vector<float> got = test::unpack(r.outputs.at("out"), t);
  if (got.size() != len) return "axpy: wrong output length";
  for (std::size_t i = 0; i < n; ++i) {
    const float want = round_to(t, a[i] + x[i] * c);
    if (got[i] != want) {
      std::ostringstream s;
      s << "axpy " << name_of(t) << " n=" << n << ": [" << i << "] expected " << want << ", actual "
        << got[i];
      return s.str();
    }
  }
  return "";
}

std::string run_prefix(const Context& ctx, const Kernel& k, Rng& rng) {
  const std::uint32_t cols = 1 + rng.next() % 24, rows = 1 + rng.next() % 6;
  std::vector<std::uint32_t> src(cols * rows);
  for (auto& v : src) v = rng.next() % 1000;
  BufferMap buffers;
  buffers["src"] = test::pack_u32(src);
  buffers["out"] = test::poisoned(cols * rows, DType::U32);
  buffers["cols"] = test::le_bytes(cols);
  buffers["rows"] = test::le_bytes(rows);
  const DispatchResult r =
      ctx.dispatch_with_grid(k, buffers, {}, {(cols + 7) / 8, rows, 1}, {8, 1, 1});
  const std::vector<std::uint32_t> got = test::unpack_u32(r.outputs.at("out"));
  for (std::uint32_t row = 0; row < rows; ++row) {
    std::uint32_t sum = 0;
    for (std::uint32_t col = 0; col < cols; ++col) {
      sum += src[row * cols + col];
      if (got[row * cols + col] != sum) {
        std::ostringstream s;
        s << "prefix " << rows << "x" << cols << ": [" << row << "," << col << "] expected " << sum
          << ", actual " << got[row * cols + col];
        return s.str();
      }
    }
  }
  return "";
}

// A dispatch that must be rejected (a missing buffer), interleaved with the good ones.
std::string run_rejected(const Context& ctx, const Kernel& k) {
  BufferMap buffers;
  buffers["src"] = test::pack_u32(std::vector<std::uint32_t>(4, 1));
  buffers["cols"] = test::le_bytes(std::uint32_t{4});
  buffers["rows"] = test::le_bytes(std::uint32_t{1});
  try {
    (void)ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {4, 1, 1});
  } catch (const Error& e) {
    return std::string(e.what()).find("param 'out'") == std::string::npos
               ? std::string("wrong error: ") + e.what()
               : "";
  }
  return "missing 'out' was accepted";
}

TEST(Concurrency, ManyThreadsShareOneContext) {
  test::for_each_backend([](Context& ctx) {
    // Kernels are traced once and shared read-only by every thread, as a server would.
    const Kernel kernels[] = {axpy(DType::F32), axpy(DType::F16), axpy(DType::BF16)};
    const DType dtypes[] = {DType::F32, DType::F16, DType::BF16};
    const Kernel prefix = row_prefix_sum();
    std::vector<std::vector<std::string>> failures(kThreads);
    std::atomic<int> completed{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        Rng rng{0x9E3779B97F4A7C15ull + std::uint64_t(t) * 7919};
        start.arrive_and_wait();  // all threads dispatch at once, compiling the same kernels
        for (int d = 0; d < kDispatchesPerThread; ++d) {
          std::string failure;
          try {
            switch ((d + t) % 4) {
              case 0:
              case 1: {
                const int which = int(rng.next() % 3);
                failure = run_axpy(ctx, kernels[which], dtypes[which], rng, d % 3 == 0);
                break;
              }
              case 2: failure = run_prefix(ctx, prefix, rng); break;
              case 3: failure = run_rejected(ctx, prefix); break;
            }
          } catch (const std::exception& e) {
            failure = std::string("unexpected exception: ") + e.what();
          }
          if (!failure.empty()) failures[t].push_back(failure);
          ++completed;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(completed.load(), kThreads * kDispatchesPerThread);
    for (int t = 0; t < kThreads; ++t) {
      for (std::size_t f = 0; f < failures[t].size() && f < 5; ++f) {
        ADD_FAILURE() << "thread " << t << ": " << failures[t][f];
      }
    }
  });
}

// An executable that only remembers its kernel, for testing the cache on its own.
struct FakeExecutable : Executable {
  Kernel k;
  const Kernel& kernel() const override { return k; }
};

TEST(Concurrency, CacheCompilesAKeyOnceWhenManyThreadsAskAtOnce) {
  CompileCache cache;
  std::atomic<int> compiles{0};
  std::vector<std::shared_ptr<const Executable>> got(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      got[t] = cache.get_or_compile("one key", [&] {
        ++compiles;
        // Slow enough that the other threads arrive while this compile is in flight.
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        return std::make_shared<FakeExecutable>();
      });
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(compiles.load(), 1);
  EXPECT_EQ(cache.compile_count(), 1u);
  EXPECT_EQ(cache.size(), 1u);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[t], got[0]) << "thread " << t;
}

TEST(Concurrency, FailedCompileReachesEveryWaiterAndIsForgotten) {
  CompileCache cache;
  std::atomic<int> errors{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      try {
        (void)cache.get_or_compile("bad key", [&]() -> std::shared_ptr<const Executable> {
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
          throw Error("kernel 'bad': injected compile failure");
        });
      } catch (const Error&) {
        ++errors;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(errors.load(), kThreads);
  EXPECT_EQ(cache.size(), 0u) << "a failed compile must not stay cached";
  // The next request compiles afresh and succeeds.
  auto exe = cache.get_or_compile("bad key", [] { return std::make_shared<FakeExecutable>(); });
  EXPECT_NE(exe, nullptr);
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace mt
