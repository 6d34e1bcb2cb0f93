// optimise(): the pass order on a realistic kernel (a loop, conditionals, locals): the printed
// result, identical interpreter results before and after, and MT_DUMP_IR's per-pass dumps.
#include "metaltile/passes/pipeline.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/passes/specialise_scalars.hpp"
#include "support/bytes.hpp"

namespace mt {
namespace {

// Per row i < rows: acc sums the row's n elements, each clipped to limit/2, and big counts
// the clipped ones. Constant arithmetic, duplicates, invariants and dead locals are left in on
// purpose, as a straightforward kernel author writes them.
Kernel clipped_row_sum() {
  return trace("clipped_row_sum", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Tensor counts = b.output("counts", DType::U32);
    Val rows = b.scalar_u32("rows");
    Val n = b.scalar_u32("n");
    Val limit = b.scalar_f32("limit");
    Val positive = n > 0;
    b.require(positive, "n > 0");
    Val i = program_id(0);
    Val inside = i < rows;
    if_(inside, [&] {
      Var acc(f32(0.0f), "acc");
      Var big(u32(0), "big");
      Var last(u32(0), "last");  // written, never read
      for (Val j : range(n)) {
        Val base = i * n;  // invariant
        Val at = base + j;
        Val x = in[at];
        Val half = limit * 0.5f;  // invariant
        Val over = x > half;
        if_(over, [&] {
          big += 1;
          acc += half;
        }).else_([&] { acc += x; });
        Val stride = u32(2) - 1;  // constant: folds to 1, then j * 1 is j
        last = j * stride;
      }
      Val always = u32(3) > 2;
      if_(always, [&] { out[i] = acc; }).else_([&] { out[i] = f32(0.0f); });
      Val count = big;
      counts[i] = count + 0;
    });
  });
}

// Folded: 2 - 1, j * 1, the constant if, big + 0; merged: the zeros and ones; hoisted: i * n
// and limit * 0.5; removed: the local `last` with its writes, and the body's copy of `n > 0`.
TEST(Optimise, SimplifiesARealisticKernel) {
  const std::string expected =
      "kernel clipped_row_sum mode=Grid3D\n"
      "  param in: input f32\n"
      "  param out: output f32\n"
      "  param counts: output u32\n"
      "  param rows: scalar u32\n"
      "  param n: scalar u32\n"
      "  param limit: scalar f32\n"
      "  local acc: f32\n"
      "  local big: u32\n"
      "contract {\n"
      "  %5: u32 = scalar n\n"
      "  %6: u32 = const 0\n"
      "  %7: bool = gt %5, %6\n"
      "  require %7 \"n > 0\"\n"
      "}\n"
      "body {\n"
      "  %0: u32 = scalar rows\n"
      "  %1: u32 = scalar n\n"
      "  %2: f32 = scalar limit\n"
      "  %3: u32 = const 0\n"
      "  %8: u32 = program_id 0\n"
      "  %9: bool = lt %8, %0\n"
      "  if %9 {\n"
      "    %10: f32 = const 0\n"
      "    write acc = %10\n"
      "    write big = %3\n"
      "    %14: u32 = const 1\n"
      "    %16: u32 = mul %8, %1\n"
      "    %19: f32 = const 0.5\n"
      "    %20: f32 = mul %2, %19\n"
      "    for %15: u32 in [%3, %1) step %14 {\n"
      "      %17: u32 = add %16, %15\n"
      "      %18: f32 = load in[%17]\n"
      "      %21: bool = gt %18, %20\n"
      "      if %21 {\n"
      "        %22: u32 = read big\n"
      "        %24: u32 = add %22, %14\n"
      "        write big = %24\n"
      "        %25: f32 = read acc\n"
      "        %26: f32 = add %25, %20\n"
      "        write acc = %26\n"
      "      } else {\n"
      "        %27: f32 = read acc\n"
      "        %28: f32 = add %27, %18\n"
      "        write acc = %28\n"
      "      }\n"
      "    }\n"
      "    %36: f32 = read acc\n"
      "    store out[%8] = %36\n"
      "    %38: u32 = read big\n"
      "    store counts[%8] = %38\n"
      "  }\n"
      "}\n";
  const Kernel optimised = passes::optimise(clipped_row_sum());
  EXPECT_EQ(print(optimised), expected) << "input:\n"
                                        << print(clipped_row_sum()) << "actual:\n"
                                        << print(optimised) << "expected:\n"
                                        << expected;
}

struct RunResult {
  std::vector<float> out;
  std::vector<std::uint32_t> counts;
};

RunResult run_on_cpu(const Kernel& k, const std::vector<float>& in, std::uint32_t rows,
                     std::uint32_t n, float limit, std::uint32_t threads) {
  std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
  test::Bytes in_bytes = test::pack(in, DType::F32);
  test::Bytes out_bytes = test::poisoned(threads, DType::F32);
  test::Bytes count_bytes = test::poisoned(threads, DType::U32);
  std::vector<Argument> args(6);
  args[0].bytes = in_bytes;
  args[1].bytes = out_bytes;
  args[2].bytes = count_bytes;
  args[3].scalar = Scalar::of_int(rows);
  args[4].scalar = Scalar::of_int(n);
  args[5].scalar = Scalar::of_float(limit);
  LaunchDims dims;
  dims.tpg = {threads, 1, 1};
  cpu->launch(*cpu->compile(k), args, dims);
  return {test::unpack(out_bytes, DType::F32), test::unpack_u32(count_bytes)};
}

TEST(Optimise, KeepsTheInterpretersResults) {
  constexpr std::uint32_t kRows = 5, kN = 7, kThreads = 8;  // threads 5..7 skip the work
  constexpr float kLimit = 0.8f;
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> in(kRows * kN);
  for (float& x : in) x = dist(rng);

  const Kernel traced = clipped_row_sum();
  const Kernel optimised = passes::optimise(traced);
  ASSERT_NE(print(traced), print(optimised)) << "the pipeline changed nothing";
  const RunResult before = run_on_cpu(traced, in, kRows, kN, kLimit, kThreads);
  const RunResult after = run_on_cpu(optimised, in, kRows, kN, kLimit, kThreads);

  // A plain oracle first, so both runs agreeing on a wrong answer cannot pass.
  std::vector<float> expected_out(kRows);
  std::vector<std::uint32_t> expected_counts(kRows);
  const float half = kLimit * 0.5f;
  for (std::uint32_t i = 0; i < kRows; ++i) {
    float acc = 0.0f;
    for (std::uint32_t j = 0; j < kN; ++j) {
      const float x = in[i * kN + j];
      if (x > half) {
        acc += half;
        ++expected_counts[i];
      } else {
        acc += x;
      }
    }
    expected_out[i] = acc;
  }
  ASSERT_EQ(before.out.size(), kThreads);
  ASSERT_EQ(after.out.size(), kThreads);
  const std::span<const float> before_rows(before.out.data(), kRows);
  test::expect_close(before_rows, expected_out, 0.0, 0.0, "traced kernel vs oracle");
  test::expect_equal(std::span(before.counts.data(), kRows), expected_counts,
                     "traced kernel counts vs oracle");

  // Bit-identical before and after, poisoned tail included (threads past `rows` write nothing).
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    EXPECT_EQ(std::bit_cast<std::uint32_t>(after.out[t]),
              std::bit_cast<std::uint32_t>(before.out[t]))
        << "out[" << t << "]: traced " << before.out[t] << ", optimised " << after.out[t];
    EXPECT_EQ(after.counts[t], before.counts[t]) << "counts[" << t << "]";
  }
}

