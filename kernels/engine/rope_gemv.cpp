// The decode step's q/k/v projection with everything up to the attention fused in, for raw KV
// caches and models without q/k norm (Llama, Mistral, Qwen2):
//
//   rms_norm_gemv_rope   y = r * W_qkv (h * (g + weight_offset))  (rms_norm_gemv), rounded to T
//                        as that kernel stores it; then, as qkv_rope_append does: + bias
//                        (Qwen2), q and k rotated by theta = f32(position) * inv_freq[i]
//                        (rotate-half pairs (i, i + D/2) of each head, times attn_factor), q
//                        stored to q[head, :], k and v to k_cache / v_cache[kv_head, position, :]
//   rms_norm_qgemv_rope  the same over an MLX affine weight
//
// Warp p owns rotate-half pair p of the projection (the quantised form two pairs): rows
// head * D + i and head * D + i + D/2, i = p % (D/2), so the pair meets in one warp and is
// rotated where the two sums are reduced:
// the projection never goes through memory and qkv_rope_append needs no launch. The decode
// step has one token: its position is positions[0] in device memory (a graph replays it). A
// position >= max_seq writes no cache slot and instead loads positions past its end, which
// checked mode reports naming `positions` (qkv_rope_append's probe).
#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "../mlx/affine_entry.hpp"
#include "../mlx/affine_format.hpp"
#include "fused_norm.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/engine/decoder.hpp"
#include "rope_pair.hpp"

