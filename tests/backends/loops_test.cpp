// Loops whose variable reaches the end of its type: every backend runs the trip count of exact
// arithmetic (range(0, 0xFFFFFFF0, 0x10000000) runs 16 times; a wrapping u32 increment would
// never end), and the emitted CUDA steps such loops with mt_loop_next and compiles with NVRTC.
// Loop-step errors and trace-time range checks are in tests/dsl/range_test.cpp.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/cuda_compile.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/nvrtc.hpp"

namespace mt {
namespace {

// out[0] = the number of trips of range(lo, hi, step) over `t` (u32 or i32), with the bounds
// runtime scalars (so no pass can unroll or fold the loop), and out[1] the last value visited.
Kernel count_trips(DType t) {
  return trace("count_trips", KernelMode::Grid3D, [t](KernelBuilder& b) {
    Tensor out = b.output("out", t);
    Val lo = b.scalar("lo", t), hi = b.scalar("hi", t), step = b.scalar("step", t);
    Var trips = lo.literal(0);
    Var last = lo.literal(0);
    for (Val v : range(lo, hi, step)) {
      trips += 1;
      last = v;
    }
    out[lo.literal(0)] = trips;
    out[lo.literal(1)] = last;
  });
}

struct Trips {
  std::int64_t trips, last;
};

template <class T>
Trips run_trips(const Context& ctx, DType t, T lo, T hi, T step) {
  BufferMap b;
  b["out"] = test::poisoned(2, t);
  b["lo"] = test::le_bytes(lo);
  b["hi"] = test::le_bytes(hi);
  b["step"] = test::le_bytes(step);
  const test::Bytes out =
      ctx.dispatch_with_grid(count_trips(t), b, {}, {1, 1, 1}, {1, 1, 1}).outputs.at("out");
  if (t == DType::U32) {
    const std::vector<std::uint32_t> v = test::unpack_u32(out);
    return {v[0], v[1]};
  }
  const std::vector<std::int32_t> v = test::unpack_i32(out);
  return {v[0], v[1]};
}

TEST(Loops, TripCountsReachingTheEndOfTheTypeAgreeOnEveryBackend) {
  test::for_each_backend([](Context& ctx) {
    // 0, 0x10000000, ..., 0xF0000000: the next value, 2^32, is past hi (a u32 += wraps to 0).
    Trips r = run_trips<std::uint32_t>(ctx, DType::U32, 0u, 0xFFFFFFF0u, 0x10000000u);
    EXPECT_EQ(r.trips, 16);
    EXPECT_EQ(r.last, 0xF0000000ll);
    // The largest u32 as hi with step 1: the last value is hi - 1, and v + 1 never passes hi.
    r = run_trips<std::uint32_t>(ctx, DType::U32, 0xFFFFFFF0u, 0xFFFFFFFFu, 1u);
    EXPECT_EQ(r.trips, 15);
    EXPECT_EQ(r.last, 0xFFFFFFFEll);
    // A step larger than the distance left: one trip.
    r = run_trips<std::uint32_t>(ctx, DType::U32, 0xFFFFFFF0u, 0xFFFFFFFFu, 0xFFFFFFF0u);
    EXPECT_EQ(r.trips, 1);
    // i32: 0, 2^28, ..., 7 * 2^28; 2^31 would overflow (undefined behaviour in C++).
    r = run_trips<std::int32_t>(ctx, DType::I32, 0, 0x7FFFFFF0, 0x10000000);
    EXPECT_EQ(r.trips, 8);
    EXPECT_EQ(r.last, 0x70000000ll);
    // From negative to positive across zero, and an ordinary loop.
    r = run_trips<std::int32_t>(ctx, DType::I32, -0x7FFFFFFF, 0x7FFFFFFF, 0x40000000);
    EXPECT_EQ(r.trips, 4);
    EXPECT_EQ(r.last, 0x40000001ll);
    r = run_trips<std::uint32_t>(ctx, DType::U32, 3u, 100u, 7u);
    EXPECT_EQ(r.trips, 14);
    EXPECT_EQ(r.last, 94);
  });
}

class LoopsNvrtc : public ::testing::Test {
 protected:
  void SetUp() override { MT_REQUIRE_NVRTC(); }
};

// Runtime strides step with mt_loop_next; a constant step of 1, or constant bounds that cannot
// wrap, keep the plain increment. Both compile cleanly, checked and unchecked.
TEST_F(LoopsNvrtc, WrapSafeLoopsCompileAndPlainOnesStayPlain) {
  const Kernel strided = count_trips(DType::U32);
  const Kernel unit = trace("unit_step", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor out = b.output("out", DType::U32);
    Val n = b.scalar_u32("n");
    Var sum = u32(0);
    for (Val v : range(n)) sum += v;
    for (Val v : range(0u, u32(64), 4u)) sum += v;
    out[program_id(0)] = sum;
  });
  for (bool checked : {false, true}) {
    SCOPED_TRACE(checked ? "checked" : "unchecked");
    const cuda::CompiledKernel a = cuda::compile_kernel(strided, {.checked = checked}, "sm_90");
    EXPECT_NE(a.source.code.find("= mt_loop_next("), std::string::npos) << a.source.code;
    EXPECT_EQ(a.log, "");
    const cuda::CompiledKernel b = cuda::compile_kernel(unit, {.checked = checked}, "sm_90");
    EXPECT_EQ(b.source.code.find("mt_loop_next"), std::string::npos) << b.source.code;
    EXPECT_EQ(b.log, "");
  }
}

}  // namespace
}  // namespace mt
