// Row-wise kernels in the MLX style (docs/kernels/rows.md): one threadgroup per row of a
// [rows, n] tensor (KernelMode::Reduction, grid = rows threadgroups), threads striding over the
// row and combining through threadgroup collectives. Generic over T in {f32, f16, bf16}; they
// accumulate in f32 and work for any row length n and any threadgroup size up to 1024.
//
//  softmax     x -> out           out = exp(x - max) / sum(exp(x - max))         scalar n
//  rms_norm    x, w -> out        out = x * rsqrt(mean(x^2) + eps) * w           n, eps (f32)
//  layer_norm  x, w, b -> out     out = (x - mean) * rsqrt(var + eps) * w + b    n, eps (f32)
//  argmax      x -> out (u32)     index of the largest element, lowest on ties   n
//  row_sum     x -> out (T)       sum of the row                                 n
//  row_max     x -> out (T)       largest element of the row                     n
//
// Non-finite values, as PyTorch and MLX treat them: a row holding a NaN gives NaN in every
// output of softmax, rms_norm and layer_norm, a NaN row_sum and row_max, and argmax the index
// of its first NaN (NaN is the largest value, as in PyTorch and NumPy; MLX's argmax skips it).
// inf follows IEEE arithmetic: inf - inf gives NaN (softmax and layer_norm of a row with an inf
// are NaN throughout, rms_norm gives 0 beside NaN at the inf), row_sum of inf and -inf is NaN.
// Finite rows always give finite results.
//
// Parameters, launch geometry, algorithms and accuracy: docs/kernels/rows.md.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_MLX_ROWS_KERNELS(X) \
  X(softmax)                   \
  X(rms_norm)                  \
  X(layer_norm)                \
  X(argmax)                    \
  X(row_sum)                   \
  X(row_max)

namespace mt::kernels::mlx::rows {

inline constexpr std::string_view kFamily = "mlx::rows";
MT_MLX_ROWS_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_MLX_ROWS_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::mlx::rows
