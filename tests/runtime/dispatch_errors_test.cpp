// Every misuse the dispatch contract lists is an mt::Error naming the kernel and the parameter
// (or grid/tpg), and the same Context dispatches correctly right afterwards.
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

using test::error_of;
using test::expect_mentions;

constexpr std::size_t kLen = 48;

// out[i] = src[i] * 2 for i < n, with the precondition n >= 1.
Kernel doubler() {
  return trace("doubler", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    b.require(n >= 1u, "n >= 1");
    Val i = program_id(0);
    if_(i < n, [&] { out[i] = src[i] * 2.0f; });
  });
}

std::vector<float> source() {
  std::vector<float> v(kLen);
  for (std::size_t i = 0; i < kLen; ++i) v[i] = 0.5f * float(i) - 7.25f;
  return v;
}

BufferMap good_buffers() {
  BufferMap b;
  b["src"] = test::pack(source(), DType::F32);
  b["out"] = test::poisoned(kLen, DType::F32);
  b["n"] = test::le_bytes(std::uint32_t{kLen});
  return b;
}

constexpr std::array<std::size_t, 3> kGrid{3, 1, 1}, kTpg{16, 1, 1};

// The context still works after an error: a correct dispatch gives the right result.
void expect_still_works(Context& ctx) {
  const DispatchResult r = ctx.dispatch_with_grid(doubler(), good_buffers(), {}, kGrid, kTpg);
  const std::vector<float> src = source();
  std::vector<float> expected(kLen);
  for (std::size_t i = 0; i < kLen; ++i) expected[i] = src[i] * 2.0f;
  test::expect_close(test::unpack(r.outputs.at("out"), DType::F32), expected, 0.0, 0.0,
                     "dispatch after the error");
}

// Dispatches `buffers`/`consts` with the given dims, expects an mt::Error mentioning the
// kernel and `parts`, then a good dispatch on the same context.
void expect_error(const BufferMap& buffers, const ConstMap& consts, std::array<std::size_t, 3> grid,
                  std::array<std::size_t, 3> tpg, const std::vector<std::string>& parts) {
  test::for_each_backend([&](Context& ctx) {
    const std::string message =
        error_of([&] { (void)ctx.dispatch_with_grid(doubler(), buffers, consts, grid, tpg); });
    std::cout << "  error: " << message << std::endl;  // what the user would read
    std::vector<std::string> all{"kernel 'doubler'"};
    all.insert(all.end(), parts.begin(), parts.end());
    expect_mentions(message, all);
    expect_still_works(ctx);
  });
}

TEST(DispatchErrors, MissingBuffer) {
  BufferMap b = good_buffers();
  b.erase("src");
  expect_error(b, {}, kGrid, kTpg, {"param 'src'", "missing buffer"});
  b = good_buffers();
  b.erase("n");
  expect_error(b, {}, kGrid, kTpg, {"param 'n'", "missing buffer"});
}

TEST(DispatchErrors, LengthNotAMultipleOfTheElementSize) {
  BufferMap b = good_buffers();
  b["src"].resize(kLen * 4 - 2);
  expect_error(b, {}, kGrid, kTpg, {"param 'src'", "multiple"});
}

TEST(DispatchErrors, InputShorterThanTheKernelReads) {
  BufferMap b = good_buffers();
  b["src"].resize(40 * 4);  // n = 48 threads read 48 elements
  expect_error(b, {}, kGrid, kTpg, {"param 'src'", "out of bounds"});
}

// A count of one reads "1 element", never "1 elements" (here: n = 2 threads read a src of 1).
TEST(DispatchErrors, OneElementMessagesAreSingular) {
  BufferMap b = good_buffers();
  b["src"].resize(4);
  b["n"] = test::le_bytes(std::uint32_t{2});
  expect_error(b, {}, kGrid, kTpg, {"param 'src'", "load index 1 out of bounds (1 element)"});
}

TEST(DispatchErrors, OutputShorterThanTheKernelWrites) {
  BufferMap b = good_buffers();
  b["out"].resize(47 * 4);
  expect_error(b, {}, kGrid, kTpg, {"param 'out'", "out of bounds"});
}

