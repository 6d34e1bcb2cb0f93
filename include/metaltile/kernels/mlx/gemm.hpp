// Dense GEMM on the tensor cores (docs/kernels/gemm.md): out[m, n] = sum_k a[m, k] * b[n, k]
// (out = a * bᵀ, the layout of a linear layer: a holds M rows of activations, b the N x K
// weight), f16 or bf16, accumulated in f32, any M, N and K. Written with the tile layer
// (dsl/tile.hpp): a ring of swizzled threadgroup tiles filled by asynchronous copies, warps
// multiplying from it with mma.sync while the next stages load.
//
//  gemm                  a, b -> out   scalars m, n, k. Runs the variant below that fits the
//                        shape and device (gemm_wgmma_tma_128x128 on sm_90); itself for k not a
//                        multiple of 8 (whose rows are not 16-byte aligned): 64 x 64 tiles
//                        loaded element by element.
//  gemm_128x128_s3       128 x 128 block tiles, k slices of 64 through 3 stages, 4 warps of
//                        64 x 64; the others differ from it as named:
//  gemm_128x128_s4       4 stages instead of 3
//  gemm_128x128_w8       8 warps of 64 x 32 instead of 4 of 64 x 64
//  gemm_128x256_s3       128 x 256 block tiles, 8 warps of 64 x 64
//  gemm_128x128_s3_u     gemm_128x128_s3 with the k loop unrolled by the stage count (constant
//                        stage indices), fragments double-buffered (the next k step's loaded
//                        before this one's MMAs) and outputs stored in pairs (4-byte stores)
//  gemm_128x256_s3_u     the same for gemm_128x256_s3
//  gemm_wgmma_128x128    the warpgroup MMA (wgmma, sm_90): 128 x 128 block tiles, 4 stages, 2
//                        warpgroups of 64 x 128 multiplying straight from the 128-byte-swizzled
//                        tiles, one MMA group in flight while the next slice's is issued
//  gemm_wgmma_128x256    the same with 128 x 256 block tiles, 3 stages, warpgroups of 64 x 256
//  gemm_wgmma_tma_128x128  the warpgroup MMA fed by bulk copies (TMA, sm_90): one producer
//                        thread copies each stage's tiles through tensor maps, zeros past the
//                        edges, on a `full` async barrier; 2 consumer warpgroups release a
//                        stage on its `empty` barrier once its MMAs retired; 6 stages
//  gemm_wgmma_tma_128x256  the same with 128 x 256 block tiles and 4 stages
//  gemm_64x64_s2         64 x 64 block tiles, 2 stages of k = 32, 4 warps of 32 x 32 (small
//                        problems: more blocks to fill the device)
// Each variant is runnable by name with the same buffers and scalars.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_MLX_GEMM_KERNELS(X) \
  X(gemm)                      \
  X(gemm_128x128_s3)           \
  X(gemm_128x128_s4)           \
  X(gemm_128x128_w8)           \
  X(gemm_128x256_s3)           \
  X(gemm_128x128_s3_u)         \
  X(gemm_128x256_s3_u)         \
  X(gemm_wgmma_128x128)        \
  X(gemm_wgmma_128x256)        \
  X(gemm_wgmma_tma_128x128)    \
  X(gemm_wgmma_tma_128x256)    \
  X(gemm_64x64_s2)

namespace mt::kernels::mlx::gemm {

inline constexpr std::string_view kFamily = "mlx::gemm";
MT_MLX_GEMM_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_MLX_GEMM_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::mlx::gemm
