// What the CUDA backend adds for kernels with warpgroup MMA: the architecture they compile for
// (sm_90a: wgmma exists only with the arch-specific suffix) and the generated MMA helpers, one
// per input type and n, whose inline PTX lists every accumulator register.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metaltile/core/kernel.hpp"

namespace mt::cuda {

// Whether k has any Warpgroup op or FenceAsyncShared.
bool uses_warpgroup_ops(const Kernel& k);

// The architecture k compiles for on a device of `device_arch` ("sm_90"): "sm_90a" for a
// kernel with warpgroup ops on sm_90, `device_arch` for any other kernel. A kernel with
// warpgroup ops on any other architecture, or with async barriers or bulk copies on one before
// sm_90, is an mt::Error naming it.
std::string kernel_arch(const Kernel& k, std::string_view device_arch);

// "mt_warpgroup_mma_bf16_n128": the helper for inputs of `input` and width n.
std::string warpgroup_mma_function(DType input, std::uint32_t n);

// The definitions of the helpers k's WarpgroupMma ops call, each once.
std::string warpgroup_mma_helpers(const Kernel& k);

}  // namespace mt::cuda
