// KV-cache kernels: raw updates, affine int4/int8 and OCP fp8 quantisation of one decode token,
// and bulk dequantisation of a whole cache. Layouts and formulas: docs/kernels/kv_cache.md.
//
// With slot = h*max_seq + pos, vpp = 32/bits codes per u32 word and gph = head_dim/group_size:
//   raw cache  [n_kv_heads, max_seq, head_dim]            index slot*head_dim + d
//   codes      [n_kv_heads, max_seq, head_dim/vpp] (u32)  word slot*(head_dim/vpp) + d/vpp,
//                                                         bit offset (d % vpp)*bits (LSB-first)
//   scale/bias [n_kv_heads, max_seq, gph]                 index slot*gph + d/group_size
// n_kv_heads is never passed: each kernel derives it from a bound buffer's length, and guards
// its thread index against the work, so over-dispatching writes nothing.
//
// Contracts: every buffer's length is checked against the scalars and the other buffers (the
// buffer n_kv_heads comes from must hold a whole number of heads; the others exactly what
// n_kv_heads implies), and every launch is 1-D. Contract arithmetic cannot wrap (a product over
// u32 is an error), so once the contract holds every product of the layouts above is at most a
// buffer length, which fits u32: each index in a body is a sum of non-negative terms bounded by
// the length of the buffer it indexes, and no u32 index arithmetic wraps.
// fp8 quantisation divides by the scale as stored (rounded to T), the same value dequant
// multiplies by, so a round trip sees one consistent scale.
//
// Non-finite values: finite input gives finite output, and NaN propagates. A group holding a
// NaN or an inf cannot be represented, so quantisation stores its scale (and bias) as NaN and
// codes 0: every element of that group dequantises to NaN. A finite group whose spread
// overflows f32 (values spanning +-3e38) gets the finite scale max/maxq - min/maxq. Dequantised
// values of finite parameters saturate at +-max(T) instead of rounding to inf (a scale stored as
// T may round up by half an ulp, so maxq*scale + bias can pass max(T) for a group at T's
// limits); the updates copy bits, NaN included.
#include "metaltile/kernels/ffai/kv_cache.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "kv_format.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"