namespace mt::kernels::engine::decoder {
namespace {

constexpr DType U32 = DType::U32;

// What follows the projection: the bias, RoPE's inputs and the three destinations.
struct RopeOutputs {
  Tensor bias, positions, inv_freq, q, k_cache, v_cache;
  Val head_dim, n_q_heads, n_kv_heads, max_seq, attn_factor, has_bias;
  Val rows() const { return (n_q_heads + 2u * n_kv_heads) * head_dim; }
};

RopeOutputs declare_rope_outputs(KernelBuilder& b, DType T) {
  RopeOutputs o{b.input("bias", T),       b.input("positions", U32),   b.input("inv_freq", F32),
                b.output("q", T),         b.output("k_cache", T),      b.output("v_cache", T),
                b.scalar_u32("head_dim"), b.scalar_u32("n_q_heads"),   b.scalar_u32("n_kv_heads"),
                b.scalar_u32("max_seq"),  b.scalar_f32("attn_factor"), b.scalar_u32("has_bias")};
  b.require(o.head_dim >= 2u && o.head_dim <= 256u && o.head_dim % 2u == 0u,
            "head_dim even, 2..256");
  b.require(o.n_q_heads > 0u && o.n_q_heads <= 65535u, "0 < n_q_heads <= 65535");
  b.require(o.n_kv_heads > 0u && o.n_kv_heads <= 65535u, "0 < n_kv_heads <= 65535");
  b.require(o.max_seq > 0u, "max_seq > 0");
  b.require(o.has_bias <= 1u, "has_bias is 0 or 1");
  b.require_len(o.bias, select(o.has_bias == 1u, o.rows(), 0u),
                "(n_q_heads + 2 n_kv_heads) * head_dim, or 0 when has_bias == 0");
  b.require_len(o.positions, u32(1), "1 (one token)");
  b.require_len(o.inv_freq, o.head_dim / 2u, "head_dim / 2");
  b.require_len(o.q, o.n_q_heads * o.head_dim, "n_q_heads * head_dim");
  for (const Tensor* c : {&o.k_cache, &o.v_cache}) {
    b.require_len(*c, o.n_kv_heads * o.max_seq * o.head_dim, "n_kv_heads * max_seq * head_dim");
  }
  return o;
}

// The launch the warp layout is written for, and one row of h.
void require_one_row(KernelBuilder& b, const NormInput& in, const Val& k) {
  require_1d_launch(b);
  b.require(threads_per_threadgroup(0) == kGemvThreads,
            "tpg = (" + std::to_string(kGemvThreads) + ", 1, 1): " + std::to_string(kGemvWarps) +
                " warps a group");
  b.require(k > 0u, "k > 0");
  b.require_len(in.h, k, "k (one row)");
  require_norm_input(b, in, k);
}

// Rotate-half pairs a warp owns: the dense form one, the quantised form two, so that four
// weight rows share each unit of the normed h (its loads, conversion and norm cost as much as
// a 4-bit code's own work when only a pair's two rows share them).
constexpr std::uint32_t kDensePairs = 1;
constexpr std::uint32_t kQuantPairs = 2;

// A warp's `count` consecutive pairs from p = (group * kGemvWarps + warp) * count: each pair's
// head and index i < D/2, whether it exists, and the GEMV placement of the rows head * D + i
// (accumulator j for pair j) and head * D + i + D/2 (accumulator count + j). Pairs past the last
// re-read it and store nothing.
struct RopePairs {
  std::vector<Val> head, i, exists;
  GemvPlace place;
};

RopePairs place_pairs_warp(const RopeOutputs& o, std::uint32_t count) {
  const Val half = o.head_dim / 2u, pairs = o.rows() / 2u;
  const Val first = (program_id(0) * kGemvWarps + warp_id()) * count;
  RopePairs r{{}, {}, {}, {lane_id(), u32(1), first, {}, {u32(0)}, first < pairs}};
  std::vector<Val> b_rows;
  for (std::uint32_t j = 0; j < count; ++j) {
    const Val p = j == 0 ? first : first + j;
    const Val pair = min(p, pairs - 1u);
    r.head.push_back(pair / half);
    r.i.push_back(pair % half);
    r.exists.push_back(p < pairs);
    r.place.load_rows.push_back(r.head[j] * o.head_dim + r.i[j]);
    b_rows.push_back(r.place.load_rows[j] + half);
  }
  r.place.load_rows.insert(r.place.load_rows.end(), b_rows.begin(), b_rows.end());
  return r;
}

// The first row of each of the group's two row ranges (the a and the b rows of its pairs).
std::vector<Val> group_rows(const RopeOutputs& o, std::uint32_t count) {
  const Val half = o.head_dim / 2u;
  const Val pair = min(mlx::group_first_row(count), o.rows() / 2u - 1u);
  const Val row = pair / half * o.head_dim + pair % half;
  return {row, row + half};
}

// One pair: a and b (the two rows' sums) reduced over the warp and rounded to T, plus bias,
// rotated (q and k) by the token's position `pos` and stored where `store` (lane 0 of a warp
// whose pair exists).
void store_roped_pair(const RopeOutputs& o, const Val& head, const Val& i, const Val& pos,
                      const Val& store, const Var& sum_a, const Var& sum_b, const Val& r, DType T) {
  const Val half = o.head_dim / 2u;
  Var a = (warp_sum(sum_a) * r).to(T).to(F32);
  Var b = (warp_sum(sum_b) * r).to(T).to(F32);
  const Val row = head * o.head_dim + i;
  if_(o.has_bias == 1u, [&] {
    a = Val(a) + o.bias[row].to(F32);
    b = Val(b) + o.bias[row + half].to(F32);
  });
  const Val is_q = head < o.n_q_heads, is_v = head >= o.n_q_heads + o.n_kv_heads;
  if_(!is_v, [&] { rotate_pair(a, b, pos, o.inv_freq[i], o.attn_factor); });
  if_(store, [&] {
    if_(is_q, [&] {
      o.q[row] = Val(a).to(T);
      o.q[row + half] = Val(b).to(T);
    }).else_([&] {
      const Val kv_head = select(is_v, head - o.n_q_heads - o.n_kv_heads, head - o.n_q_heads);
      if_(pos < o.max_seq, [&] {
        const Val at = (kv_head * o.max_seq + pos) * o.head_dim + i;
        store_cache_pair(o.k_cache, o.v_cache, is_v, at, half, a, b);
      }).else_([&] { o.positions.load(max(pos, o.positions.len())); });
    });
  });
}

// Reduces each pair's two sums over the warp, applies the norm's r and rounds to T (the
// projection as rms_norm_gemv would store it), then adds the bias, rotates q and k and stores,
// from lane 0, for the pairs that exist.
void store_roped(const RopeOutputs& o, const RopePairs& p, const std::vector<Var>& acc,
                 const Val& r, DType T) {
  const std::size_t count = p.head.size();
  const Val pos = o.positions[u32(0)];  // the one token's, loaded once for all the pairs
  for (std::size_t j = 0; j < count; ++j) {
    store_roped_pair(o, p.head[j], p.i[j], pos, p.exists[j] && p.place.lane == 0u, acc[j],
                     acc[count + j], r, T);
  }
}

void build_rms_norm_gemv_rope(KernelBuilder& b, DType T) {
  const NormInput in = declare_norm_input(b, T);
  const Tensor w = b.input("w", T);
  const RopeOutputs o = declare_rope_outputs(b, T);
  const Val k = b.scalar_u32("k");
  require_one_row(b, in, k);
  b.require_len(w, o.rows() * k, "(n_q_heads + 2 n_kv_heads) * head_dim * k");

  overlap_dense_rows(w, group_rows(o, kDensePairs), kGemvWarps * kDensePairs, k);
  const RopePairs p = place_pairs_warp(o, kDensePairs);
  std::vector<Var> acc = mlx::gemv_accumulators({1, 2 * kDensePairs});
  Var squares(f32(0.0f), "squares");
  if_(p.place.active, [&] {
    mlx::accumulate_dense_gemv(w, k, p.place, {1, 2 * kDensePairs}, kNormUnroll,
                               read_normed(in, squares), acc);
    store_roped(o, p, acc, inverse_rms(squares, k, in.eps), T);
  });
}

// The quantised weight of the projection: (n_q_heads + 2 n_kv_heads) * head_dim rows.
q::QgemvParams declare_rope_weight(KernelBuilder& b, DType T, const NormInput& in,
                                   const RopeOutputs& o) {
  const Tensor wq = b.input("wq", U32), scales = b.input("scales", T),
               biases = b.input("biases", T);
  q::QgemvParams p{in.h,
                   wq,
                   scales,
                   biases,
                   o.q,
                   b.scalar_u32("k"),
                   o.rows(),
                   b.scalar_u32("group_size"),
                   b.scalar_u32("bits")};
  mlx::affine::require_affine_format(b, p.bits, p.group_size);
  q::require_weight_rows(b, p, p.n, "(n_q_heads + 2 n_kv_heads)*head_dim");
  return p;
}

void build_rms_norm_qgemv_rope(KernelBuilder& b, DType T) {
  const NormInput in = declare_norm_input(b, T);
  const RopeOutputs o = declare_rope_outputs(b, T);
  const q::QgemvParams w = declare_rope_weight(b, T, in, o);
  require_one_row(b, in, w.k);

  overlap_quantised_rows(w, group_rows(o, kQuantPairs), kGemvWarps * kQuantPairs);
  const RopePairs p = place_pairs_warp(o, kQuantPairs);
  std::vector<Var> acc = mlx::gemv_accumulators({1, 2 * kQuantPairs});
  Var squares(f32(0.0f), "squares");
  if_(p.place.active, [&] {
    q::accumulate_qgemv_m1(w, p.place, 2 * kQuantPairs, read_normed_units(in), acc, &squares);
    store_roped(o, p, acc, inverse_rms(squares, w.k, in.eps), T);
  });
}

// --- registration --------------------------------------------------------------------------

// Llama 3.1 8B's attention (32 q heads, 8 kv heads, D 128, K 4096; the new token at position
// 1000 of a 4096-slot cache); smoke: 4 q heads, 2 kv heads, D 16, K 96.
BenchCase rope_case(BenchScale scale) {
  const bool full = scale == BenchScale::Full;
  const std::uint32_t hq = full ? 32 : 4, hkv = full ? 8 : 2, d = full ? 128 : 16;
  const std::uint32_t k = full ? 4096 : 96, max_seq = full ? 4096 : 8;
  const std::size_t rows = std::size_t(hq + 2 * hkv) * d;
  BenchCase c;
  c.label = "Hq" + std::to_string(hq) + " Hkv" + std::to_string(hkv) + " D" + std::to_string(d) +
            " K" + std::to_string(k) + " M1";
  c.dtype = full ? DType::BF16 : DType::F32;
  c.elements = {{"h", k},
                {"norm", k},
                {"w", rows * k},
                {"bias", 0},
                {"positions", 1},
                {"inv_freq", d / 2},
                {"q", std::size_t(hq) * d},
                {"k_cache", std::size_t(hkv) * max_seq * d},
                {"v_cache", std::size_t(hkv) * max_seq * d}};
  c.scalars = {{"k", k},
               {"head_dim", d},
               {"n_q_heads", hq},
               {"n_kv_heads", hkv},
               {"max_seq", max_seq},
               {"eps", 1e-5f},
               {"weight_offset", 0.0f},
               {"attn_factor", 1.0f},
               {"has_bias", 0u}};
  c.fills = {{"positions", BenchFill::value(full ? 1000 : 5)}};
  const std::size_t t = size_of(c.dtype);
  c.bytes = double((rows * k + 2 * k + rows) * t + 4 + d / 2 * 4);
  c.flops = 2.0 * double(rows * k);
  return c;
}

// The same over 4-bit weights in groups of 64 (smoke: groups of 32).
BenchCase quantised_rope_case(BenchScale scale) {
  BenchCase c = rope_case(scale);
  const std::size_t k = std::get<std::uint32_t>(c.scalars.at("k"));
  const std::size_t rows = c.elements.at("w") / k;
  const mlx::affine::QuantisedWeight w{rows, k, scale == BenchScale::Full ? 64u : 32u, 4};
  c.elements.erase("w");
  w.add_to(c);
  c.label += " " + w.label();
  c.bytes += w.bytes(c.dtype) - double(rows * k * size_of(c.dtype));
  return c;
}

const std::vector<ParamDoc> kRopeBuffers = {
    {"bias", "[(Hq + 2 Hkv) D] T: the projection's bias (Qwen2), or empty"},
    {"positions", "[1] u32: the token's position"},
    {"inv_freq", "[D / 2] f32: RoPE's inverse frequencies (the rope kernel's)"},
    {"q", "[Hq, D] T: the rotated queries"},
    {"k_cache", "[Hkv, max_seq, D] T: the rotated key lands at the position"},
    {"v_cache", "[Hkv, max_seq, D] T: the value lands at the position"}};

const std::vector<ParamDoc> kRopeScalars = {
    {"head_dim", "u32: D, even, 2..256"},
    {"n_q_heads", "u32: Hq"},
    {"n_kv_heads", "u32: Hkv"},
    {"max_seq", "u32: the cache's positions"},
    {"attn_factor", "f32: scales cos and sin (YaRN; 1 otherwise)"},
    {"has_bias", "u32: 1 when bias holds the projection's bias"}};

std::vector<ParamDoc> joined(std::vector<ParamDoc> a, const std::vector<ParamDoc>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The geometry of a form whose warps own `pairs` consecutive pairs each.
std::string rope_geometry(std::uint32_t pairs) {
  const std::string owns = pairs == 1 ? "warp p owns rotate-half pair p"
                                      : "warp w owns rotate-half pairs " + std::to_string(pairs) +
                                            " w .. " + std::to_string(pairs) + " w + " +
                                            std::to_string(pairs - 1);
  return "Reduction mode, 128 threads a group; " + owns +
         ", pair p being rows head * D + i and head * D + i + D / 2 (ceil((Hq + 2 Hkv) D / " +
         std::to_string(8 * pairs) + ") groups), lanes split K";
}

// ceil(pairs / (kGemvWarps * pairs a warp)) groups.
LaunchPlan rope_launch(const LaunchShape& s, std::uint32_t pairs_per_warp) {
  const std::size_t pairs = std::size_t(s.u32("n_q_heads") + 2 * std::size_t(s.u32("n_kv_heads"))) *
                            s.u32("head_dim") / 2;
  return mlx::gemv_launch(pairs, pairs_per_warp, "");
}

}  // namespace

KernelInfo rms_norm_gemv_rope::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_rms_norm_gemv_rope,
      .doc = {.summary = "RMS norm, the q/k/v projection, bias, RoPE and the raw KV-cache append "
                         "in one launch (decode at batch 1, models without q/k norm)",
              .formula = "y = r * W (h * (norm + weight_offset)) rounded to T, + bias; q, k "
                         "rotated by theta = position * inv_freq[i] (rotate-half, times "
                         "attn_factor); q -> q, k, v -> the caches at the position; f32, "
                         "rounded to T once per store",
              .buffers =
                  joined({kH, kNorm, {"w", "[(Hq + 2 Hkv) D, K] T: q, k, v rows"}}, kRopeBuffers),
              .scalars = joined({kEps, kOffset},
                                joined(kRopeScalars, {{"k", "u32: K, the row length of w and h"}})),
              .geometry = rope_geometry(kDensePairs)},
      .geometry = [](const LaunchShape& s) { return rope_launch(s, kDensePairs); },
      .bench = [](BenchScale s) { return std::vector<BenchCase>{rope_case(s)}; },
  };
}

KernelInfo rms_norm_qgemv_rope::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_rms_norm_qgemv_rope,
      .doc = {.summary = "rms_norm_gemv_rope over an MLX affine weight (decode at batch 1)",
              .formula = "as rms_norm_gemv_rope over the dequantised weight scale * q + bias",
              .buffers = joined({kH, kNorm},
                                joined(kRopeBuffers, {mlx::affine::kWqDoc, mlx::affine::kScalesDoc,
                                                      mlx::affine::kBiasesDoc})),
              .scalars = joined({kEps, kOffset},
                                joined(kRopeScalars, {{"k", "u32: K (a multiple of group_size)"},
                                                      mlx::affine::kGroupSizeDoc,
                                                      mlx::affine::kBitsDoc})),
              .geometry = rope_geometry(kQuantPairs) + ", whole 32-code units"},
      .geometry = [](const LaunchShape& s) { return rope_launch(s, kQuantPairs); },
      .bench = [](BenchScale s) { return std::vector<BenchCase>{quantised_rope_case(s)}; },
  };
}

}  // namespace mt::kernels::engine::decoder
