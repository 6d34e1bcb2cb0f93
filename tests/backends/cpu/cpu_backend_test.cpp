// The CPU backend behind mt::KernelBackend: its identity, compile keeping a copy, launch
// interpreting, and launches from several threads at once.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "backends/cpu/ir_builder.hpp"
#include "metaltile/backends/backend.hpp"
#include "metaltile/core/error.hpp"
#include "support/bytes.hpp"

namespace mt {
namespace {

using test::add_u32_kernel;
using test::ArgList;

TEST(CpuBackend, DescribesItself) {
  const std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  EXPECT_EQ(cpu->kind(), Backend::Cpu);
  EXPECT_EQ(cpu->description(), "cpu interpreter");
  const DeviceLimits limits = cpu->limits(), defaults;
  EXPECT_EQ(limits.max_threads_per_threadgroup, defaults.max_threads_per_threadgroup);
  EXPECT_EQ(limits.max_tpg, defaults.max_tpg);
  EXPECT_EQ(limits.max_grid, defaults.max_grid);
  EXPECT_EQ(limits.max_threadgroup_memory, 227u * 1024);  // an H100's, with the opt-in
  EXPECT_EQ(limits.max_thread_array_bytes, 16u * 1024);
}

TEST(CpuBackend, CompileKeepsItsOwnCopy) {
  const std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  Kernel k = add_u32_kernel();
  const std::shared_ptr<const Executable> exe = cpu->compile(k);
  k.name = "changed";
  k.body.instrs.clear();
  EXPECT_EQ(exe->kernel().name, "add");
  EXPECT_EQ(exe->kernel().body.instrs.size(), 5u);
}

TEST(CpuBackend, LaunchInterprets) {
  const std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  const std::shared_ptr<const Executable> exe = cpu->compile(add_u32_kernel());
  ArgList args(exe->kernel());
  args.bind(ParamId{0}, test::pack_u32(std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6}));
  args.bind(ParamId{1}, test::poisoned(6, DType::U32));
  args.set(ParamId{2}, Scalar::of_int(40));
  LaunchDims dims;
  dims.grid = {3, 1, 1};
  dims.tpg = {2, 1, 1};
  cpu->launch(*exe, args.args(), dims);
  test::expect_equal(test::unpack_u32(args.buffer(ParamId{1})),
                     std::vector<std::uint32_t>{41, 42, 43, 44, 45, 46}, "out");
  // A bad launch is an error, and the backend stays usable.
  dims.grid = {0, 1, 1};
  EXPECT_THROW(cpu->launch(*exe, args.args(), dims), Error);
}

TEST(CpuBackend, ConcurrentLaunchesAreIndependent) {
  const std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  const std::shared_ptr<const Executable> exe = cpu->compile(add_u32_kernel());
  constexpr std::uint32_t kThreads = 4, kN = 4096;
  std::vector<std::vector<std::uint32_t>> results(kThreads);
  std::vector<std::thread> pool;
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      ArgList args(exe->kernel());
      std::vector<std::uint32_t> src(kN);
      for (std::uint32_t i = 0; i < kN; ++i) src[i] = i * t;
      args.bind(ParamId{0}, test::pack_u32(src));
      args.bind(ParamId{1}, test::poisoned(kN, DType::U32));
      args.set(ParamId{2}, Scalar::of_int(t));
      LaunchDims dims;
      dims.grid = {kN / 64, 1, 1};
      dims.tpg = {64, 1, 1};
      for (int repeat = 0; repeat < 5; ++repeat) cpu->launch(*exe, args.args(), dims);
      results[t] = test::unpack_u32(args.buffer(ParamId{1}));
    });
  }
  for (std::thread& th : pool) th.join();
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    std::vector<std::uint32_t> expected(kN);
    for (std::uint32_t i = 0; i < kN; ++i) expected[i] = i * t + t;
    test::expect_equal(results[t], expected, "out of launch thread " + std::to_string(t));
  }
}

}  // namespace
}  // namespace mt