TEST(DispatchErrors, ZeroGridAxis) {
  for (int axis = 0; axis < 3; ++axis) {
    std::array<std::size_t, 3> grid = kGrid;
    grid[axis] = 0;
    expect_error(good_buffers(), {}, grid, kTpg, {"grid", "axis " + std::to_string(axis)});
  }
}

TEST(DispatchErrors, ZeroTpgAxis) {
  for (int axis = 0; axis < 3; ++axis) {
    std::array<std::size_t, 3> tpg = kTpg;
    tpg[axis] = 0;
    expect_error(good_buffers(), {}, kGrid, tpg, {"tpg", "axis " + std::to_string(axis)});
  }
}

TEST(DispatchErrors, TpgOverTheDeviceLimit) {
  const DeviceLimits limits = test::available_contexts().front().limits();
  // Each axis within its own limit, but the product over the total.
  const std::size_t x = limits.max_tpg[0];
  const std::size_t y = limits.max_threads_per_threadgroup / x + 1;
  ASSERT_LE(y, limits.max_tpg[1]);
  expect_error(good_buffers(), {}, kGrid, {x, y, 1},
               {"tpg", std::to_string(limits.max_threads_per_threadgroup)});
  // One axis over its own limit.
  expect_error(good_buffers(), {}, kGrid, {1, 1, std::size_t{limits.max_tpg[2]} + 1},
               {"tpg", "axis 2", std::to_string(limits.max_tpg[2])});
}

TEST(DispatchErrors, OversizedGrid) {
  const DeviceLimits limits = test::available_contexts().front().limits();
  expect_error(good_buffers(), {}, {1, std::size_t{limits.max_grid[1]} + 1, 1}, kTpg,
               {"grid", "axis 1"});
  // Beyond the u32 range, which no device accepts.
  expect_error(good_buffers(), {}, {std::size_t{1} << 33, 1, 1}, kTpg, {"grid", "axis 0"});
  // Within the device's grid, but more threads on an axis than a u32 program_id can index.
  expect_error(good_buffers(), {}, {limits.max_grid[0], 1, 1}, {64, 1, 1}, {"grid", "program_id"});
}

// Elementwise program_id(0) indexes the whole launch, so the total must fit a u32 too.
TEST(DispatchErrors, ElementwiseLaunchLargerThanAU32Index) {
  Kernel k = doubler();
  k.mode = KernelMode::Elementwise;
  test::for_each_backend([&](Context& ctx) {
    const std::string message = error_of([&] {
      (void)ctx.dispatch_with_grid(k, good_buffers(), {}, {65536, 4096, 1}, {1024, 1, 1});
    });
    expect_mentions(message, {"kernel 'doubler'", "Elementwise", "u32 program_id"});
    expect_still_works(ctx);
  });
}

TEST(DispatchErrors, UnknownBufferName) {
  BufferMap b = good_buffers();
  b["scr"] = test::pack(source(), DType::F32);  // a typo: reported, not ignored
  // The message lists what the kernel does take.
  expect_error(b, {}, kGrid, kTpg, {"unknown buffer 'scr'", "src", "out", "n"});
}

// The one bind step checks names and parameters in one walk, yet an unknown name is still
// reported before a parameter's own mistake (here a missing buffer).
TEST(DispatchErrors, UnknownNameComesBeforeAMissingBuffer) {
  BufferMap b = good_buffers();
  b["scr"] = b.at("src");
  b.erase("src");
  expect_error(b, {}, kGrid, kTpg, {"unknown buffer 'scr'"});
}

TEST(DispatchErrors, ScalarWithWrongByteLength) {
  BufferMap b = good_buffers();
  b["n"] = test::pack_u32(std::vector<std::uint32_t>{kLen, 0});  // 8 bytes
  expect_error(b, {}, kGrid, kTpg, {"param 'n'", "4 bytes", "got 8"});
  b["n"] = {48, 0};  // 2 bytes
  expect_error(b, {}, kGrid, kTpg, {"param 'n'", "4 bytes", "got 2"});
}

TEST(DispatchErrors, ConstOfUnknownName) {
  expect_error(good_buffers(), {{"m", std::uint32_t{3}}}, kGrid, kTpg,
               {"param 'm'", "unknown const"});
}

