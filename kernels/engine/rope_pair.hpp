// One rotate-half pair (a, b) of a head (elements i and i + D/2), as qkv_rope_append and
// rms_norm_gemv_rope rotate it and write it into a raw cache.
#pragma once

#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::engine::decoder {

// (a, b) rotated by theta = f32(position) * inv_freq (the rope kernel's formula), cos and sin
// scaled by attn_factor, in f32.
inline void rotate_pair(Var& a, Var& b, const Val& position, const Val& inv_freq,
                        const Val& attn_factor) {
  const Val theta = position.to(DType::F32) * inv_freq;
  const Val c = cos(theta) * attn_factor, s = sin(theta) * attn_factor;
  const Val ra = Val(a) * c - Val(b) * s;
  const Val rb = Val(b) * c + Val(a) * s;
  a = ra;
  b = rb;
}

// The pair, rounded to the caches' type, into v_cache when is_v and k_cache otherwise, at
// elements `at` and `at + half`.
inline void store_cache_pair(const Tensor& k_cache, const Tensor& v_cache, const Val& is_v,
                             const Val& at, const Val& half, const Var& a, const Var& b) {
  const DType t = k_cache.dtype();
  if_(is_v, [&] {
    v_cache[at] = Val(a).to(t);
    v_cache[at + half] = Val(b).to(t);
  }).else_([&] {
    k_cache[at] = Val(a).to(t);
    k_cache[at + half] = Val(b).to(t);
  });
}

}  // namespace mt::kernels::engine::decoder
