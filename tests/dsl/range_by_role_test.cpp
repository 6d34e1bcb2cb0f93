// range_by_role: a loop of role branches prints as `per_role`, runs on every backend with each
// role's trips in order (on CUDA as one loop per role, inside its branch), and the verifier
// rejects a body a backend could not split: a role computed in the loop, an else block, a
// threadgroup barrier in a role, a side effect outside the roles.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dsl/expect_dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace mt {
namespace {

using test::expect_trace_error;

constexpr std::uint32_t kThreads = 64;

// Two warps, two roles: warp 0 writes out[i * 64 + lane] = i * 3 + lane over trips i, warp 1
// writes the same slots + 32 with i * 5; after the loop warp 0 adds 1000 to its last slot.
Kernel two_roles() {
  return trace("two_roles", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const Val trips = b.scalar_u32("trips");
    const Val warp = thread_id(0) / 32u, lane = lane_id();
    const Val first = warp == 0u, second = warp == 1u;
    for (Val i : range_by_role(0u, trips)) {
      const Val row = i * kThreads;  // a pure value the roles share
      if_(first, [&] { out[row + lane] = i * 3u + lane; });
      if_(second, [&] { out[row + 32u + lane] = i * 5u + lane; });
    }
    if_(first, [&] { out[(trips - 1u) * kThreads + lane] = u32(1000) + lane; });
  });
}

TEST(RangeByRole, PrintsPerRole) {
  const std::string text = print(two_roles());
  EXPECT_NE(text.find(") step %"), std::string::npos) << text;
  EXPECT_NE(text.find(" per_role {"), std::string::npos) << text;
  EXPECT_EQ(print(trace("plain", KernelMode::Grid3D,
                        [](KernelBuilder& b) {
                          const Tensor out = b.output("out", DType::U32);
                          for (Val i : range(u32(4))) out[i] = i;
                        }))
                .find("per_role"),
            std::string::npos);
}

TEST(RangeByRole, EachRoleRunsItsTripsOnEveryBackend) {
  test::for_each_backend([](Context& ctx) {
    const std::uint32_t trips = 5;
    std::vector<std::uint32_t> expected(trips * kThreads);
    for (std::uint32_t i = 0; i < trips; ++i) {
      for (std::uint32_t lane = 0; lane < 32; ++lane) {
        expected[i * kThreads + lane] = i == trips - 1 ? 1000 + lane : i * 3 + lane;
        expected[i * kThreads + 32 + lane] = i * 5 + lane;
      }
    }
    BufferMap buffers{{"out", test::poisoned(expected.size(), DType::U32)},
                      {"trips", test::le_bytes(trips)}};
    const DispatchResult r =
        ctx.dispatch_with_grid(two_roles(), buffers, {}, {1, 1, 1}, {kThreads, 1, 1});
    test::expect_equal(test::unpack_u32(r.outputs.at("out")), expected, "out");
  });
}

TEST(RangeByRole, VerifierRejectsABodyNoBackendCouldSplit) {
  expect_trace_error("role_in_loop",
                     [](KernelBuilder& b) {
                       const Tensor out = b.output("out", DType::U32);
                       for (Val i : range_by_role(0u, u32(4))) {
                         if_(thread_id(0) < 32u, [&] { out[i] = i; });
                       }
                     },
                     {"per_role", "computed in the loop", "must not change between trips"});
  expect_trace_error("role_else",
                     [](KernelBuilder& b) {
                       const Tensor out = b.output("out", DType::U32);
                       const Val first = thread_id(0) < 32u;
                       for (Val i : range_by_role(0u, u32(4))) {
                         if_(first, [&] { out[i] = i; }).else_([&] { out[i] = 0u; });
                       }
                     },
                     {"per_role", "else block"});
  expect_trace_error("role_barrier",
                     [](KernelBuilder& b) {
                       const Tensor out = b.output("out", DType::U32);
                       const Val first = thread_id(0) < 32u;
                       for (Val i : range_by_role(0u, u32(4))) {
                         if_(first, [&] {
                           barrier();
                           out[i] = i;
                         });
                       }
                     },
                     {"per_role", "threadgroup barrier"});
  expect_trace_error("role_side_effect",
                     [](KernelBuilder& b) {
                       const Tensor out = b.output("out", DType::U32);
                       const Val first = thread_id(0) < 32u;
                       for (Val i : range_by_role(0u, u32(4))) {
                         out[i] = i;
                         if_(first, [&] { out[i + 4u] = i; });
                       }
                     },
                     {"per_role", "only pure values and role branches", "store"});
}

}  // namespace
}  // namespace mt
