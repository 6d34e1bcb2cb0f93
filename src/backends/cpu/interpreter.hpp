// The CPU interpreter: the reference semantics of the IR. It runs a kernel's body one
// threadgroup at a time in lockstep (each op over all active threads); the contract is core's
// (core/contract.hpp).
#pragma once

#include <span>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cpu {

// Runs k's body over dims.grid threadgroups of dims.tpg threads: one group at a time, each op
// applied to the group's active threads in lockstep. `k` is specialised and optimised (it may
// read runtime scalars; every array size must be fixed); the contract is not run here. Every
// access is bounds-checked before memory is touched, and each failed check is an mt::Error
// naming the kernel, op and thread. Beyond bounds it reports what a GPU would not: a barrier
// or collective reached by only part of its group (or warp), a read of an array element
// nothing wrote, and two threads racing on a threadgroup element between barriers.
// Atomics and collectives apply in thread order within a group; float reductions sum as a
// pairwise tree over the lanes in accumulator precision (f32 for f16/bf16, rounded once).
// Groups may be spread over up to max_workers std::threads (0: as many as the hardware has);
// the error reported is always that of the lowest failing group, as if run in order.
void interpret(const Kernel& k, std::span<Argument> args, const LaunchDims& dims,
               const DeviceLimits& limits, unsigned max_workers = 0);

}  // namespace mt::cpu
