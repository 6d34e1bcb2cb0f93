// Fused RMS norms for decoder layers (docs/kernels/norms.md). Generic over T in {f32, f16, bf16};
// they accumulate in f32 and round each stored value to T once.
//
//  add_rms_norm         x, residual, w -> h, out   h = round_T(x + residual),
//                                                  out = h * rsqrt(mean(h^2) + eps) * (w + offset)
//  rms_norm_short_rows  x, w -> out                rms_norm (mlx::rows) for rows of n <= 256:
//  several
//                                                  rows a threadgroup, a team of <= 32 lanes a row
//
// Scalars: n (row length), eps (f32), weight_offset (f32: 0 for Llama and Qwen, 1 for Gemma).
// `rms_norm` launched by name picks rms_norm_short_rows itself when n <= 256.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_FFAI_NORMS_KERNELS(X) \
  X(add_rms_norm)                \
  X(rms_norm_short_rows)

namespace mt::kernels::ffai::norms {

inline constexpr std::string_view kFamily = "ffai::norms";
MT_FFAI_NORMS_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_FFAI_NORMS_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::ffai::norms