TEST(DispatchErrors, ConstForATensor) {
  BufferMap b = good_buffers();
  b.erase("src");
  expect_error(b, {{"src", 1.0f}}, kGrid, kTpg, {"param 'src'", "scalar"});
}

TEST(DispatchErrors, ConstOfWrongType) {
  BufferMap b = good_buffers();
  b.erase("n");
  expect_error(b, {{"n", std::int32_t{48}}}, kGrid, kTpg, {"param 'n'", "i32", "u32"});
  expect_error(b, {{"n", 48.0f}}, kGrid, kTpg, {"param 'n'", "f32", "u32"});
}

TEST(DispatchErrors, ConstGivenTwice) {
  expect_error(good_buffers(), {{"n", std::uint32_t{48}}}, kGrid, kTpg, {"param 'n'", "both"});
}

TEST(DispatchErrors, FailedPrecondition) {
  BufferMap b = good_buffers();
  b["n"] = test::le_bytes(std::uint32_t{0});
  expect_error(b, {}, kGrid, kTpg, {"param 'n'", "n >= 1"});
}

TEST(DispatchErrors, FailedPreconditionOnASpecialisedScalar) {
  BufferMap b = good_buffers();
  b.erase("n");
  // The contract runs on the kernel as given, so the message names the specialised scalar.
  test::for_each_backend([&](Context& ctx) {
    const std::string message = error_of([&] {
      (void)ctx.dispatch_with_grid(doubler(), b, {{"n", std::uint32_t{0}}}, kGrid, kTpg);
    });
    expect_mentions(message, {"kernel 'doubler'", "param 'n'", "n >= 1"});
    expect_still_works(ctx);
  });
}

// A threadgroup array sized by `n`: the size is fixed at compile time, so n must be a const.
Kernel staged() {
  return trace("staged", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    ArrayRef buf = b.threadgroup_array("buf", DType::F32, n);
    Val t = thread_id(0);
    buf[t] = src[t];
    barrier();
    out[t] = buf[t];
  });
}

TEST(DispatchErrors, ArraySizedByAnUnspecialisedScalar) {
  BufferMap b;
  b["src"] = test::pack(source(), DType::F32);
  b["out"] = test::poisoned(kLen, DType::F32);
  b["n"] = test::le_bytes(std::uint32_t{kLen});
  const std::string expected =
      "kernel 'staged': param 'n': array 'buf' takes its size from this scalar, which must be "
      "specialised (pass it in consts)";
  test::for_each_backend([&](Context& ctx) {
    // Passed as a buffer, not a const: reported before any compile, by dispatch and prepare.
    EXPECT_EQ(error_of([&] {
                (void)ctx.dispatch_with_grid(staged(), b, {}, {1, 1, 1}, {48, 1, 1});
              }),
              expected);
    EXPECT_EQ(error_of([&] { (void)ctx.prepare(staged()); }), expected);
    // Specialised to 0: no array can have that size.
    BufferMap without_n = b;
    without_n.erase("n");
    expect_mentions(error_of([&] {
                      (void)ctx.dispatch_with_grid(staged(), without_n, {{"n", std::uint32_t{0}}},
                                                   {1, 1, 1}, {48, 1, 1});
                    }),
                    {"kernel 'staged'", "param 'n'", "specialised to 0", "array 'buf'"});
    expect_still_works(ctx);
  });
}

// A Kernel damaged after tracing (its params cleared under the instructions that name them)
// is verified before its contract runs: an mt::Error, never a read past the parameter table.
TEST(DispatchErrors, DamagedKernelIsAVerifyError) {
  Kernel damaged = doubler();
  damaged.params.clear();
  test::for_each_backend([&](Context& ctx) {
    for (const BufferMap& b : {BufferMap{}, good_buffers()}) {
      expect_mentions(error_of([&] { (void)ctx.dispatch_with_grid(damaged, b, {}, kGrid, kTpg); }),
                      {"kernel 'doubler': verify: ", "is out of range (0 params)"});
    }
    expect_mentions(error_of([&] { (void)ctx.prepare(damaged); }), {"kernel 'doubler': verify: "});
    expect_still_works(ctx);
  });
}

}  // namespace
}  // namespace mt