namespace mt::kernels::ffai::kv_cache {
namespace {

constexpr DType F32 = DType::F32;
constexpr DType U32 = DType::U32;
constexpr float kInfinity = std::numeric_limits<float>::infinity();
using kv_quant::is_finite;
using kv_quant::kMaxF32;

// The largest value a dequantised T may take: +-max(T) when the scale (and bias) it comes from
// are finite, else unbounded, so a NaN or inf parameter passes on.
Val saturation_limit(DType T, const Val& finite_parameters) {
  const float max_t = T == DType::F16    ? f16_bits_to_f32(0x7BFF)
                      : T == DType::BF16 ? bf16_bits_to_f32(0x7F7F)
                                         : kMaxF32;
  return select(finite_parameters, f32(max_t), f32(kInfinity));
}

// v (f32) clamped to [-limit, limit] and rounded to T; NaN passes (no comparison holds).
Val saturated(const Val& v, const Val& limit, DType T) {
  return select(v > limit, limit, select(v < -limit, -limit, v)).to(T);
}

// Host-side preconditions shared by every quantised layout.
void require_group_layout(KernelBuilder& k, const Val& head_dim, const Val& group_size,
                          std::uint32_t codes_per_word) {
  k.require(head_dim > 0u, "head_dim > 0");
  k.require(group_size > 0u, "group_size > 0");
  k.require(head_dim % group_size == 0u, "head_dim % group_size == 0");
  k.require(group_size % codes_per_word == 0u,
            "group_size % " + std::to_string(codes_per_word) + " == 0 (codes per u32 word)");
}

// n_kv_heads of one token's `src` [n_kv_heads, head_dim], which must hold whole heads.
Val token_heads(KernelBuilder& k, const Tensor& src, const Val& head_dim) {
  k.require_len_multiple(src, head_dim, "head_dim (whole heads)");
  return src.len() / head_dim;
}

// n_kv_heads of a cache `out` [n_kv_heads, max_seq, head_dim], which must hold whole heads.
Val cache_heads(KernelBuilder& k, const Tensor& out, const Val& head_dim, const Val& max_seq) {
  k.require(max_seq > 0u, "max_seq > 0");
  k.require_len_multiple(out, max_seq * head_dim, "max_seq*head_dim (whole heads)");
  return out.len() / (max_seq * head_dim);
}

// The codes [n_kv_heads, max_seq, head_dim/vpp] and the group parameters
// [n_kv_heads, max_seq, head_dim/group_size] of a cache with n_kv_heads heads.
void require_quantised_lengths(KernelBuilder& k, const Val& n_kv_heads, const Val& head_dim,
                               const Val& max_seq, const Val& group_size, std::uint32_t vpp,
                               const Tensor& words, const std::vector<Tensor>& group_params,
                               const std::string& heads_from) {
  const std::string heads = ", n_kv_heads = " + heads_from;
  k.require_len(words, n_kv_heads * max_seq * (head_dim / vpp),
                "n_kv_heads*max_seq*head_dim/" + std::to_string(vpp) + heads);
  for (const Tensor& p : group_params) {
    k.require_len(p, n_kv_heads * max_seq * (head_dim / group_size),
                  "n_kv_heads*max_seq*head_dim/group_size" + heads);
  }
}

void build_update(KernelBuilder& k, DType T) {
  Tensor src = k.input("src", T);
  Tensor out = k.output("out", T);
  Val head_dim = k.scalar_u32("head_dim"), max_seq = k.scalar_u32("max_seq");
  Val position = k.scalar_u32("position");
  require_1d_launch(k);
  k.require(position < max_seq, "position < max_seq");
  k.require(head_dim > 0u, "head_dim > 0");
  Val n_kv_heads = token_heads(k, src, head_dim);
  k.require_len(out, n_kv_heads * max_seq * head_dim,
                "n_kv_heads*max_seq*head_dim, n_kv_heads = len(src)/head_dim");

  Val tid = program_id(0);
  if_(tid < src.len(), [&] {
    Val h = tid / head_dim, d = tid % head_dim;
    out[(h * max_seq + position) * head_dim + d] = src[tid];
  });
}

void build_update_many(KernelBuilder& k, DType T) {
  Tensor src = k.input("src", T);
  Tensor positions = k.input("positions", U32);
  Tensor out = k.output("out", T);
  Val head_dim = k.scalar_u32("head_dim"), max_seq = k.scalar_u32("max_seq");
  Val row_len = k.scalar_u32("n_kv_heads_x_head_dim");
  require_1d_launch(k);
  k.require(head_dim > 0u, "head_dim > 0");
  k.require(row_len > 0u, "n_kv_heads_x_head_dim > 0");
  k.require(row_len % head_dim == 0u, "n_kv_heads_x_head_dim % head_dim == 0");
  k.require_len(src, positions.len() * row_len, "len(positions)*n_kv_heads_x_head_dim");
  k.require_len(out, row_len / head_dim * max_seq * head_dim,
                "n_kv_heads*max_seq*head_dim, n_kv_heads = n_kv_heads_x_head_dim/head_dim");

  Val tid = program_id(0);
  if_(tid < src.len(), [&] {
    Val row = tid / row_len, in_row = tid % row_len;
    Val h = in_row / head_dim, d = in_row % head_dim;
    Val pos = positions[row];
    // A position past the cache would land in the next head's slots: skip it.
    if_(pos < max_seq, [&] { out[(h * max_seq + pos) * head_dim + d] = src[tid]; });
  });
}

// One thread per group: find min/max, store scale and bias, pack codes LSB-first.
template <std::uint32_t Bits>
void build_quantize_affine(KernelBuilder& k, DType T) {
  constexpr std::uint32_t vpp = 32 / Bits, maxq = (1u << Bits) - 1;
  Tensor src = k.input("src", T);
  Tensor out_w = k.output("out_w", U32), out_s = k.output("out_s", T), out_b = k.output("out_b", T);
  Val head_dim = k.scalar_u32("head_dim"), max_seq = k.scalar_u32("max_seq");
  Val group_size = k.scalar_u32("group_size"), position = k.scalar_u32("position");
  require_1d_launch(k);
  require_group_layout(k, head_dim, group_size, vpp);
  k.require(position < max_seq, "position < max_seq");
  Val n_kv_heads = token_heads(k, src, head_dim);
  require_quantised_lengths(k, n_kv_heads, head_dim, max_seq, group_size, vpp, out_w,
                            {out_s, out_b}, "len(src)/head_dim");

  Val g = program_id(0);
  Val gph = head_dim / group_size;
  if_(g < src.len() / group_size, [&] {
    Val h = g / gph, group = g % gph;
    Val base = h * head_dim + group * group_size;
    Var mn = src[base].to(F32);
    Var mx = mn;
    Var finite = is_finite(mn);
    for (Val i : range(1u, group_size)) {
      Val v = src[base + i].to(F32);
      mn = min(mn, v);
      mx = max(mx, v);
      finite = finite && is_finite(v);
    }
    const kv_quant::AffineGroup params = kv_quant::affine_group(mn, mx, finite, maxq);
    Val slot = h * max_seq + position;
    out_s[slot * gph + group] = params.scale.to(T);
    out_b[slot * gph + group] = params.bias.to(T);

    Val first_word = slot * (head_dim / vpp) + group * (group_size / vpp);
    for (Val w : range(group_size / vpp)) {
      Var word = u32(0);
      for (Val j : range(u32(vpp))) {
        Val v = src[base + w * vpp + j].to(F32);
        word |= kv_quant::affine_code(v, params, maxq) << (j * Bits);
      }
      out_w[first_word + w] = word;
    }
  });
}

// One thread per dequantised element, head-major over positions [0, n_positions): calls
// body(e) with the element's raw-cache index e = slot*head_dim + d. Because head_dim is a
// multiple of the codes per word and of group_size, e alone locates the code word
// (e / vpp), the bit offset ((e % vpp) * bits) and the group (e / group_size): one division
// by a runtime value per element instead of splitting e into (h, p, d).
template <class Body>
void for_each_dequant_element(const Tensor& out, const Val& head_dim, const Val& max_seq,
                              const Val& n_positions, Body body) {
  Val tid = program_id(0);
  Val per_head = n_positions * head_dim;  // elements dequantised per head
  Val head_stride = max_seq * head_dim;   // elements per head in the cache
  if_(tid < out.len() / head_stride * per_head, [&] {
    Val h = tid / per_head;
    body(h * head_stride + (tid - h * per_head));
  });
}

// One thread per element of positions [0, n_positions).
template <std::uint32_t Bits>
void build_dequant_affine(KernelBuilder& k, DType T) {
  constexpr std::uint32_t vpp = 32 / Bits, maxq = (1u << Bits) - 1;
  Tensor in_w = k.input("in_w", U32), in_s = k.input("in_s", T), in_b = k.input("in_b", T);
  Tensor out = k.output("out", T);
  Val head_dim = k.scalar_u32("head_dim"), max_seq = k.scalar_u32("max_seq");
  Val group_size = k.scalar_u32("group_size"), n_positions = k.scalar_u32("n_positions");
  require_1d_launch(k);
  require_group_layout(k, head_dim, group_size, vpp);
  Val n_kv_heads = cache_heads(k, out, head_dim, max_seq);
  k.require(n_positions <= max_seq, "n_positions <= max_seq");
  require_quantised_lengths(k, n_kv_heads, head_dim, max_seq, group_size, vpp, in_w, {in_s, in_b},
                            "len(out)/(max_seq*head_dim)");

  for_each_dequant_element(out, head_dim, max_seq, n_positions, [&](const Val& e) {
    Val q = (in_w[e / vpp] >> ((e % vpp) * Bits)) & maxq;
    Val group = e / group_size;
    Val scale = in_s[group].to(F32), bias = in_b[group].to(F32);
    Val limit = saturation_limit(T, is_finite(scale) && is_finite(bias));
    out[e] = saturated(q.to(F32) * scale + bias, limit, T);
  });
}

// Eight elements per thread: the same result as build_dequant_affine, but each thread reads
// its codes with one 4- or 8-byte access and writes 16-byte vectors, so a thread moves enough
// bytes to keep the memory system busy (one 2-byte store per thread cannot). Dispatch
// n_kv_heads*n_positions*head_dim / 8 threads.
template <std::uint32_t Bits>
void build_dequant_affine_x8(KernelBuilder& k, DType T) {
  constexpr std::uint32_t vpp = 32 / Bits, maxq = (1u << Bits) - 1;
  constexpr std::uint32_t kPerThread = 8, kWords = kPerThread / vpp;
  Tensor in_w = k.input("in_w", U32), in_s = k.input("in_s", T), in_b = k.input("in_b", T);
  Tensor out = k.output("out", T);
  Val head_dim = k.scalar_u32("head_dim"), max_seq = k.scalar_u32("max_seq");
  Val group_size = k.scalar_u32("group_size"), n_positions = k.scalar_u32("n_positions");
  require_1d_launch(k);
  require_group_layout(k, head_dim, group_size, vpp);
  k.require(group_size % kPerThread == 0u, "group_size % 8 == 0 (elements per thread)");
  Val n_kv_heads = cache_heads(k, out, head_dim, max_seq);
  k.require(n_positions <= max_seq, "n_positions <= max_seq");
  require_quantised_lengths(k, n_kv_heads, head_dim, max_seq, group_size, vpp, in_w, {in_s, in_b},
                            "len(out)/(max_seq*head_dim)");

  Val tid = program_id(0);
  Val per_head = n_positions * (head_dim / kPerThread);  // runs of 8 dequantised per head
  Val head_stride = max_seq * head_dim;
  if_(tid < out.len() / head_stride * per_head, [&] {
    Val h = tid / per_head;
    Val e = h * head_stride + (tid - h * per_head) * kPerThread;  // first of the 8 elements
    Val group = e / group_size;
    Val scale = in_s[group].to(F32), bias = in_b[group].to(F32);
    Val limit = saturation_limit(T, is_finite(scale) && is_finite(bias));
    std::vector<Val> words;
    if constexpr (kWords == 1) {
      words.push_back(in_w[e / vpp]);
    } else {
      ArrayRef pair = load_vector(in_w, e / vpp, kWords);
      for (std::uint32_t w = 0; w < kWords; ++w) words.push_back(pair[w]);
    }
    const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(T));
    for (std::uint32_t first = 0; first < kPerThread; first += lanes) {
      ArrayRef values = k.thread_array("values_" + std::to_string(first), T, lanes);
      for (std::uint32_t j = 0; j < lanes; ++j) {
        const std::uint32_t code = first + j;
        Val q = (words[code / vpp] >> ((code % vpp) * Bits)) & maxq;
        values[j] = saturated(q.to(F32) * scale + bias, limit, T);
      }
      store_vector(out, e + first, values, lanes);
    }
  });
}

// One thread per group: absmax scale, then four fp8 codes per u32 word, LSB-first.
template <DType Fp8, int Fp8Max>
void build_quantize_fp8(KernelBuilder& k, DType T) {
  Tensor src = k.input("src", T);
  Tensor out_w = k.output("out_w", U32), out_s = k.output("out_s", T);
  Val head_dim = k.scalar_u32("head_dim"), max_seq = k.scalar_u32("max_seq");
  Val group_size = k.scalar_u32("group_size"), position = k.scalar_u32("position");
  require_1d_launch(k);
  require_group_layout(k, head_dim, group_size, 4);
  k.require(position < max_seq, "position < max_seq");
  Val n_kv_heads = token_heads(k, src, head_dim);
  require_quantised_lengths(k, n_kv_heads, head_dim, max_seq, group_size, 4, out_w, {out_s},
                            "len(src)/head_dim");

  Val g = program_id(0);
  Val gph = head_dim / group_size;
  if_(g < src.len() / group_size, [&] {
    Val h = g / gph, group = g % gph;
    Val base = h * head_dim + group * group_size;
    Var amax = f32(0.0f);
    Var finite = constant(DType::Bool, 1);
    for (Val i : range(group_size)) {
      Val a = abs(src[base + i].to(F32));
      amax = max(amax, a);
      finite = finite && a <= kMaxF32;
    }
    // A group with NaN or inf: a NaN scale (its codes come out 0).
    Val scale_t = kv_quant::fp8_scale(amax, finite, float(Fp8Max), T);
    Val scale = scale_t.to(F32);
    Val slot = h * max_seq + position;
    out_s[slot * gph + group] = scale_t;

    Val first_word = slot * (head_dim / 4u) + group * (group_size / 4u);
    for (Val w : range(group_size / 4u)) {
      Var word = u32(0);
      for (Val j : range(u32(4))) {
        Val v = src[base + w * 4u + j].to(F32);
        word |= kv_quant::fp8_code(v, scale, Fp8) << (j * 8u);
      }
      out_w[first_word + w] = word;
    }
  });
}

template <DType Fp8>
void build_dequant_fp8(KernelBuilder& k, DType T) {
  Tensor in_w = k.input("in_w", U32), in_s = k.input("in_s", T);
  Tensor out = k.output("out", T);
  Val head_dim = k.scalar_u32("head_dim"), max_seq = k.scalar_u32("max_seq");
  Val group_size = k.scalar_u32("group_size"), n_positions = k.scalar_u32("n_positions");
  require_1d_launch(k);
  require_group_layout(k, head_dim, group_size, 4);
  Val n_kv_heads = cache_heads(k, out, head_dim, max_seq);
  k.require(n_positions <= max_seq, "n_positions <= max_seq");
  require_quantised_lengths(k, n_kv_heads, head_dim, max_seq, group_size, 4, in_w, {in_s},
                            "len(out)/(max_seq*head_dim)");

  for_each_dequant_element(out, head_dim, max_seq, n_positions, [&](const Val& e) {
    Val code = ((in_w[e / 4u] >> ((e % 4u) * 8u)) & 0xFFu).to(DType::U8).bitcast(Fp8);
    Val value = code.to(F32), scale = in_s[e / group_size].to(F32);
    out[e] = saturated(value * scale, saturation_limit(T, is_finite(value) && is_finite(scale)), T);
  });
}

}  // namespace

