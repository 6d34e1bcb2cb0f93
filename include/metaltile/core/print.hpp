// Stable text form of the IR, shown by `tile inspect` and compared by pass tests.
#pragma once

#include <string>

#include "metaltile/core/kernel.hpp"

namespace mt {

// Example:
//   kernel kv_cache_update mode=Grid3D
//     param src: input f16
//     param out: output f16
//     param head_dim: scalar u32
//     local acc: f32
//     array tile: threadgroup f32[256]
//     array buf: threadgroup f16[size=n]      (size from a scalar still to be specialised)
//   contract {
//     %0: u32 = scalar head_dim
//     require %3 "position < max_seq"
//   }
//   body {
//     %4: u32 = program_id 0
//     %5: f16 = load src[%4]
//     store out[%7] = %5
//     for %8: u32 in [%1, %2) step %3 {
//     }
//     if %9 {
//     } else {
//     }
//     array_store tile[%10] = %11
//     barrier
//     %12: f32 = threadgroup_reduce max %11
//     load_vector src[%13] -> src_vec x8
//   }
std::string print(const Kernel& k);
// One instruction (without nested blocks), as it appears in print(k).
std::string print_instr(const Kernel& k, const Instr& in);

}  // namespace mt
