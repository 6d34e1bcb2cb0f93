// qkv_rope_append: everything between a decoder layer's fused q/k/v projection and its
// attention, in one launch. One threadgroup per (head, token) of the projection's output; a
// thread owns one rotate-half pair (i, i + D/2) of its head:
//
//   a, b   = qkv[t, head, i], qkv[t, head, i + D/2]   (+ bias, Qwen2)
//   q, k   : RMS-normed over the head with q_norm / k_norm (Qwen3), then rotated by
//            theta = f32(positions[t]) * inv_freq[i] (the `rope` kernel's formula)
//   q      -> q[t, head, :]
//   k, v   -> k_cache / v_cache [kv_head, positions[t], :]   (the raw layout of kv_cache.md)
//
// All arithmetic is f32 with one rounding to T per stored value. A position >= max_seq lives
// in device memory: its threadgroup writes nothing and instead loads positions past its end,
// which checked mode reports naming `positions` (the probe `embedding` uses for bad ids).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "../launch_shape.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/engine/decoder.hpp"

namespace mt::kernels::engine::decoder {
namespace {

constexpr DType F32 = DType::F32, U32 = DType::U32;
constexpr std::uint32_t kThreads = 128;  // pairs of a head: head_dim <= 256

void build(KernelBuilder& k, DType T) {
  Tensor qkv = k.input("qkv", T), bias = k.input("bias", T);
  Tensor q_norm = k.input("q_norm", T), k_norm = k.input("k_norm", T);
  Tensor positions = k.input("positions", U32), inv_freq = k.input("inv_freq", F32);
  Tensor q = k.output("q", T), k_cache = k.output("k_cache", T), v_cache = k.output("v_cache", T);
  Val head_dim = k.scalar_u32("head_dim"), n_q_heads = k.scalar_u32("n_q_heads");
  Val n_kv_heads = k.scalar_u32("n_kv_heads"), max_seq = k.scalar_u32("max_seq");
  Val eps = k.scalar_f32("eps"), attn_factor = k.scalar_f32("attn_factor");
  Val has_bias = k.scalar_u32("has_bias"), has_qk_norm = k.scalar_u32("has_qk_norm");

  k.require(head_dim >= 2u && head_dim <= 2u * kThreads && head_dim % 2u == 0u,
            "head_dim even, 2..256");
  k.require(n_q_heads > 0u && n_q_heads <= 65535u, "0 < n_q_heads <= 65535");
  k.require(n_kv_heads > 0u && n_kv_heads <= 65535u, "0 < n_kv_heads <= 65535");
  k.require(max_seq > 0u, "max_seq > 0");
  k.require(has_bias <= 1u, "has_bias is 0 or 1");
  k.require(has_qk_norm <= 1u, "has_qk_norm is 0 or 1");
  require_1d_threadgroup(k);
  k.require_len(inv_freq, head_dim / 2u, "head_dim / 2");
  Val heads = n_q_heads + 2u * n_kv_heads;
  Val row = heads * head_dim;
  k.require_len(qkv, positions.len() * row,
                "len(positions) * (n_q_heads + 2 n_kv_heads) * head_dim");
  // Absent bias and q/k norm weights are empty buffers.
  k.require_len(bias, select(has_bias == 1u, row, 0u),
                "(n_q_heads + 2 n_kv_heads) * head_dim, or 0 when has_bias == 0");
  Val norm_len = select(has_qk_norm == 1u, head_dim, 0u);
  k.require_len(q_norm, norm_len, "head_dim, or 0 when has_qk_norm == 0");
  k.require_len(k_norm, norm_len, "head_dim, or 0 when has_qk_norm == 0");
  Val q_row = n_q_heads * head_dim;
  k.require_len(q, positions.len() * q_row, "len(positions) * n_q_heads * head_dim");
  k.require_len(k_cache, n_kv_heads * max_seq * head_dim, "n_kv_heads * max_seq * head_dim");
  k.require_len(v_cache, n_kv_heads * max_seq * head_dim, "n_kv_heads * max_seq * head_dim");

  Val head = threadgroup_id(0), t = threadgroup_id(1), i = thread_id(0);
  Val half = head_dim / 2u;
  if_(head < heads && t < positions.len(), [&] {
    Val active = i < half;
    Val pair = min(i, half - 1u);  // idle threads re-read the last pair and store nothing
    Val base = t * row + head * head_dim + pair;
    Var a = qkv[base].to(F32);
    Var b = qkv[base + half].to(F32);
    if_(has_bias == 1u, [&] {
      Val bias_a = bias[head * head_dim + pair].to(F32);
      Val bias_b = bias[head * head_dim + pair + half].to(F32);
      a = Val(a) + bias_a;
      b = Val(b) + bias_b;
    });
    Val is_q = head < n_q_heads, is_v = head >= n_q_heads + n_kv_heads;
    // Uniform over the threadgroup (one head), so every thread reaches the reduction.
    if_(has_qk_norm == 1u && !is_v, [&] {
      Val sq = select(active, Val(a) * Val(a) + Val(b) * Val(b), f32(0.0f));
      Val scale = rsqrt(threadgroup_sum(sq) / head_dim.to(F32) + eps);
      Var w_a = f32(0.0f), w_b = f32(0.0f);
      if_(is_q, [&] {
        w_a = q_norm[pair].to(F32);
        w_b = q_norm[pair + half].to(F32);
      }).else_([&] {
        w_a = k_norm[pair].to(F32);
        w_b = k_norm[pair + half].to(F32);
      });
      a = Val(a) * scale * Val(w_a);
      b = Val(b) * scale * Val(w_b);
    });
    Val pos = positions[t];
    if_(!is_v, [&] {
      Val theta = pos.to(F32) * inv_freq[pair];
      Val c = cos(theta) * attn_factor, s = sin(theta) * attn_factor;
      Val ra = Val(a) * c - Val(b) * s;
      Val rb = Val(b) * c + Val(a) * s;
      a = ra;
      b = rb;
    });
    if_(is_q, [&] {
      if_(active, [&] {
        Val at = t * q_row + head * head_dim + pair;
        q[at] = Val(a).to(T);
        q[at + half] = Val(b).to(T);
      });
    }).else_([&] {
      if_(pos < max_seq, [&] {
        if_(active, [&] {
          Val kv_head = select(is_v, head - n_q_heads - n_kv_heads, head - n_q_heads);
          Val at = (kv_head * max_seq + pos) * head_dim + pair;
          if_(is_v, [&] {
            v_cache[at] = Val(a).to(T);
            v_cache[at + half] = Val(b).to(T);
          }).else_([&] {
            k_cache[at] = Val(a).to(T);
            k_cache[at + half] = Val(b).to(T);
          });
        });
      }).else_([&] { positions.load(max(pos, positions.len())); });
    });
  });
}

}  // namespace

KernelInfo qkv_rope_append::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build,
      .doc = {.summary = "fused q/k/v bias, Qwen3 q/k RMS norm, RoPE and raw KV-cache append",
              .formula = "x = qkv[t, head] (+ bias); q,k: x * rsqrt(mean(x^2) + eps) * norm_w; "
                         "rotate-half RoPE at positions[t]; q -> q[t], k/v -> cache[kv_head, "
                         "positions[t]]",
              .buffers = {{"qkv", "[T, (Hq + 2 Hkv) * D] T: the fused projection's output"},
                          {"bias", "[(Hq + 2 Hkv) * D] T, or empty when has_bias is 0"},
                          {"q_norm", "[D] T, or empty when has_qk_norm is 0"},
                          {"k_norm", "[D] T, or empty when has_qk_norm is 0"},
                          {"positions", "[T] u32: each token's position (< max_seq)"},
                          {"inv_freq", "[D / 2] f32: rope_frequencies' inverse frequencies"},
                          {"q", "[T, Hq, D] T: the roped queries"},
                          {"k_cache", "[Hkv, max_seq, D] T: roped keys written at positions[t]"},
                          {"v_cache", "[Hkv, max_seq, D] T: values written at positions[t]"}},
              .scalars = {{"head_dim", "u32: D, even, 2..256"},
                          {"n_q_heads", "u32: Hq"},
                          {"n_kv_heads", "u32: Hkv"},
                          {"max_seq", "u32: positions per cache head"},
                          {"eps", "f32: the q/k norm's epsilon"},
                          {"attn_factor", "f32: rope_frequencies' attention factor (1: plain)"},
                          {"has_bias", "u32: 0 or 1"},
                          {"has_qk_norm", "u32: 0 or 1"}},
              .geometry = "one threadgroup of 128 threads per (head, token), a thread per pair"},
      .geometry =
          [](const LaunchShape& s) {
            LaunchPlan plan;
            LaunchStep step;
            const std::size_t heads = s.u32("n_q_heads") + 2 * std::size_t(s.u32("n_kv_heads"));
            step.grid = {heads, std::max<std::size_t>(s.elements("positions"), 1), 1};
            step.tpg = {kThreads, 1, 1};
            plan.steps.push_back(step);
            return plan;
          },
      .bench =
          [](BenchScale scale) {
            struct Shape {
              std::uint32_t tokens, q_heads, kv_heads, head_dim, max_seq;
            };
            const bool full = scale == BenchScale::Full;
            // Llama 3.1 8B (32 q heads, 8 KV heads of 128) decoding one token and a 16-token
            // prefill chunk into a 4096-position cache.
            const std::vector<Shape> shapes =
                full ? std::vector<Shape>{{1, 32, 8, 128, 4096}, {16, 32, 8, 128, 4096}}
                     : std::vector<Shape>{{3, 4, 2, 16, 8}};
            const DType t = full ? DType::BF16 : DType::F32;
            std::vector<BenchCase> cases;
            for (const Shape& s : shapes) {
              const std::size_t row = std::size_t(s.q_heads + 2 * s.kv_heads) * s.head_dim;
              const std::size_t cache = std::size_t(s.kv_heads) * s.max_seq * s.head_dim;
              BenchCase b;
              b.label = "T" + std::to_string(s.tokens) + " Hq" + std::to_string(s.q_heads) +
                        " Hkv" + std::to_string(s.kv_heads) + " D" + std::to_string(s.head_dim);
              b.dtype = t;
              b.elements = {{"qkv", s.tokens * row},
                            {"bias", 0},
                            {"q_norm", 0},
                            {"k_norm", 0},
                            {"positions", s.tokens},
                            {"inv_freq", s.head_dim / 2},
                            {"q", std::size_t(s.tokens) * s.q_heads * s.head_dim},
                            {"k_cache", cache},
                            {"v_cache", cache}};
              b.scalars = {
                  {"head_dim", s.head_dim}, {"n_q_heads", s.q_heads}, {"n_kv_heads", s.kv_heads},
                  {"max_seq", s.max_seq},   {"eps", 1e-6f},           {"attn_factor", 1.0f},
                  {"has_bias", 0u},         {"has_qk_norm", 0u}};
              b.fills = {{"positions", BenchFill::iota(s.max_seq)}};
              // qkv read once, q and the new cache rows written once.
              b.bytes = double(s.tokens * row * size_of(t)) * 2.0 + 4.0 * s.tokens;
              cases.push_back(b);
            }
            return cases;
          },
  };
}

}  // namespace mt::kernels::engine::decoder
