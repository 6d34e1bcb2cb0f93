// Kernels of the inference engine's decoder step (docs/kernels/decoder.md) that fuse what the
// general families leave as separate launches; generic over T in {f32, f16, bf16}.
//
//  qkv_rope_append  qkv [T, (Hq + 2 Hkv) D] (+ bias, q/k RMS norm) -> q [T, Hq D] roped, and the
//                   roped keys and the values written into raw caches at positions[t]
//  qkv_rope_append_<format>  the same into an int4 / int8 / fp8_e4m3 / fp8_e5m2 cache: the
//                   roped rows quantised per group as quantize_kv_<format> does, in the same
//                   launch (the position read from device memory, so a graph can replay it)
//  swiglu_gate_up   gate_up [T, 2F] -> out [T, F] = silu(gate) * up
//  rms_norm_gemv    one row h [K] -> out [N] = W (rms_norm(h) * g): the norm fused into the
//                   GEMV after it (decode at batch 1)
//  rms_norm_gemv_swiglu  the same into a stacked gate/up weight [2F, K] -> out [F] =
//                   silu(gate) * up: norm, projection and activation in one launch
//  residual_gemv    out [N] = residual + W x: the residual add fused into the GEMV's store
//  rms_norm_qgemv, rms_norm_qgemv_swiglu, residual_qgemv  the same three over MLX affine
//                   weights (wq, scales, biases, group_size, bits as qgemv_affine)
//  rms_norm_gemv_rope  one row h [K] -> the q/k/v projection W (rms_norm(h) * g), + bias, q and
//                   k roped, q -> q [Hq D], k and v into raw caches at positions[0]: the norm,
//                   projection and qkv_rope_append in one launch (no q/k norm); and
//                   rms_norm_qgemv_rope over MLX affine weights
//  step_positions   positions, lengths [B] u32: advanced by one token in device memory, so a
//                   captured decode step needs no upload between replays
//  fill_uniform     out [N] T: pseudo-random uniform values (random weights)
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_ENGINE_DECODER_KERNELS(X) \
  X(qkv_rope_append)                 \
  X(qkv_rope_append_int4)            \
  X(qkv_rope_append_int8)            \
  X(qkv_rope_append_fp8_e4m3)        \
  X(qkv_rope_append_fp8_e5m2)        \
  X(swiglu_gate_up)                  \
  X(rms_norm_gemv)                   \
  X(rms_norm_gemv_swiglu)            \
  X(residual_gemv)                   \
  X(rms_norm_qgemv)                  \
  X(rms_norm_qgemv_swiglu)           \
  X(residual_qgemv)                  \
  X(rms_norm_gemv_rope)              \
  X(rms_norm_qgemv_rope)             \
  X(step_positions)                  \
  X(fill_uniform)

namespace mt::kernels::engine::decoder {

inline constexpr std::string_view kFamily = "engine::decoder";
MT_ENGINE_DECODER_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_ENGINE_DECODER_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::engine::decoder