// --- registration: docs, geometry rules and benchmark shapes ------------------------------

namespace {

// Buffer and scalar docs every layout shares.
const ParamDoc kHeadDim{"head_dim", "u32: channels per head"};
const ParamDoc kMaxSeq{"max_seq", "u32: positions per head in the cache"};
const ParamDoc kGroupSize{"group_size", "u32: channels per quantisation group (divides head_dim)"};
const ParamDoc kPosition{"position", "u32: the position the token is written at (< max_seq)"};
const ParamDoc kNPositions{"n_positions", "u32: positions [0, n_positions) are dequantised"};
const ParamDoc kSrcToken{"src", "[n_kv_heads, head_dim] T: one token"};

// The shapes of the family's spec: 8 KV heads, 32768 positions, head_dim 128, f16, group 32
// (smoke: 2 heads, 64 positions, head_dim 64).
struct CacheShape {
  std::size_t heads, max_seq, head_dim, group;
  std::string label() const {
    return "H" + std::to_string(heads) + " S" + std::to_string(max_seq) + " D" +
           std::to_string(head_dim) + " g" + std::to_string(group);
  }
  std::size_t cache() const { return heads * max_seq * head_dim; }
  std::size_t token() const { return heads * head_dim; }
};
CacheShape bench_shape(BenchScale scale) {
  return scale == BenchScale::Full ? CacheShape{8, 32768, 128, 32} : CacheShape{2, 64, 64, 32};
}
constexpr std::size_t kHalf = 2;  // bytes of an f16 element (the benchmark dtype)

// n_kv_heads from a cache-layout tensor of `per_position` elements per (head, position).
std::size_t cache_heads(const LaunchShape& s, std::string_view tensor, std::size_t per_position) {
  const std::size_t per_head = std::size_t{s.u32("max_seq")} * per_position;
  return per_head == 0 ? 0 : s.elements(tensor) / per_head;
}

// One thread per group of the one-token source.
LaunchPlan per_group(const LaunchShape& s) {
  const std::uint32_t group = s.u32("group_size");
  return geometry::threads_1d(group == 0 ? 0 : s.elements("src") / group, 64);
}

// One thread per dequantised element (or per run of `per_thread`).
GeometryRule per_dequantised_element(std::size_t per_thread) {
  return [per_thread](const LaunchShape& s) {
    const std::size_t head_dim = s.u32("head_dim");
    const std::size_t heads = cache_heads(s, "out", head_dim);
    return geometry::threads_1d(heads * s.u32("n_positions") * head_dim / per_thread, 256);
  };
}

// Quantising one token: read the token, write its codes and group parameters.
template <std::uint32_t Bits, bool HasBias>
std::vector<BenchCase> quantize_cases(BenchScale scale) {
  const CacheShape c = bench_shape(scale);
  BenchCase b{c.label() + " one token", DType::F16, {}, {}, {}, 0.0, 0.0};
  b.elements = {
      {"src", c.token()}, {"out_w", c.cache() * Bits / 32}, {"out_s", c.cache() / c.group}};
  if (HasBias) b.elements["out_b"] = c.cache() / c.group;
  b.scalars = {{"head_dim", std::uint32_t(c.head_dim)},
               {"max_seq", std::uint32_t(c.max_seq)},
               {"group_size", std::uint32_t(c.group)},
               {"position", std::uint32_t(c.max_seq / 2)}};
  const double groups = double(c.token()) / double(c.group);
  b.bytes = c.token() * kHalf + c.token() * Bits / 8.0 + groups * kHalf * (HasBias ? 2 : 1);
  return {b};
}

// Dequantising the whole cache.
template <std::uint32_t Bits, bool HasBias>
std::vector<BenchCase> dequant_cases(BenchScale scale) {
  const CacheShape c = bench_shape(scale);
  BenchCase b{c.label() + " whole cache", DType::F16, {}, {}, {}, 0.0, 0.0};
  b.elements = {{"in_w", c.cache() * Bits / 32}, {"in_s", c.cache() / c.group}, {"out", c.cache()}};
  if (HasBias) b.elements["in_b"] = c.cache() / c.group;
  b.scalars = {{"head_dim", std::uint32_t(c.head_dim)},
               {"max_seq", std::uint32_t(c.max_seq)},
               {"group_size", std::uint32_t(c.group)},
               {"n_positions", std::uint32_t(c.max_seq)}};
  return {b};
}

KernelInfo quantize_affine_info(void (*body)(KernelBuilder&, DType), std::uint32_t bits) {
  const std::string vpp = std::to_string(32 / bits);
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = body,
      .doc = {.summary = "quantise one token into an affine int" + std::to_string(bits) +
                         " cache: codes, scale and bias per group",
              .formula = "per group: mn, mx = min, max; scale = mx == mn ? 1 : (mx - mn) / " +
                         std::to_string((1u << bits) - 1) +
                         "; q = clamp((v - mn) / scale + 0.5, 0, maxq); bias = mn",
              .buffers = {kSrcToken,
                          {"out_w", "[n_kv_heads, max_seq, head_dim / " + vpp + "] u32: codes"},
                          {"out_s", "[n_kv_heads, max_seq, head_dim / group_size] T: scales"},
                          {"out_b", "[n_kv_heads, max_seq, head_dim / group_size] T: biases"}},
              .scalars = {kHeadDim, kMaxSeq, kGroupSize, kPosition},
              .geometry = "one thread per group of src (len(src) / group_size), 64 a group"},
      .geometry = per_group,
      .bench = bits == 4 ? quantize_cases<4, true> : quantize_cases<8, true>,
  };
}

