// Rotary position embedding (docs/kernels/rope.md), generic over T in {f32, f16, bf16}:
//
//  rope   x [T, H, D], positions (u32) [T], inv_freq (f32) [R/2] -> out [T, H, D]
//         scalars head_dim (D), n_heads (H), rotary_dim (R, even, <= D), interleaved (0/1),
//         attn_factor (f32, 1 = plain)
//
// For token t, head h and pair i < R/2: theta = f32(positions[t]) * inv_freq[i] (one f32
// multiply), c = cos(theta) * attn_factor, s = sin(theta) * attn_factor, and the pair (a, b)
// becomes (a c - b s, b c + a s). Rotate-half layout (Llama, Qwen; interleaved = 0): a = i,
// b = i + R/2. Interleaved (GPT-J; interleaved = 1): a = 2i, b = 2i + 1. Dimensions R..D-1 are
// copied. rope_scaling.hpp computes inv_freq and attn_factor for HF transformers' rope types.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/ffai/rope_scaling.hpp"
#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_FFAI_ROPE_KERNELS(X) X(rope)

namespace mt::kernels::ffai::rope {

inline constexpr std::string_view kFamily = "ffai::rope";
MT_FFAI_ROPE_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_FFAI_ROPE_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::ffai::rope
