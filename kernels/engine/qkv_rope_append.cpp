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
//
// qkv_rope_append_<format> stores k and v into a quantised cache instead (int4 / int8 affine,
// fp8 e4m3 / e5m2; the layouts of docs/kernels/kv_cache.md): the rotated row, rounded to T as
// the raw kernel would store it, goes to threadgroup memory; after a barrier a thread per u32
// code word finds its group's range (min/max, or the largest magnitude) from there, packs its
// codes and, for the group's first word, stores scale (and bias), with the quantize_kv_*
// kernels' arithmetic (kv_format.hpp). The stored bits are therefore those of qkv_rope_append
// followed by quantize_kv_* at each token's position, in one launch and with the position read
// from device memory, so a captured decode step can append to a quantised cache.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "../ffai/kv_format.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/engine/decoder.hpp"
#include "rope_pair.hpp"

namespace mt::kernels::engine::decoder {
namespace {

using ffai::CacheFormat;
namespace kv_quant = ffai::kv_quant;

constexpr DType F32 = DType::F32, U32 = DType::U32;
constexpr std::uint32_t kThreads = 128;  // pairs of a head: head_dim <= 256
constexpr std::uint32_t kMaxHeadDim = 2 * kThreads;

// One cache (K or V) in its format: the raw tensor, or codes, scales and (affine) biases.
struct CacheOut {
  Tensor values;               // raw: the cache; quantised: the u32 codes
  std::vector<Tensor> params;  // scales (and biases)
};

CacheOut declare_cache(KernelBuilder& k, const std::string& name, DType t, CacheFormat f) {
  if (f == CacheFormat::Raw) return CacheOut{k.output(name + "_cache", t), {}};
  CacheOut c{k.output(name + "_w", U32), {k.output(name + "_s", t)}};
  if (ffai::has_bias(f)) c.params.push_back(k.output(name + "_b", t));
  return c;
}

// Quantises the head row in `row` (head_dim f32 values, already rounded to T) into `cache` at
// `slot` (kv_head * max_seq + position): thread i (< head_dim / codes per word) packs word i
// and, when it is its group's first, stores the group's scale (and bias).
void store_quantised(CacheFormat f, DType T, const CacheOut& cache, const ArrayRef& row,
                     const Val& head_dim, const Val& group_size, const Val& slot) {
  const std::uint32_t bits = ffai::code_bits(f), vpp = 32 / bits;
  const Val i = thread_id(0);
  const Val words = head_dim / vpp, gph = head_dim / group_size;
  if_(i < words, [&] {
    const Val first = i * vpp, group = first / group_size, base = group * group_size;
    const Val word_at = slot * words + i, group_at = slot * gph + group;
    const Val is_first_word = first % group_size == 0u;
    Var word = u32(0);
    if (ffai::is_fp8(f)) {
      const DType fp8 = f == CacheFormat::Fp8E4M3 ? DType::F8E4M3 : DType::F8E5M2;
      const float fp8_max = f == CacheFormat::Fp8E4M3 ? 448.0f : 57344.0f;
      Var amax = f32(0.0f);
      Var finite = constant(DType::Bool, 1);
      for (Val j : range(group_size)) {
        Val a = abs(row[base + j]);
        amax = max(amax, a);
        finite = finite && a <= kv_quant::kMaxF32;
      }
      Val scale_t = kv_quant::fp8_scale(amax, finite, fp8_max, T);
      Val scale = scale_t.to(F32);
      for (std::uint32_t j = 0; j < vpp; ++j) {
        word |= kv_quant::fp8_code(row[first + j], scale, fp8) << (j * bits);
      }
      if_(is_first_word, [&] { cache.params[0][group_at] = scale_t; });
    } else {
      const std::uint32_t maxq = (1u << bits) - 1;
      Var mn = Val(row[base]);
      Var mx = mn;
      Var finite = kv_quant::is_finite(mn);
      for (Val j : range(1u, group_size)) {
        Val v = row[base + j];
        mn = min(mn, v);
        mx = max(mx, v);
        finite = finite && kv_quant::is_finite(v);
      }
      const kv_quant::AffineGroup g = kv_quant::affine_group(mn, mx, finite, maxq);
      for (std::uint32_t j = 0; j < vpp; ++j) {
        word |= kv_quant::affine_code(row[first + j], g, maxq) << (j * bits);
      }
      if_(is_first_word, [&] {
        cache.params[0][group_at] = g.scale.to(T);
        cache.params[1][group_at] = g.bias.to(T);
      });
    }
    cache.values[word_at] = Val(word);
  });
}

template <CacheFormat F>
void build(KernelBuilder& k, DType T) {
  constexpr bool raw = F == CacheFormat::Raw;
  Tensor qkv = k.input("qkv", T), bias = k.input("bias", T);
  Tensor q_norm = k.input("q_norm", T), k_norm = k.input("k_norm", T);
  Tensor positions = k.input("positions", U32), inv_freq = k.input("inv_freq", F32);
  Tensor q = k.output("q", T);
  const CacheOut k_cache = declare_cache(k, "k", T, F), v_cache = declare_cache(k, "v", T, F);
  Val head_dim = k.scalar_u32("head_dim"), n_q_heads = k.scalar_u32("n_q_heads");
  Val n_kv_heads = k.scalar_u32("n_kv_heads"), max_seq = k.scalar_u32("max_seq");
  Val eps = k.scalar_f32("eps"), attn_factor = k.scalar_f32("attn_factor");
  Val has_bias = k.scalar_u32("has_bias"), has_qk_norm = k.scalar_u32("has_qk_norm");
  std::optional<Val> group_size;
  if (!raw) group_size = k.scalar_u32("group_size");

  k.require(head_dim >= 2u && head_dim <= kMaxHeadDim && head_dim % 2u == 0u,
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
  if (raw) {
    for (const CacheOut* c : {&k_cache, &v_cache}) {
      k.require_len(c->values, n_kv_heads * max_seq * head_dim, "n_kv_heads * max_seq * head_dim");
    }
  } else {
    // The KV-cache family's quantised layouts (docs/kernels/kv_cache.md).
    const std::uint32_t vpp = 32 / ffai::code_bits(F);
    const Val& g = *group_size;
    k.require(g > 0u, "group_size > 0");
    k.require(head_dim % g == 0u, "head_dim % group_size == 0");
    k.require(g % vpp == 0u, "group_size % " + std::to_string(vpp) + " == 0 (codes per u32 word)");
    const std::string per_word = std::to_string(vpp);
    for (const CacheOut* c : {&k_cache, &v_cache}) {
      k.require_len(c->values, n_kv_heads * max_seq * (head_dim / vpp),
                    "n_kv_heads * max_seq * head_dim / " + per_word);
      for (const Tensor& p : c->params) {
        k.require_len(p, n_kv_heads * max_seq * (head_dim / g),
                      "n_kv_heads * max_seq * head_dim / group_size");
      }
    }
  }
  // Quantised: the roped head row for the packing threads (declared outside the branches).
  std::optional<ArrayRef> head_row;
  if (!raw) head_row = k.threadgroup_array("head_row", F32, kMaxHeadDim);

  // The decode step's kernels overlap their neighbours (dsl/kernel_overlap.hpp).
  wait_for_prior_kernel();
  release_next_kernel();
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
    if_(!is_v, [&] { rotate_pair(a, b, pos, inv_freq[pair], attn_factor); });
    if_(is_q, [&] {
      if_(active, [&] {
        Val at = t * q_row + head * head_dim + pair;
        q[at] = Val(a).to(T);
        q[at + half] = Val(b).to(T);
      });
    }).else_([&] {
      Val kv_head = select(is_v, head - n_q_heads - n_kv_heads, head - n_q_heads);
      if (raw) {
        if_(pos < max_seq, [&] {
          if_(active, [&] {
            Val at = (kv_head * max_seq + pos) * head_dim + pair;
            store_cache_pair(k_cache.values, v_cache.values, is_v, at, half, a, b);
          });
        }).else_([&] { positions.load(max(pos, positions.len())); });
        return;
      }
      // The row as the raw kernel stores it (rounded to T), for every thread after the barrier
      // (reached by the whole threadgroup: the head, hence is_q, is the group's).
      if_(active, [&] {
        (*head_row)[pair] = Val(a).to(T).to(F32);
        (*head_row)[pair + half] = Val(b).to(T).to(F32);
      });
      barrier();
      if_(pos < max_seq, [&] {
        Val slot = kv_head * max_seq + pos;
        if_(is_v, [&] {
          store_quantised(F, T, v_cache, *head_row, head_dim, *group_size, slot);
        }).else_([&] { store_quantised(F, T, k_cache, *head_row, head_dim, *group_size, slot); });
      }).else_([&] { positions.load(max(pos, positions.len())); });
    });
  });
}

std::string format_words(CacheFormat f) {
  switch (f) {
    case CacheFormat::Raw: return "raw";
    case CacheFormat::Int4: return "affine int4";
    case CacheFormat::Int8: return "affine int8";
    case CacheFormat::Fp8E4M3: return "fp8 e4m3";
    case CacheFormat::Fp8E5M2: return "fp8 e5m2";
  }
  return "";
}

// The cache buffers' docs of a format.
std::vector<ParamDoc> cache_docs(CacheFormat f) {
  if (f == CacheFormat::Raw) {
    return {{"k_cache", "[Hkv, max_seq, D] T: roped keys written at positions[t]"},
            {"v_cache", "[Hkv, max_seq, D] T: values written at positions[t]"}};
  }
  const std::string vpp = std::to_string(32 / ffai::code_bits(f));
  std::vector<ParamDoc> docs;
  for (const std::string x : {"k", "v"}) {
    const std::string what = x == "k" ? "roped keys" : "values";
    docs.push_back({x + "_w", "[Hkv, max_seq, D / " + vpp + "] u32: codes of the " + what +
                                  " at positions[t], LSB-first"});
    docs.push_back({x + "_s", "[Hkv, max_seq, D / group_size] T: scales"});
    if (ffai::has_bias(f)) docs.push_back({x + "_b", "[Hkv, max_seq, D / group_size] T: biases"});
  }
  return docs;
}

// Llama 3.1 8B (32 q heads, 8 KV heads of 128) decoding one token and a 16-token prefill
// chunk into a 4096-position cache; quantised caches with groups of 32.
std::vector<BenchCase> bench_cases(CacheFormat f, BenchScale scale) {
  struct Shape {
    std::uint32_t tokens, q_heads, kv_heads, head_dim, max_seq;
  };
  const bool full = scale == BenchScale::Full;
  const std::vector<Shape> shapes =
      full ? std::vector<Shape>{{1, 32, 8, 128, 4096}, {16, 32, 8, 128, 4096}}
           : std::vector<Shape>{{3, 4, 2, 16, 8}};
  const DType t = full ? DType::BF16 : DType::F32;
  const std::uint32_t group = full ? 32 : 16;
  std::vector<BenchCase> cases;
  for (const Shape& s : shapes) {
    const std::size_t row = std::size_t(s.q_heads + 2 * s.kv_heads) * s.head_dim;
    const std::size_t cache = std::size_t(s.kv_heads) * s.max_seq * s.head_dim;
    const std::size_t kv_token = std::size_t(s.tokens) * s.kv_heads * s.head_dim;
    BenchCase b;
    b.label = "T" + std::to_string(s.tokens) + " Hq" + std::to_string(s.q_heads) + " Hkv" +
              std::to_string(s.kv_heads) + " D" + std::to_string(s.head_dim);
    b.dtype = t;
    b.elements = {{"qkv", s.tokens * row},
                  {"bias", 0},
                  {"q_norm", 0},
                  {"k_norm", 0},
                  {"positions", s.tokens},
                  {"inv_freq", s.head_dim / 2},
                  {"q", std::size_t(s.tokens) * s.q_heads * s.head_dim}};
    b.scalars = {{"head_dim", s.head_dim}, {"n_q_heads", s.q_heads}, {"n_kv_heads", s.kv_heads},
                 {"max_seq", s.max_seq},   {"eps", 1e-6f},           {"attn_factor", 1.0f},
                 {"has_bias", 0u},         {"has_qk_norm", 0u}};
    b.fills = {{"positions", BenchFill::iota(s.max_seq)}};
    // qkv read once, q and the new cache rows written once.
    const double read = double(s.tokens * row * size_of(t)) + 4.0 * s.tokens;
    const double q_bytes = double(s.tokens) * s.q_heads * s.head_dim * size_of(t);
    if (f == CacheFormat::Raw) {
      b.elements["k_cache"] = cache;
      b.elements["v_cache"] = cache;
      b.bytes = read + q_bytes + 2.0 * double(kv_token * size_of(t));
    } else {
      const std::uint32_t bits = ffai::code_bits(f);
      const std::size_t params = ffai::has_bias(f) ? 2 : 1;
      b.label += " g" + std::to_string(group);
      b.scalars["group_size"] = group;
      for (const std::string x : {"k", "v"}) {
        b.elements[x + "_w"] = cache * bits / 32;
        b.elements[x + "_s"] = cache / group;
        if (params == 2) b.elements[x + "_b"] = cache / group;
      }
      b.bytes =
          read + q_bytes +
          2.0 * (double(kv_token) * bits / 8 + double(kv_token / group * params * size_of(t)));
    }
    cases.push_back(b);
  }
  return cases;
}

template <CacheFormat F>
KernelInfo info_of() {
  const bool raw = F == CacheFormat::Raw;
  std::vector<ParamDoc> buffers = {
      {"qkv", "[T, (Hq + 2 Hkv) * D] T: the fused projection's output"},
      {"bias", "[(Hq + 2 Hkv) * D] T, or empty when has_bias is 0"},
      {"q_norm", "[D] T, or empty when has_qk_norm is 0"},
      {"k_norm", "[D] T, or empty when has_qk_norm is 0"},
      {"positions", "[T] u32: each token's position (< max_seq)"},
      {"inv_freq", "[D / 2] f32: rope_frequencies' inverse frequencies"},
      {"q", "[T, Hq, D] T: the roped queries"}};
  for (const ParamDoc& d : cache_docs(F)) buffers.push_back(d);
  std::vector<ParamDoc> scalars = {
      {"head_dim", "u32: D, even, 2..256"},
      {"n_q_heads", "u32: Hq"},
      {"n_kv_heads", "u32: Hkv"},
      {"max_seq", "u32: positions per cache head"},
      {"eps", "f32: the q/k norm's epsilon"},
      {"attn_factor", "f32: rope_frequencies' attention factor (1: plain)"},
      {"has_bias", "u32: 0 or 1"},
      {"has_qk_norm", "u32: 0 or 1"}};
  if (!raw) {
    scalars.push_back({"group_size",
                       "u32: channels per quantisation group (divides D; a multiple of the "
                       "codes per u32 word)"});
  }
  const std::string formula =
      "x = qkv[t, head] (+ bias); q,k: x * rsqrt(mean(x^2) + eps) * norm_w; rotate-half RoPE at "
      "positions[t]; q -> q[t], k/v -> cache[kv_head, positions[t]]" +
      std::string(raw ? ""
                      : " as quantize_kv" + ffai::format_suffix(F) +
                            " stores the row rounded to T (per group: scale" +
                            (ffai::has_bias(F) ? " and bias" : "") + ", packed codes)");
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build<F>,
      .doc = {.summary = "fused q/k/v bias, Qwen3 q/k RMS norm, RoPE and " + format_words(F) +
                         " KV-cache append",
              .formula = formula,
              .buffers = buffers,
              .scalars = scalars,
              .geometry = std::string("one threadgroup of 128 threads per (head, token), a thread "
                                      "per pair") +
                          (raw ? "" : "; a thread per u32 code word packs the cache row")},
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
      .bench = [](BenchScale scale) { return bench_cases(F, scale); },
  };
}

}  // namespace

KernelInfo qkv_rope_append::info() { return info_of<CacheFormat::Raw>(); }
KernelInfo qkv_rope_append_int4::info() { return info_of<CacheFormat::Int4>(); }
KernelInfo qkv_rope_append_int8::info() { return info_of<CacheFormat::Int8>(); }
KernelInfo qkv_rope_append_fp8_e4m3::info() { return info_of<CacheFormat::Fp8E4M3>(); }
KernelInfo qkv_rope_append_fp8_e5m2::info() { return info_of<CacheFormat::Fp8E5M2>(); }

}  // namespace mt::kernels::engine::decoder
