// A warp-specialised loop for the tests of range_by_role (the DSL, the verifier, the CUDA
// emitter): two warps, two roles, a value they share and an epilogue of the first role.
#pragma once

#include <cstdint>

#include "metaltile/dsl/dsl.hpp"

namespace mt::test {

// Threads of one 64-thread group. Warp 0 writes out[i * 64 + lane] = i * 3 + lane over trips
// i, warp 1 the same slots + 32 with i * 5; after the loop warp 0 writes 1000 + lane to its
// last slot.
constexpr std::uint32_t kRoleLoopThreads = 64;

inline Kernel role_loop_kernel() {
  return trace("two_roles", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::U32);
    const Val trips = b.scalar_u32("trips");
    const Val warp = thread_id(0) / 32u, lane = lane_id();
    const Val first = warp == 0u, second = warp == 1u;
    for (Val i : range_by_role(0u, trips)) {
      const Val row = i * kRoleLoopThreads;  // a pure value the roles share
      if_(first, [&] { out[row + lane] = i * 3u + lane; });
      if_(second, [&] { out[row + 32u + lane] = i * 5u + lane; });
    }
    if_(first, [&] { out[(trips - 1u) * kRoleLoopThreads + lane] = u32(1000) + lane; });
  });
}

}  // namespace mt::test