KernelInfo dequant_affine_info(void (*body)(KernelBuilder&, DType), std::uint32_t bits,
                               std::size_t per_thread) {
  const std::string vpp = std::to_string(32 / bits);
  const std::string threads =
      per_thread == 1 ? "one thread per element" : "one thread per 8 elements";
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = body,
      .doc = {.summary = "dequantise positions [0, n_positions) of an affine int" +
                         std::to_string(bits) + " cache into a raw cache",
              .formula = "out[h, p, d] = f32(q) * f32(scale) + f32(bias), rounded to T",
              .buffers = {{"in_w", "[n_kv_heads, max_seq, head_dim / " + vpp + "] u32: codes"},
                          {"in_s", "[n_kv_heads, max_seq, head_dim / group_size] T: scales"},
                          {"in_b", "[n_kv_heads, max_seq, head_dim / group_size] T: biases"},
                          {"out", "[n_kv_heads, max_seq, head_dim] T: the raw cache"}},
              .scalars = {kHeadDim, kMaxSeq, kGroupSize, kNPositions},
              .geometry = threads + " of n_kv_heads * n_positions * head_dim, 256 a group"},
      .geometry = per_dequantised_element(per_thread),
      .bench = bits == 4 ? dequant_cases<4, true> : dequant_cases<8, true>,
  };
}

