// Each run-time check of the interpreter: passes in range, and its exact message when not.
#include "backends/cpu/checks.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/cpu/ir_builder.hpp"
#include "support/errors.hpp"

namespace mt::cpu {
namespace {

using test::error_of;
using test::IrBuilder;

LaunchDims dims_of(std::array<std::uint32_t, 3> grid, std::array<std::uint32_t, 3> tpg) {
  LaunchDims d;
  d.grid = grid;
  d.tpg = tpg;
  return d;
}

// A kernel "k" with out: f16 and `%1: f16 = load out[%0]` as its last instruction.
struct LoadKernel {
  LoadKernel() : b("k", KernelMode::Grid3D) {
    out = b.output("out", DType::F16);
    b.load(out, b.pid(0));
  }
  const Instr& load() const { return b.k.body.instrs.back(); }
  IrBuilder b;
  ParamId out;
};

const LaneGeometry kGeometry({16, 1, 1});
const ThreadLocator kWhere(kGeometry, {3, 0, 0});

TEST(Checks, IndexInBoundsPasses) {
  const LoadKernel k;
  EXPECT_NO_THROW(check_index(k.b.k, k.load(), 0, 4096, kWhere, 12));
  EXPECT_NO_THROW(check_index(k.b.k, k.load(), 4095, 4096, kWhere, 12));
}

TEST(Checks, IndexOutOfBoundsNamesEverything) {
  const LoadKernel k;
  EXPECT_EQ(error_of([&] { check_index(k.b.k, k.load(), 4096, 4096, kWhere, 12); }),
            "kernel 'k': param 'out': load index 4096 out of bounds (4096 elements) at thread "
            "(60,0,0) of threadgroup (3,0,0): %1: f16 = load out[%0]");
  EXPECT_EQ(error_of([&] { check_index(k.b.k, k.load(), -5, 4096, kWhere, 0); }),
            "kernel 'k': param 'out': load index -5 out of bounds (4096 elements) at thread "
            "(48,0,0) of threadgroup (3,0,0): %1: f16 = load out[%0]");
  EXPECT_NE(error_of([&] {
              check_index(k.b.k, k.load(), 0, 0, kWhere, 0);
            }).find("load index 0 out of bounds (0 elements)"),
            std::string::npos);
}

TEST(Checks, ThreadErrorAddsThreadAndOp) {
  const LoadKernel k;
  EXPECT_EQ(thread_error(k.b.k, k.load(), "something broke", kWhere, 1).what(),
            std::string("kernel 'k': something broke at thread (49,0,0) of threadgroup (3,0,0): "
                        "%1: f16 = load out[%0]"));
}

TEST(Checks, LocalMustBeWrittenFirst) {
  IrBuilder b("k", KernelMode::Grid3D);
  b.read(b.local("acc", DType::F32));
  const Instr& read = b.k.body.instrs.back();
  EXPECT_NO_THROW(check_local_written(b.k, read, true, kWhere, 2));
  EXPECT_EQ(error_of([&] { check_local_written(b.k, read, false, kWhere, 2); }),
            "kernel 'k': local 'acc' read before it was written at thread (50,0,0) of "
            "threadgroup (3,0,0): %0: f32 = read acc");
}

TEST(Checks, LoopStepMustBePositive) {
  IrBuilder b("k", KernelMode::Grid3D);
  const ValueId zero = b.i32(0);
  b.loop(zero, zero, zero, [](ValueId) {});
  const Instr& loop = b.k.body.instrs.back();
  EXPECT_NO_THROW(check_loop_step(b.k, loop, 1, kWhere, 0));
  const std::string message = error_of([&] { check_loop_step(b.k, loop, -2, kWhere, 0); });
  EXPECT_EQ(message.rfind("kernel 'k': loop step -2 is not positive at thread (48,0,0) of "
                          "threadgroup (3,0,0): for %1: i32",
                          0),
            0u)
      << message;
}

TEST(Checks, LaunchDimsMustBeNonEmpty) {
  const Kernel k = IrBuilder("k", KernelMode::Grid3D).k;
  EXPECT_NO_THROW(check_launch_dims(k, dims_of({1, 1, 1}, {1, 1, 1}), DeviceLimits{}));
  EXPECT_EQ(error_of([&] {
              check_launch_dims(k, dims_of({2, 0, 1}, {32, 1, 1}), DeviceLimits{});
            }),
            "kernel 'k': launch with an empty axis: grid (2,0,1), tpg (32,1,1)");
  EXPECT_EQ(error_of([&] {
              check_launch_dims(k, dims_of({2, 1, 1}, {32, 1, 0}), DeviceLimits{});
            }),
            "kernel 'k': launch with an empty axis: grid (2,1,1), tpg (32,1,0)");
}

TEST(Checks, LaunchDimsRespectTheThreadLimit) {
  const Kernel k = IrBuilder("k", KernelMode::Grid3D).k;
  DeviceLimits limits;
  limits.max_threads_per_threadgroup = 256;
  EXPECT_NO_THROW(check_launch_dims(k, dims_of({1, 1, 1}, {16, 16, 1}), limits));
  EXPECT_EQ(error_of([&] {
              check_launch_dims(k, dims_of({1, 1, 1}, {16, 16, 2}), limits);
            }),
            "kernel 'k': tpg (16,16,2) has 512 threads, over the limit of 256");
}

TEST(Checks, LaunchDimsKeepProgramIdsInU32) {
  const Kernel grid = IrBuilder("k", KernelMode::Grid3D).k;
  const Kernel elementwise = IrBuilder("k", KernelMode::Elementwise).k;
  // 2^22 groups of 2^10 threads: 2^32 threads on axis 0 number 0 .. 2^32-1, which fits.
  EXPECT_NO_THROW(check_launch_dims(grid, dims_of({1u << 22, 1, 1}, {1024, 1, 1}), DeviceLimits{}));
  EXPECT_EQ(
      error_of([&] {
        check_launch_dims(grid, dims_of({(1u << 22) + 1, 1, 1}, {1024, 1, 1}), DeviceLimits{});
      }),
      "kernel 'k': grid (4194305,1,1) x tpg (1024,1,1) has more threads than u32 program "
      "ids can number");
  // 2^17 x 2^16 threads: each axis fits, the linear index of Elementwise mode does not.
  const LaunchDims wide = dims_of({1u << 7, 1u << 16, 1}, {1024, 1, 1});
  EXPECT_NO_THROW(check_launch_dims(grid, wide, DeviceLimits{}));
  EXPECT_NE(error_of([&] {
              check_launch_dims(elementwise, wide, DeviceLimits{});
            }).find("more threads than u32 program ids can number"),
            std::string::npos);
}

TEST(Checks, ArgumentCountMatchesParams) {
  IrBuilder b("k", KernelMode::Grid3D);
  b.input("a", DType::F32);
  b.scalar("n", DType::U32);
  std::vector<Argument> args(2);
  EXPECT_NO_THROW(check_argument_count(b.k, args));
  args.resize(3);
  EXPECT_EQ(error_of([&] { check_argument_count(b.k, args); }),
            "kernel 'k': expected 2 arguments (one per parameter), got 3");
}

// --- threadgroup programming ---------------------------------------------------------------

// A kernel "k" with a threadgroup array s: u32[8], a per-thread array p: f32[4] and a tensor
// out: f32, whose body ends with the op a test asks for.
struct ArrayKernel {
  ArrayKernel() : b("k", KernelMode::Grid3D) {
    out = b.output("out", DType::F32);
    s = b.k.new_array(Array{"s", DType::U32, MemorySpace::Threadgroup, 8, ParamId{}});
    p = b.k.new_array(Array{"p", DType::F32, MemorySpace::Thread, 4, ParamId{}});
    index = b.pid(0);  // %0
  }
  const Instr& last() const { return b.k.body.instrs.back(); }
  IrBuilder b;
  ParamId out;
  ArrayId s, p;
  ValueId index;
};

TEST(Checks, ArraySizesMustBeSpecialised) {
  ArrayKernel k;
  EXPECT_NO_THROW(check_array_sizes(k.b.k));
  const ParamId n = k.b.scalar("n", DType::U32);
  k.b.k.new_array(Array{"tile", DType::F16, MemorySpace::Threadgroup, 0, n});
  EXPECT_EQ(error_of([&] { check_array_sizes(k.b.k); }),
            "kernel 'k': array 'tile': size comes from scalar 'n', which must be specialised "
            "(pass it in consts)");
}

TEST(Checks, ArrayIndexMustBeInBounds) {
  ArrayKernel k;
  k.b.emit(make::array_load(k.b.k, k.s, k.index));
  EXPECT_NO_THROW(check_array_index(k.b.k, k.last(), 0, 8, kWhere, 0));
  EXPECT_NO_THROW(check_array_index(k.b.k, k.last(), 7, 8, kWhere, 0));
  EXPECT_EQ(error_of([&] { check_array_index(k.b.k, k.last(), 8, 8, kWhere, 2); }),
            "kernel 'k': array 's': array_load index 8 out of bounds (8 elements) at thread "
            "(50,0,0) of threadgroup (3,0,0): %1: u32 = array_load s[%0]");
  EXPECT_NE(error_of([&] {
              check_array_index(k.b.k, k.last(), -1, 8, kWhere, 2);
            }).find("array_load index -1 out of bounds"),
            std::string::npos);
}

TEST(Checks, ArrayElementsMustBeWrittenBeforeTheyAreRead) {
  ArrayKernel k;
  k.b.emit(make::array_load(k.b.k, k.s, k.index));
  const Instr shared = k.last();
  k.b.emit(make::array_load(k.b.k, k.p, k.index));
  EXPECT_NO_THROW(check_array_written(k.b.k, shared, k.s, 3, true, kWhere, 1));
  EXPECT_EQ(error_of([&] { check_array_written(k.b.k, shared, k.s, 3, false, kWhere, 1); }),
            "kernel 'k': array 's': element 3 read before anything wrote it at thread (49,0,0) "
            "of threadgroup (3,0,0): %1: u32 = array_load s[%0]");
  EXPECT_EQ(error_of([&] { check_array_written(k.b.k, k.last(), k.p, 2, false, kWhere, 1); }),
            "kernel 'k': array 'p': element 2 read before this thread wrote it at thread "
            "(49,0,0) of threadgroup (3,0,0): %2: f32 = array_load p[%0]");
}

TEST(Checks, RacesNameBothThreads) {
  ArrayKernel k;
  k.b.emit(make::array_store(k.b.k, k.s, k.index, k.index));
  const Instr store = k.last();
  k.b.emit(make::array_load(k.b.k, k.s, k.index));
  EXPECT_NO_THROW(check_no_write_race(k.b.k, store, 5, false, 4, kWhere, 6));
  EXPECT_EQ(error_of([&] { check_no_write_race(k.b.k, store, 5, true, 4, kWhere, 6); }),
            "kernel 'k': array 's': element 5 written by two threads with no barrier between "
            "(first by thread (52,0,0)) at thread (54,0,0) of threadgroup (3,0,0): "
            "array_store s[%0] = %0");
  EXPECT_NO_THROW(check_no_read_race(k.b.k, k.last(), 5, false, 4, kWhere, 6));
  EXPECT_EQ(error_of([&] { check_no_read_race(k.b.k, k.last(), 5, true, 4, kWhere, 6); }),
            "kernel 'k': array 's': element 5 read with no barrier after thread (52,0,0) wrote "
            "it at thread (54,0,0) of threadgroup (3,0,0): %1: u32 = array_load s[%0]");
  EXPECT_NO_THROW(check_no_write_after_read(k.b.k, store, 5, false, 4, kWhere, 6));
  EXPECT_EQ(error_of([&] { check_no_write_after_read(k.b.k, store, 5, true, 4, kWhere, 6); }),
            "kernel 'k': array 's': element 5 written with no barrier after thread (52,0,0) read "
            "it at thread (54,0,0) of threadgroup (3,0,0): array_store s[%0] = %0");
}

std::vector<Lane> lanes_from(Lane lo, Lane hi) {
  std::vector<Lane> v;
  for (Lane l = lo; l < hi; ++l) v.push_back(l);
  return v;
}

TEST(Checks, BarrierNeedsTheWholeThreadgroup) {
  IrBuilder b("k", KernelMode::Grid3D);
  b.emit(make::barrier(OpKind::Barrier));
  const Instr& barrier = b.k.body.instrs.back();
  const std::vector<Lane> all = lanes_from(0, 16);
  EXPECT_NO_THROW(check_threadgroup_converged(b.k, barrier, all, 16, kWhere));
  std::vector<Lane> some = all;
  some.erase(some.begin() + 5);
  EXPECT_EQ(error_of([&] { check_threadgroup_converged(b.k, barrier, some, 16, kWhere); }),
            "kernel 'k': reached by only part of the threadgroup (15 of 16 threads; thread "
            "(53,0,0) is missing) at thread (48,0,0) of threadgroup (3,0,0): barrier");
}

TEST(Checks, WarpOpsNeedEveryThreadOfTheirWarp) {
  IrBuilder b("k", KernelMode::Grid3D);
  const ValueId v = b.pid(0);
  b.emit(make::warp_reduce(b.k, CombineOp::Add, v));
  const Instr& sum = b.k.body.instrs.back();
  const LaneGeometry geometry({40, 1, 1});
  const ThreadLocator where(geometry, {0, 0, 0});
  // Whole warps, the partial last warp (8 threads) included; an absent warp takes no part.
  EXPECT_NO_THROW(check_warp_converged(b.k, sum, lanes_from(0, 40), 40, where));
  EXPECT_NO_THROW(check_warp_converged(b.k, sum, lanes_from(0, 32), 40, where));
  EXPECT_NO_THROW(check_warp_converged(b.k, sum, lanes_from(32, 40), 40, where));
  EXPECT_EQ(error_of([&] { check_warp_converged(b.k, sum, lanes_from(0, 31), 40, where); }),
            "kernel 'k': reached by only part of warp 0 (31 of 32 threads; thread (31,0,0) is "
            "missing) at thread (0,0,0) of threadgroup (0,0,0): %1: u32 = warp_reduce add %0");
  std::vector<Lane> gap = lanes_from(0, 40);
  gap.erase(gap.begin() + 33);
  EXPECT_EQ(error_of([&] { check_warp_converged(b.k, sum, gap, 40, where); }),
            "kernel 'k': reached by only part of warp 1 (7 of 8 threads; thread (33,0,0) is "
            "missing) at thread (32,0,0) of threadgroup (0,0,0): %1: u32 = warp_reduce add %0");
}

TEST(Checks, VectorAccessMustBeAlignedAndInBounds) {
  ArrayKernel k;
  k.b.emit(make::load_vector(k.b.k, k.out, k.index, k.p, 4));
  EXPECT_NO_THROW(check_vector_access(k.b.k, k.last(), 0, 8, kWhere, 0));
  EXPECT_NO_THROW(check_vector_access(k.b.k, k.last(), 4, 8, kWhere, 0));
  EXPECT_EQ(error_of([&] { check_vector_access(k.b.k, k.last(), 5, 16, kWhere, 0); }),
            "kernel 'k': param 'out': vector access at index 5 is not a multiple of 4 at thread "
            "(48,0,0) of threadgroup (3,0,0): load_vector out[%0] -> p x4");
  EXPECT_EQ(error_of([&] { check_vector_access(k.b.k, k.last(), 8, 10, kWhere, 0); }),
            "kernel 'k': param 'out': load_vector of 4 elements at index 8 out of bounds (10 "
            "elements) at thread (48,0,0) of threadgroup (3,0,0): load_vector out[%0] -> p x4");
  EXPECT_NE(error_of([&] {
              check_vector_access(k.b.k, k.last(), -4, 10, kWhere, 0);
            }).find("at index -4 out of bounds"),
            std::string::npos);
}

}  // namespace
}  // namespace mt::cpu
