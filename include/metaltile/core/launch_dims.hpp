// The launch shape: threadgroups per grid and threads per threadgroup, which a kernel's contract
// may read (threads_per_threadgroup, threadgroups_per_grid) and every backend launches over.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace mt {

// grid counts threadgroups per axis, tpg threads per threadgroup (CUDA <<<grid, tpg>>>).
struct LaunchDims {
  std::array<std::uint32_t, 3> grid{1, 1, 1};
  std::array<std::uint32_t, 3> tpg{1, 1, 1};
};

// "(x,y,z)": how messages print a coordinate or shape triple.
std::string format_axes(std::array<std::uint32_t, 3> v);

}  // namespace mt