KernelInfo quantize_fp8_info(void (*body)(KernelBuilder&, DType), std::string_view format,
                             int fp8_max) {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = body,
      .doc = {.summary = "quantise one token into an fp8 " + std::string(format) +
                         " cache: four codes a word and one scale per group",
              .formula = "per group: scale = amax > 0 ? amax / " + std::to_string(fp8_max) +
                         " : 0 (stored as T); code = fp8(v / scale), round to nearest even, "
                         "saturating",
              .buffers = {kSrcToken,
                          {"out_w", "[n_kv_heads, max_seq, head_dim / 4] u32: codes"},
                          {"out_s", "[n_kv_heads, max_seq, head_dim / group_size] T: scales"}},
              .scalars = {kHeadDim, kMaxSeq, kGroupSize, kPosition},
              .geometry = "one thread per group of src (len(src) / group_size), 64 a group"},
      .geometry = per_group,
      .bench = quantize_cases<8, false>,
  };
}

KernelInfo dequant_fp8_info(void (*body)(KernelBuilder&, DType), std::string_view format) {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = body,
      .doc = {.summary = "dequantise positions [0, n_positions) of an fp8 " + std::string(format) +
                         " cache into a raw cache",
              .formula = "out[h, p, d] = f32(code) * f32(scale), rounded to T",
              .buffers = {{"in_w", "[n_kv_heads, max_seq, head_dim / 4] u32: codes"},
                          {"in_s", "[n_kv_heads, max_seq, head_dim / group_size] T: scales"},
                          {"out", "[n_kv_heads, max_seq, head_dim] T: the raw cache"}},
              .scalars = {kHeadDim, kMaxSeq, kGroupSize, kNPositions},
              .geometry = "one thread per element of n_kv_heads * n_positions * head_dim, 256 a "
                          "group"},
      .geometry = per_dequantised_element(1),
      .bench = dequant_cases<8, false>,
  };
}

}  // namespace