// Per threadgroup (one row of `cols`): each thread sums a strided slice; warp sums meet in a
// threadgroup array sized by the specialised `warps`, which thread 0 adds up after a barrier;
// the threadgroup sum is stored beside it. Invariants sit inside the loop and beside barriers
// and collectives, so the passes have work to do around them.
Kernel staged_row_sum() {
  return trace("staged_row_sum", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor in = b.input("in", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val cols = b.scalar_u32("cols");
    Val warps = b.scalar_u32("warps");
    ArrayRef partial = b.threadgroup_array("partial", DType::F32, warps);
    Val row = program_id(0);
    Val t = thread_id(0);
    Var acc(f32(0.0f), "acc");
    for (Val j : range(t, cols, threads_per_threadgroup(0))) {
      Val base = row * cols;  // invariant
      acc += in[base + j];
    }
    Val mine = acc;
    Val s = warp_sum(mine);
    Val lane = lane_id();
    if_(lane == 0u, [&] { partial[warp_id()] = s; });
    barrier();
    Val total = threadgroup_sum(mine);
    Val t2 = thread_id(0);  // merges with t
    if_(t2 == 0u, [&] {
      Var sum(f32(0.0f), "sum");
      for (Val w : range(warps)) sum += partial[w];
      Val two = u32(2) * 1u;
      out[row * two] = sum;
      out[row * two + 1u] = total;
    });
  });
}

