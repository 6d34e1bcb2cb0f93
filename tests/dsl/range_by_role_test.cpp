// range_by_role: a loop of role branches prints as `per_role`, runs on every backend with each
// role's trips in order (on CUDA as one loop per role, inside its branch), and the verifier
// rejects a body a backend could not split: a role computed in the loop, an else block, a
// threadgroup barrier in a role, a side effect outside the roles.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dsl/expect_dsl.hpp"
#include "metaltile/passes/pipeline.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/role_loop_kernel.hpp"

namespace mt {
namespace {

using test::expect_trace_error;

using test::kRoleLoopThreads;
using test::role_loop_kernel;

TEST(RangeByRole, PrintsPerRole) {
  const std::string text = print(role_loop_kernel());
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
    std::vector<std::uint32_t> expected(trips * kRoleLoopThreads);
    for (std::uint32_t i = 0; i < trips; ++i) {
      for (std::uint32_t lane = 0; lane < 32; ++lane) {
        expected[i * kRoleLoopThreads + lane] = i == trips - 1 ? 1000 + lane : i * 3 + lane;
        expected[i * kRoleLoopThreads + 32 + lane] = i * 5 + lane;
      }
    }
    BufferMap buffers{{"out", test::poisoned(expected.size(), DType::U32)},
                      {"trips", test::le_bytes(trips)}};
    const DispatchResult r = ctx.dispatch_with_grid(role_loop_kernel(), buffers, {}, {1, 1, 1},
                                                    {kRoleLoopThreads, 1, 1});
    test::expect_equal(test::unpack_u32(r.outputs.at("out")), expected, "out");
  });
}

// A role whose condition folds to a constant is inlined into the loop's body by the passes;
// the loop then runs as written, without the per_role mark (and still verifies).
TEST(RangeByRole, AFoldedRoleLeavesAPlainLoop) {
  const auto traced = [] {
    return trace("folded_role", KernelMode::Grid3D, [](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::U32);
      const Val trips = b.scalar_u32("trips");
      const Val always = u32(3) > u32(1), second = thread_id(0) >= 32u;
      for (Val i : range_by_role(0u, trips)) {
        if_(always, [&] { out[i * 64u + thread_id(0)] = i; });
        if_(second, [&] { out[i * 64u + thread_id(0)] = i + 100u; });
      }
    });
  };
  const Kernel k = traced();
  EXPECT_NE(print(k).find("per_role"), std::string::npos);
  const std::string optimised = print(passes::optimise(traced()));
  EXPECT_EQ(optimised.find("per_role"), std::string::npos) << optimised;
  EXPECT_NE(optimised.find("for %"), std::string::npos) << optimised;
  test::for_each_backend([&](Context& ctx) {
    std::vector<std::uint32_t> expected(4 * 64);
    for (std::uint32_t i = 0; i < 4; ++i) {
      for (std::uint32_t t = 0; t < 64; ++t) expected[i * 64 + t] = t >= 32 ? i + 100 : i;
    }
    BufferMap buffers{{"out", test::poisoned(expected.size(), DType::U32)},
                      {"trips", test::le_bytes(std::uint32_t{4})}};
    const DispatchResult r = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {64, 1, 1});
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