KernelInfo kv_cache_update::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_update,
      .doc = {.summary = "write one token into a raw cache at `position`",
              .formula = "out[h, position, d] = src[h, d] (bit-exact)",
              .buffers = {kSrcToken, {"out", "[n_kv_heads, max_seq, head_dim] T: the cache"}},
              .scalars = {kHeadDim, kMaxSeq, kPosition},
              .geometry = "one thread per element of src, 256 a group"},
      .geometry = [](const LaunchShape& s) { return geometry::threads_1d(s.elements("src")); },
      .bench =
          [](BenchScale scale) {
            const CacheShape c = bench_shape(scale);
            BenchCase b{c.label() + " one token", DType::F16, {}, {}, {}, 0.0, 0.0};
            b.elements = {{"src", c.token()}, {"out", c.cache()}};
            b.scalars = {{"head_dim", std::uint32_t(c.head_dim)},
                         {"max_seq", std::uint32_t(c.max_seq)},
                         {"position", std::uint32_t(c.max_seq / 2)}};
            b.bytes = 2.0 * c.token() * kHalf;
            return std::vector<BenchCase>{b};
          },
  };
}

KernelInfo kv_cache_update_many::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_update_many,
      .doc = {.summary = "write many tokens into a raw cache, each at its own position",
              .formula = "out[h, positions[r], d] = src[r, h, d]; rows whose position is >= "
                         "max_seq are skipped",
              .buffers = {{"src", "[n_tok, n_kv_heads, head_dim] T: the tokens"},
                          {"positions", "[n_tok] u32: distinct positions"},
                          {"out", "[n_kv_heads, max_seq, head_dim] T: the cache"}},
              .scalars = {kHeadDim,
                          kMaxSeq,
                          {"n_kv_heads_x_head_dim", "u32: elements per token row of src"}},
              .geometry = "one thread per element of src, 256 a group"},
      .geometry = [](const LaunchShape& s) { return geometry::threads_1d(s.elements("src")); },
      .bench =
          [](BenchScale scale) {
            const CacheShape c = bench_shape(scale);
            const std::size_t tokens = scale == BenchScale::Full ? 512 : 8;
            BenchCase b{
                c.label() + " T" + std::to_string(tokens), DType::F16, {}, {}, {}, 0.0, 0.0};
            b.elements = {{"src", tokens * c.token()}, {"positions", tokens}, {"out", c.cache()}};
            b.scalars = {{"head_dim", std::uint32_t(c.head_dim)},
                         {"max_seq", std::uint32_t(c.max_seq)},
                         {"n_kv_heads_x_head_dim", std::uint32_t(c.token())}};
            b.fills = {{"positions", BenchFill::iota(std::uint32_t(c.max_seq))}};
            b.bytes = 2.0 * tokens * c.token() * kHalf + tokens * 4.0;
            return std::vector<BenchCase>{b};
          },
  };
}

