// Array sizes against the device's limits, on every backend: a kernel whose threadgroup arrays
// exceed the threadgroup memory (DeviceLimits::max_threadgroup_memory) or whose per-thread
// arrays exceed max_thread_array_bytes is an mt::Error naming the kernel and the array before
// anything is compiled or allocated (a threadgroup array of 2^30 f32 used to exhaust the host's
// memory in the interpreter); async barriers count towards threadgroup memory. Arrays exactly
// at the limits run.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "metaltile/dsl/dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "metaltile/runtime/device.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

using test::error_of;

// Each thread writes its index into threadgroup array `tile` of `elements` f32, reads it back.
Kernel tile_kernel(std::uint32_t elements) {
  return trace("tile", KernelMode::Reduction, [elements](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, elements);
    Val t = thread_id(0);
    tile[t] = t.to(DType::F32);
    barrier();
    out[t] = tile[t];
  });
}

// The same with the size taken from a specialised scalar `n`.
Kernel specialised_tile_kernel() {
  return trace("tile_n", KernelMode::Reduction, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    ArrayRef tile = b.threadgroup_array("tile", DType::F32, b.scalar_u32("n"));
    Val t = thread_id(0);
    tile[t] = t.to(DType::F32);
    barrier();
    out[t] = tile[t];
  });
}

// Per thread: `elements` f32 in array `vals`, the first two written and summed.
Kernel thread_array_kernel(std::uint32_t elements) {
  return trace("per_thread", KernelMode::Grid3D, [elements](KernelBuilder& b) {
    Tensor out = b.output("out", DType::F32);
    ArrayRef vals = b.thread_array("vals", DType::F32, elements);
    vals[0] = f32(1.0f);
    vals[1] = f32(2.0f);
    out[program_id(0)] = Val(vals[0]) + Val(vals[1]);
  });
}

DispatchResult run(const Context& ctx, const Kernel& k, const ConstMap& consts = {}) {
  BufferMap b;
  b["out"] = test::poisoned(32, DType::F32);
  return ctx.dispatch_with_grid(k, b, consts, {1, 1, 1}, {32, 1, 1});
}

TEST(ArrayLimits, ThreadgroupArraysOverTheDevicesMemoryAreErrors) {
  test::for_each_backend([](Context& ctx) {
    const std::uint32_t limit = ctx.limits().max_threadgroup_memory;
    EXPECT_EQ(error_of([&] { run(ctx, tile_kernel(1u << 30)); }),
              "kernel 'tile': array 'tile' (f32[1073741824]): the threadgroup arrays take "
              "4294967296 bytes a threadgroup, over the limit of " +
                  std::to_string(limit) + " bytes of threadgroup memory");
    test::expect_mentions(error_of([&] { run(ctx, tile_kernel(limit / 4 + 1)); }),
                          {"kernel 'tile': array 'tile'", std::to_string(limit + 4) + " bytes"});
    // A size from the ConstMap is checked the same way, before a compile.
    test::expect_mentions(error_of([&] {
                            run(ctx, specialised_tile_kernel(), {{"n", std::uint32_t{1} << 30}});
                          }),
                          {"kernel 'tile_n': array 'tile' (f32[1073741824])", "over the limit of"});
    test::expect_mentions(error_of([&] {
                            ctx.prepare(specialised_tile_kernel(), {{"n", std::uint32_t{1} << 30}});
                          }),
                          {"kernel 'tile_n': array 'tile'", "over the limit of"});
    // Exactly the limit runs, and the context is still usable.
    const DispatchResult r = run(ctx, tile_kernel(limit / 4));
    EXPECT_EQ(test::unpack(r.outputs.at("out"), DType::F32)[31], 31.0f);
    EXPECT_NO_THROW(run(ctx, specialised_tile_kernel(), {{"n", std::uint32_t{32}}}));
  });
}

// Async barriers take 8 bytes of threadgroup memory each: an array of exactly the limit plus one
// barrier is over it.
TEST(ArrayLimits, AsyncBarriersCountTowardsThreadgroupMemory) {
  test::for_each_backend([](Context& ctx) {
    const std::uint32_t limit = ctx.limits().max_threadgroup_memory;
    const Kernel k = trace("tile_and_barrier", KernelMode::Reduction, [limit](KernelBuilder& b) {
      Tensor out = b.output("out", DType::F32);
      ArrayRef tile = b.threadgroup_array("tile", DType::F32, limit / 4);
      const AsyncBarriers bars("bars", 1);
      Val t = thread_id(0);
      tile[t] = t.to(DType::F32);
      barrier();
      out[t] = tile[t];
    });
    EXPECT_EQ(error_of([&] { run(ctx, k); }),
              "kernel 'tile_and_barrier': array 'tile' (f32[" + std::to_string(limit / 4) +
                  "]): the threadgroup arrays and async barriers take " +
                  std::to_string(limit + 8) + " bytes a threadgroup, over the limit of " +
                  std::to_string(limit) + " bytes of threadgroup memory");
  });
}

TEST(ArrayLimits, PerThreadArraysOverTheLimitAreErrors) {
  test::for_each_backend([](Context& ctx) {
    const std::uint32_t limit = ctx.limits().max_thread_array_bytes;
    EXPECT_EQ(error_of([&] { run(ctx, thread_array_kernel(1000000)); }),
              "kernel 'per_thread': array 'vals' (f32[1000000]): the per-thread arrays take "
              "4000000 bytes a thread, over the limit of " +
                  std::to_string(limit) + " bytes (max_thread_array_bytes)");
    const DispatchResult r = run(ctx, thread_array_kernel(limit / 4));
    EXPECT_EQ(test::unpack(r.outputs.at("out"), DType::F32)[0], 3.0f);
  });
}

}  // namespace
}  // namespace mt
