// Dense matrix-vector products for decode (docs/kernels/gemv.md): out[m, n] = sum_k x[m, k] *
// w[n, k] for a row-major weight w [N, K] (a linear layer's: out_features N, in_features K) and
// M = 1..16 rows of x, accumulated in f32. Generic over T in {f32, f16, bf16}; any N and K.
//
//  gemv     w, x -> out    scalars k (K), n (N); M = len(x) / k.   Runs the variant below that
//                          fits M (by name: gemv_m1, gemv_m4, gemv_m8), or itself for M > 8.
//  gemv_mR  the same computation for M <= R only (R x-rows per pass), with fewer accumulators
//           and more weight rows per warp; each is runnable by name on its own.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_MLX_GEMV_KERNELS(X) \
  X(gemv)                      \
  X(gemv_m1)                   \
  X(gemv_m4)                   \
  X(gemv_m8)

namespace mt::kernels::mlx::gemv {

inline constexpr std::string_view kFamily = "mlx::gemv";
MT_MLX_GEMV_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_MLX_GEMV_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::mlx::gemv