KernelInfo quantize_kv_int4::info() { return quantize_affine_info(build_quantize_affine<4>, 4); }
KernelInfo quantize_kv_int8::info() { return quantize_affine_info(build_quantize_affine<8>, 8); }
KernelInfo bulk_dequant_kv_int4::info() {
  return dequant_affine_info(build_dequant_affine<4>, 4, 1);
}
KernelInfo bulk_dequant_kv_int8::info() {
  return dequant_affine_info(build_dequant_affine<8>, 8, 1);
}
KernelInfo bulk_dequant_kv_int4_x8::info() {
  return dequant_affine_info(build_dequant_affine_x8<4>, 4, 8);
}
KernelInfo bulk_dequant_kv_int8_x8::info() {
  return dequant_affine_info(build_dequant_affine_x8<8>, 8, 8);
}
KernelInfo quantize_kv_fp8_e4m3::info() {
  return quantize_fp8_info(build_quantize_fp8<DType::F8E4M3, 448>, "e4m3", 448);
}
KernelInfo quantize_kv_fp8_e5m2::info() {
  return quantize_fp8_info(build_quantize_fp8<DType::F8E5M2, 57344>, "e5m2", 57344);
}
KernelInfo bulk_dequant_kv_fp8_e4m3::info() {
  return dequant_fp8_info(build_dequant_fp8<DType::F8E4M3>, "e4m3");
}
KernelInfo bulk_dequant_kv_fp8_e5m2::info() {
  return dequant_fp8_info(build_dequant_fp8<DType::F8E5M2>, "e5m2");
}

}  // namespace mt::kernels::ffai::kv_cache
