// The launch shape a library kernel was written for, stated in its contract: a kernel that reads
// only axis 0 of the thread identity (program_id(0), thread_id(0), threads_per_threadgroup(0))
// would repeat or garble its work under a 2-D or 3-D threadgroup or grid, so it rejects them.
#pragma once

#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels {

// A threadgroup of axis 0 only, for a kernel whose grid axes 1 and 2 carry work of their own.
inline void require_1d_threadgroup(KernelBuilder& k) {
  k.require(threads_per_threadgroup(1) == 1u && threads_per_threadgroup(2) == 1u,
            "a 1-D threadgroup: tpg = (x, 1, 1)");
}

inline void require_1d_launch(KernelBuilder& k) {
  require_1d_threadgroup(k);
  k.require(threadgroups_per_grid(1) == 1u && threadgroups_per_grid(2) == 1u,
            "a 1-D grid: grid = (x, 1, 1)");
}

}  // namespace mt::kernels
