// MLX-format affine quantised weights (docs/kernels/quantized.md): for each row of K weights
// and each group of group_size (32, 64, 128) along K, w ~ scale * q + bias with q an unsigned
// `bits`-bit code (2, 3, 4, 5, 6, 8), packed LSB-first into u32 words exactly as MLX's
// mx.quantize packs them. Generic over T in {f32, f16, bf16}.
//
//  quantize_affine    w -> wq, scales, biases                  bit-identical to mx.quantize
//  dequantize_affine  wq, scales, biases -> out                identical to mx.dequantize
//  embedding_affine   ids, wq, scales, biases -> out           the rows ids[t] of the table,
//                                                              as dequantize_affine writes them
//  qgemv_affine       x, wq, scales, biases -> out             mx.quantized_matmul(x, wq,
//                                                              scales, biases, transpose=True)
//                                                              for M = 1..16 rows of x; runs
//                                                              qgemv_affine_m1/_m4/_m8 when M
//                                                              fits, else itself
//  qgemv_affine_mR    the same for M <= R, runnable by name on its own
//  qgemv_affine_m1_r2 an alternative layout for M = 1 (two weight rows a warp, not four), for
//                     the benchmark to compare
//  qgemm_affine       a, wq, scales, biases -> out             the same product for any M
//                                                              (prefill): weight tiles
//                                                              dequantised on their way to the
//                                                              tensor cores (f16, bf16; f32 on
//                                                              the CUDA cores); runs
//                                                              qgemm_affine_128x128 for large
//                                                              problems
//  qgemm_affine_128x128, qgemm_affine_128x128_w8  128 x 128 blocks with 4 or 8 warps, runnable
//                     by name on their own
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_MLX_QUANTIZED_KERNELS(X) \
  X(quantize_affine)                \
  X(dequantize_affine)              \
  X(embedding_affine)               \
  X(qgemv_affine)                   \
  X(qgemv_affine_m1)                \
  X(qgemv_affine_m1_r2)             \
  X(qgemv_affine_m4)                \
  X(qgemv_affine_m8)                \
  X(qgemm_affine)                   \
  X(qgemm_affine_128x128)           \
  X(qgemm_affine_128x128_w8)

namespace mt::kernels::mlx::quantized {

inline constexpr std::string_view kFamily = "mlx::quantized";
MT_MLX_QUANTIZED_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_MLX_QUANTIZED_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::mlx::quantized