TEST(Optimise, KeepsResultsAroundBarriersAndCollectives) {
  constexpr std::uint32_t kRows = 3, kCols = 100, kThreads = 40;  // a partial second warp
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> in(kRows * kCols);
  for (float& x : in) x = dist(rng);

  const Kernel traced =
      passes::specialise_scalars(staged_row_sum(), {{"warps", Scalar::of_int(2)}});
  const Kernel optimised = passes::optimise(traced);
  const std::string text = print(optimised);
  ASSERT_NE(print(traced), text) << "the pipeline changed nothing";
  for (const char* kept : {"  array partial: threadgroup f32[2]\n", "warp_reduce add",
                           "  barrier\n", "threadgroup_reduce add"}) {
    EXPECT_NE(text.find(kept), std::string::npos) << kept << " missing from:\n" << text;
  }

  auto run = [&](const Kernel& k) {
    std::unique_ptr<KernelBackend> cpu = make_cpu_backend();
    test::Bytes in_bytes = test::pack(in, DType::F32);
    test::Bytes out_bytes = test::poisoned(2 * kRows, DType::F32);
    std::vector<Argument> args(3);
    args[0].bytes = in_bytes;
    args[1].bytes = out_bytes;
    args[2].scalar = Scalar::of_int(kCols);
    LaunchDims dims;
    dims.grid = {kRows, 1, 1};
    dims.tpg = {kThreads, 1, 1};
    cpu->launch(*cpu->compile(k), args, dims);
    return test::unpack(out_bytes, DType::F32);
  };
  const std::vector<float> before = run(traced);
  const std::vector<float> after = run(optimised);
  std::vector<float> expected(2 * kRows);
  for (std::uint32_t r = 0; r < kRows; ++r) {
    double sum = 0;
    for (std::uint32_t c = 0; c < kCols; ++c) sum += in[r * kCols + c];
    expected[2 * r] = expected[2 * r + 1] = static_cast<float>(sum);
  }
  test::expect_close(before, expected, 1e-5, 1e-5, "traced kernel vs oracle");
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint32_t>(after[i]), std::bit_cast<std::uint32_t>(before[i]))
        << "out[" << i << "]: traced " << before[i] << ", optimised " << after[i];
  }
}

TEST(Optimise, DumpsTheIrAfterEachPassWhenAsked) {
  ASSERT_EQ(setenv("MT_DUMP_IR", "1", 1), 0);
  testing::internal::CaptureStderr();
  const Kernel optimised = passes::optimise(clipped_row_sum());
  const std::string dump = testing::internal::GetCapturedStderr();
  unsetenv("MT_DUMP_IR");
  const char* passes_in_order[] = {
      "fold_constants",   "unroll_loops",   "eliminate_common_subexpressions",
      "hoist_invariants", "fold_constants", "eliminate_dead_code"};
  std::size_t at = 0;
  for (const char* pass : passes_in_order) {
    const std::string header = "== after " + std::string(pass) + " ==\nkernel clipped_row_sum";
    const std::size_t found = dump.find(header, at);
    ASSERT_NE(found, std::string::npos)
        << "no dump for " << pass << " after offset " << at << " in:\n"
        << dump;
    at = found + header.size();
  }
  // The last dump is the result.
  EXPECT_EQ(dump.substr(dump.rfind("== after eliminate_dead_code ==\n") + 32), print(optimised));

  testing::internal::CaptureStderr();
  passes::optimise(clipped_row_sum());
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << "dumped without MT_DUMP_IR";
}

}  // namespace
}  // namespace mt
