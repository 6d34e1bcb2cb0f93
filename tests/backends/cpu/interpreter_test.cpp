// The lockstep interpreter on hand-built kernels: per-thread loops and branches under masks,
// locals, program_id in every mode, loads and stores and the checks' errors.
#include "backends/cpu/interpreter.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cpu/ir_builder.hpp"
#include "metaltile/core/error.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt::cpu {
namespace {

using test::ArgList;
using test::error_of;
using test::IrBuilder;

constexpr std::uint32_t kPoison = 0xDEADBEEFu;

LaunchDims dims_of(std::array<std::uint32_t, 3> grid, std::array<std::uint32_t, 3> tpg) {
  LaunchDims d;
  d.grid = grid;
  d.tpg = tpg;
  return d;
}

void run(const Kernel& k, ArgList& args, const LaunchDims& dims, unsigned workers = 1) {
  interpret(k, args.args(), dims, DeviceLimits{}, workers);
}

std::vector<std::uint32_t> poisoned_u32(std::size_t n) {
  return std::vector<std::uint32_t>(n, kPoison);
}

// Each thread t runs t iterations of its own loop (thread 0 none), accumulating in a local
// carried across iterations; the loop ends only when the longest thread is done.
TEST(Interpreter, LoopRunsEachThreadsOwnTripCount) {
  IrBuilder b("trips", KernelMode::Grid3D);
  const ParamId out = b.output("out", DType::U32);
  const LocalId acc = b.local("acc", DType::U32);
  const LocalId trips = b.local("trips", DType::U32);
  const ValueId t = b.pid(0);
  b.write(acc, b.u32(0));
  b.write(trips, b.u32(0));
  b.loop(b.u32(0), t, b.u32(1), [&](ValueId i) {
    b.write(acc, b.bin(OpKind::Add, b.read(acc), b.bin(OpKind::Add, i, b.u32(1))));
    b.write(trips, b.bin(OpKind::Add, b.read(trips), b.u32(1)));
  });
  const ValueId n = b.u32(8);
  b.store(out, t, b.read(acc));
  b.store(out, b.bin(OpKind::Add, t, n), b.read(trips));

  ArgList args(b.k);
  args.bind(ParamId{0}, test::pack_u32(poisoned_u32(16)));
  run(b.k, args, dims_of({2, 1, 1}, {4, 1, 1}));

  std::vector<std::uint32_t> expected(16);
  for (std::uint32_t i = 0; i < 8; ++i) {
    expected[i] = i * (i + 1) / 2;
    expected[8 + i] = i;
  }
  test::expect_equal(test::unpack_u32(args.buffer(out)), expected, "out");
}

// A loop with a per-thread start and a step of 3 over an i32 range that starts negative.
TEST(Interpreter, LoopStepsPerThreadOverSignedBounds) {
  IrBuilder b("steps", KernelMode::Grid3D);
  const ParamId out = b.output("out", DType::I32);
  const LocalId sum = b.local("sum", DType::I32);
  const ValueId t = b.pid(0);
  const ValueId ti = b.cast(DType::I32, t);
  b.write(sum, b.i32(0));
  // i in [-t, 7) step 3
  b.loop(b.bin(OpKind::Sub, b.i32(0), ti), b.i32(7), b.i32(3),
         [&](ValueId i) { b.write(sum, b.bin(OpKind::Add, b.read(sum), i)); });
  b.store(out, t, b.read(sum));

  ArgList args(b.k);
  args.bind(out, test::pack_u32(poisoned_u32(5)));
  run(b.k, args, dims_of({1, 1, 1}, {5, 1, 1}));

  std::vector<std::int32_t> expected;
  for (std::int32_t t = 0; t < 5; ++t) {
    std::int32_t s = 0;
    for (std::int32_t i = -t; i < 7; i += 3) s += i;
    expected.push_back(s);
  }
  EXPECT_EQ(test::unpack_i32(args.buffer(out)), expected);
}

// Even threads take the then-arm, odd ones the else-arm; a branch inside a loop masks each
// iteration separately, and writes to a local happen only under the mask.
TEST(Interpreter, IfElseMasksThreads) {
  IrBuilder b("branches", KernelMode::Grid3D);
  const ParamId out = b.output("out", DType::U32);
  const LocalId v = b.local("v", DType::U32);
  const LocalId odd_iters = b.local("odd_iters", DType::U32);
  const ValueId t = b.pid(0);
  const ValueId even = b.cmp(OpKind::Eq, b.bin(OpKind::Rem, t, b.u32(2)), b.u32(0));
  b.write(v, b.u32(7));
  b.if_else(
      even, [&] { b.write(v, b.bin(OpKind::Mul, t, b.u32(10))); },
      [&] { b.write(v, b.bin(OpKind::Add, t, b.u32(100))); });
  b.write(odd_iters, b.u32(0));
  b.loop(b.u32(0), t, b.u32(1), [&](ValueId i) {
    b.if_(b.cmp(OpKind::Eq, b.bin(OpKind::And, i, b.u32(1)), b.u32(1)),
          [&] { b.write(odd_iters, b.bin(OpKind::Add, b.read(odd_iters), b.u32(1))); });
  });
  b.store(out, t,
          b.bin(OpKind::Add, b.read(v), b.bin(OpKind::Mul, b.read(odd_iters), b.u32(1000))));

  ArgList args(b.k);
  args.bind(out, test::pack_u32(poisoned_u32(6)));
  run(b.k, args, dims_of({1, 1, 1}, {6, 1, 1}));

  std::vector<std::uint32_t> expected;
  for (std::uint32_t t = 0; t < 6; ++t) {
    expected.push_back((t % 2 == 0 ? t * 10 : t + 100) + (t / 2) * 1000);
  }
  test::expect_equal(test::unpack_u32(args.buffer(out)), expected, "out");
}

// Grid (2,3,2) of (4,2,1) threads. Each kernel writes an encoding of its three program ids to
// a slot computed from them; the slots and values show the mapping of every mode.
Kernel program_id_kernel(KernelMode mode, std::uint32_t width, std::uint32_t height) {
  IrBuilder b("ids", mode);
  const ParamId out = b.output("out", DType::U32);
  const ValueId p0 = b.pid(0), p1 = b.pid(1), p2 = b.pid(2);
  const ValueId slot = b.bin(OpKind::Add, p0,
                             b.bin(OpKind::Mul, b.u32(width),
                                   b.bin(OpKind::Add, p1, b.bin(OpKind::Mul, b.u32(height), p2))));
  const ValueId code = b.bin(OpKind::Add, p0,
                             b.bin(OpKind::Add, b.bin(OpKind::Mul, p1, b.u32(1000)),
                                   b.bin(OpKind::Mul, p2, b.u32(1000000))));
  b.store(out, slot, code);
  return b.k;
}

constexpr std::array<std::uint32_t, 3> kIdGrid{2, 3, 2}, kIdTpg{4, 2, 1};

TEST(Interpreter, ProgramIdGrid3DIsTheGlobalThreadIndex) {
  const std::uint32_t w = 8, h = 6, d = 2;  // grid * tpg per axis
  const Kernel k = program_id_kernel(KernelMode::Grid3D, w, h);
  ArgList args(k);
  args.bind(ParamId{0}, test::pack_u32(poisoned_u32(w * h * d)));
  run(k, args, dims_of(kIdGrid, kIdTpg));
  std::vector<std::uint32_t> expected;
  for (std::uint32_t z = 0; z < d; ++z)
    for (std::uint32_t y = 0; y < h; ++y)
      for (std::uint32_t x = 0; x < w; ++x) expected.push_back(x + 1000 * y + 1000000 * z);
  test::expect_equal(test::unpack_u32(args.buffer(ParamId{0})), expected, "out");
}

TEST(Interpreter, ProgramIdElementwiseIsTheLinearThreadIndex) {
  const std::uint32_t total = 8 * 6 * 2;
  const Kernel k = program_id_kernel(KernelMode::Elementwise, 1, 1);  // ids 1 and 2 are 0
  ArgList args(k);
  args.bind(ParamId{0}, test::pack_u32(poisoned_u32(total)));
  run(k, args, dims_of(kIdGrid, kIdTpg));
  std::vector<std::uint32_t> expected(total);
  for (std::uint32_t i = 0; i < total; ++i) expected[i] = i;
  test::expect_equal(test::unpack_u32(args.buffer(ParamId{0})), expected, "out");
}

TEST(Interpreter, ProgramIdReductionIsTheThreadgroupIndex) {
  const Kernel k = program_id_kernel(KernelMode::Reduction, 2, 3);
  ArgList args(k);
  args.bind(ParamId{0}, test::pack_u32(poisoned_u32(2 * 3 * 2)));
  run(k, args, dims_of(kIdGrid, kIdTpg));
  std::vector<std::uint32_t> expected;
  for (std::uint32_t z = 0; z < 2; ++z)
    for (std::uint32_t y = 0; y < 3; ++y)
      for (std::uint32_t x = 0; x < 2; ++x) expected.push_back(x + 1000 * y + 1000000 * z);
  test::expect_equal(test::unpack_u32(args.buffer(ParamId{0})), expected, "out");
}

// out[i] = f16(in[len - 1 - i] * scale) for i < len(out): loads, a runtime scalar, a cast, a
// guard on the tensor length (threads past it do nothing) and stores.
TEST(Interpreter, LoadsScalesAndStoresReversed) {
  IrBuilder b("reverse", KernelMode::Elementwise);
  const ParamId in = b.input("in", DType::F32);
  const ParamId out = b.output("out", DType::F16);
  const ParamId scale = b.scalar("scale", DType::F32);
  const ValueId i = b.pid(0);
  b.if_(b.cmp(OpKind::Lt, i, b.len(out)), [&] {
    const ValueId j = b.bin(OpKind::Sub, b.bin(OpKind::Sub, b.len(in), b.u32(1)), i);
    const ValueId x = b.bin(OpKind::Mul, b.load(in, j), b.read_scalar(scale));
    b.store(out, i, b.cast(DType::F16, x));
  });

  const std::vector<float> src{1.0f, -2.5f, 3.25f, 0.125f, 1000.0f};
  ArgList args(b.k);
  args.bind(in, test::pack(src, DType::F32));
  args.bind(out, test::poisoned(5, DType::F16));
  args.set(scale, Scalar::of_float(2.0));
  run(b.k, args, dims_of({2, 1, 1}, {4, 1, 1}));  // 8 threads for 5 elements

  const std::vector<float> expected{2000.0f, 0.25f, 6.5f, -5.0f, 2.0f};
  test::expect_close(test::unpack(args.buffer(out), DType::F16), expected, 0, 0, "out");
}

// f16 + f16 rounds to nearest even in f16: 1+2^-11 ties down to 1, (1+2^-10)+2^-11 ties up to
// 1+2^-9. Compared as bits.
TEST(Interpreter, F16ResultsRoundToNearestEven) {
  IrBuilder b("half", KernelMode::Elementwise);
  const ParamId a = b.input("a", DType::F16);
  const ParamId c = b.input("c", DType::F16);
  const ParamId out = b.output("out", DType::F16);
  const ValueId i = b.pid(0);
  b.store(out, i, b.bin(OpKind::Add, b.load(a, i), b.load(c, i)));

  ArgList args(b.k);
  args.bind(a, {0x00, 0x3C, 0x01, 0x3C});  // 1, 1 + 2^-10
  args.bind(c, {0x00, 0x10, 0x00, 0x10});  // 2^-11, 2^-11
  args.bind(out, {0xFF, 0xFF, 0xFF, 0xFF});
  run(b.k, args, dims_of({1, 1, 1}, {2, 1, 1}));
  const std::vector<std::uint8_t> expected{0x00, 0x3C, 0x02, 0x3C};
  EXPECT_EQ(args.buffer(out), expected);
}

// Group 1 of a (2) x (4) grid loads in[4..7] from a 6-element tensor: thread 6 is the first out
// of bounds. The guard bytes past the bound view stay as they were.
TEST(Interpreter, LoadOutOfBoundsNamesKernelParamIndexAndThread) {
  IrBuilder b("bounds", KernelMode::Grid3D);
  const ParamId in = b.input("in", DType::U32);
  const ParamId out = b.output("out", DType::U32);
  const ValueId t = b.pid(0);
  b.store(out, t, b.load(in, t));

  ArgList args(b.k);
  std::vector<std::uint32_t> src{10, 11, 12, 13, 14, 15, 16, 17};
  args.bind_prefix(in, test::pack_u32(src), 6 * 4);
  args.bind(out, test::pack_u32(poisoned_u32(8)));
  const std::string message = error_of([&] { run(b.k, args, dims_of({2, 1, 1}, {4, 1, 1})); });
  EXPECT_NE(message.find("kernel 'bounds': param 'in': load index 6 out of bounds (6 elements) "
                         "at thread (6,0,0) of threadgroup (1,0,0): %1: u32 = load in[%0]"),
            std::string::npos)
      << message;
  // Group 0 finished; group 1 stopped at the load, before its store.
  const std::vector<std::uint32_t> expected{10, 11, 12, 13, kPoison, kPoison, kPoison, kPoison};
  test::expect_equal(test::unpack_u32(args.buffer(out)), expected, "out");
}

// out has room for 6 elements in a view of a larger buffer; threads 6 and 7 store past it.
// The failing store writes nothing, for any thread, and the guard bytes after the view stay.
TEST(Interpreter, StoreOutOfBoundsWritesNothing) {
  IrBuilder b("bounds", KernelMode::Grid3D);
  const ParamId out = b.output("out", DType::U32);
  const ValueId t = b.pid(0);
  b.store(out, t, b.bin(OpKind::Add, t, b.u32(100)));

  ArgList args(b.k);
  args.bind_prefix(out, test::pack_u32(poisoned_u32(10)), 6 * 4);
  const std::string message = error_of([&] { run(b.k, args, dims_of({2, 1, 1}, {4, 1, 1})); });
  EXPECT_NE(message.find("kernel 'bounds': param 'out': store index 6 out of bounds (6 elements) "
                         "at thread (6,0,0) of threadgroup (1,0,0): store out[%0] = %2"),
            std::string::npos)
      << message;
  const std::vector<std::uint32_t> expected{100,     101,     102,     103,     kPoison,
                                            kPoison, kPoison, kPoison, kPoison, kPoison};
  test::expect_equal(test::unpack_u32(args.buffer(out)), expected, "out and guard");
}

TEST(Interpreter, NegativeIndexIsOutOfBounds) {
  IrBuilder b("negative", KernelMode::Grid3D);
  const ParamId in = b.input("in", DType::F32);
  const ParamId out = b.output("out", DType::F32);
  const ValueId t = b.pid(0);
  const ValueId j = b.bin(OpKind::Sub, b.cast(DType::I32, t), b.i32(1));
  b.store(out, t, b.load(in, j));

  ArgList args(b.k);
  args.bind(in, test::pack(std::vector<float>{1, 2}, DType::F32));
  args.bind(out, test::poisoned(2, DType::F32));
  const std::string message = error_of([&] { run(b.k, args, dims_of({1, 1, 1}, {2, 1, 1})); });
  EXPECT_NE(message.find("param 'in': load index -1 out of bounds (2 elements) at thread (0,0,0)"),
            std::string::npos)
      << message;
}

// 12 / (t - 2) in i32: thread 2 divides by zero.
TEST(Interpreter, DivisionByZeroNamesKernelOpAndThread) {
  IrBuilder b("divide", KernelMode::Grid3D);
  const ParamId out = b.output("out", DType::I32);
  const ValueId t = b.pid(0);                          // %0
  const ValueId twelve = b.i32(12);                    // %1
  const ValueId ti = b.cast(DType::I32, t);            // %2
  const ValueId d = b.bin(OpKind::Sub, ti, b.i32(2));  // %3 = 2, %4
  b.store(out, t, b.bin(OpKind::Div, twelve, d));      // %5

  ArgList args(b.k);
  args.bind(out, test::pack_u32(poisoned_u32(4)));
  const std::string message = error_of([&] { run(b.k, args, dims_of({1, 1, 1}, {4, 1, 1})); });
  EXPECT_NE(message.find("kernel 'divide': "), std::string::npos) << message;
  EXPECT_NE(message.find("division by zero"), std::string::npos) << message;
  EXPECT_NE(message.find("at thread (2,0,0) of threadgroup (0,0,0): %5: i32 = div %1, %4"),
            std::string::npos)
      << message;
  // The division failed as one op: no thread reached the store.
  EXPECT_EQ(test::unpack_u32(args.buffer(out)), poisoned_u32(4));
}

TEST(Interpreter, ReadingAnUnwrittenLocalIsAnError) {
  IrBuilder b("unwritten", KernelMode::Grid3D);
  const ParamId out = b.output("out", DType::U32);
  const LocalId v = b.local("v", DType::U32);
  const ValueId t = b.pid(0);
  b.if_(b.cmp(OpKind::Lt, t, b.u32(3)), [&] { b.write(v, t); });
  b.store(out, t, b.read(v));

  ArgList args(b.k);
  args.bind(out, test::pack_u32(poisoned_u32(4)));
  const std::string message = error_of([&] { run(b.k, args, dims_of({1, 1, 1}, {4, 1, 1})); });
  EXPECT_NE(message.find("kernel 'unwritten': local 'v' read before it was written at thread "
                         "(3,0,0) of threadgroup (0,0,0)"),
            std::string::npos)
      << message;
}

TEST(Interpreter, LoopStepZeroIsAnError) {
  IrBuilder b("stuck", KernelMode::Grid3D);
  const ParamId out = b.output("out", DType::U32);
  const ParamId step = b.scalar("step", DType::U32);
  const ValueId t = b.pid(0);
  b.loop(b.u32(0), b.u32(4), b.read_scalar(step), [&](ValueId i) { b.store(out, t, i); });

  ArgList args(b.k);
  args.bind(out, test::pack_u32(poisoned_u32(1)));
  args.set(step, Scalar::of_int(0));
  const std::string message = error_of([&] { run(b.k, args, dims_of({1, 1, 1}, {1, 1, 1})); });
  EXPECT_NE(message.find("kernel 'stuck': loop step 0 is not positive at thread (0,0,0)"),
            std::string::npos)
      << message;
}

TEST(Interpreter, WrongArgumentCountIsAnError) {
  IrBuilder b("count", KernelMode::Grid3D);
  b.output("out", DType::U32);
  std::vector<Argument> none;
  EXPECT_EQ(error_of([&] {
              interpret(b.k, none, dims_of({1, 1, 1}, {1, 1, 1}), DeviceLimits{});
            }),
            "kernel 'count': expected 1 argument (one per parameter), got 0");
}

// A grid big enough to spread over workers gives the same bytes as an in-order run, and the
// error of the lowest failing group.
Kernel square_kernel() {
  IrBuilder b("square", KernelMode::Elementwise);
  const ParamId in = b.input("in", DType::U32);
  const ParamId out = b.output("out", DType::U32);
  const ValueId i = b.pid(0);
  const ValueId x = b.load(in, i);
  b.store(out, i, b.bin(OpKind::Mul, x, x));
  return b.k;
}

TEST(Interpreter, WorkersMatchAnInOrderRun) {
  const Kernel k = square_kernel();
  const std::uint32_t n = 128 * 512;
  std::vector<std::uint32_t> src(n);
  for (std::uint32_t i = 0; i < n; ++i) src[i] = i * 2654435761u;
  std::vector<std::uint32_t> expected(n);
  for (std::uint32_t i = 0; i < n; ++i) expected[i] = src[i] * src[i];
  for (unsigned workers : {1u, 4u}) {
    SCOPED_TRACE("workers " + std::to_string(workers));
    ArgList args(k);
    args.bind(ParamId{0}, test::pack_u32(src));
    args.bind(ParamId{1}, test::pack_u32(poisoned_u32(n)));
    run(k, args, dims_of({128, 1, 1}, {512, 1, 1}), workers);
    test::expect_equal(test::unpack_u32(args.buffer(ParamId{1})), expected, "out");
  }
}

TEST(Interpreter, WorkersReportTheLowestFailingGroup) {
  const Kernel k = square_kernel();
  const std::uint32_t n = 128 * 512;
  ArgList args(k);
  args.bind_prefix(ParamId{0}, test::pack_u32(std::vector<std::uint32_t>(n, 3)), (n - 1000) * 4);
  args.bind(ParamId{1}, test::pack_u32(poisoned_u32(n)));
  const std::string message = error_of([&] { run(k, args, dims_of({128, 1, 1}, {512, 1, 1}), 4); });
  EXPECT_NE(message.find("load index 64536 out of bounds (64536 elements) at thread (64536,0,0) "
                         "of threadgroup (126,0,0)"),
            std::string::npos)
      << message;
  // Every group before the failing one ran.
  const std::vector<std::uint32_t> out = test::unpack_u32(args.buffer(ParamId{1}));
  for (std::uint32_t i = 0; i < 126 * 512; ++i) {
    ASSERT_EQ(out[i], 9u) << "index " << i;
  }
}

}  // namespace
}  // namespace mt::cpu
