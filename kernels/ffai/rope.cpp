// RoPE: one thread per (work item, token, head group). A work item is L pairs (L = the 16-byte
// vector width of T) read as two 16-byte vectors: x[i..i+L) and x[R/2+i..) in the rotate-half
// layout, the 2L consecutive elements of L pairs when interleaved; or one vector of the copied
// dimensions R..D-1. A thread computes the L cos/sin of its item once and applies them to every
// head of its group (h = g, g + G, ... with G the threads on axis 2), so the transcendental work
// is shared across heads while the loads stay 16 bytes wide. When D or R/2 is not a multiple of
// L, an item is one pair or one copied element (scalar loads).
//
// Grid axes: 0 = work item within the token, 1 = token, 2 = head group; the kernel guards all
// three, so any launch covering them is valid (every thread axis is read, so any threadgroup
// shape is honoured). No index divides by a runtime value.
//
// Contracts: every buffer's length against the scalars and len(positions). Contract products
// cannot wrap, so the element token*n_heads*head_dim + h*head_dim + d (token < len(positions),
// h < n_heads, d < head_dim) is below len(x) and fits u32.
#include "metaltile/kernels/ffai/rope.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::ffai::rope {
namespace {

constexpr DType F32 = DType::F32;
constexpr DType U32 = DType::U32;

std::uint32_t vector_lanes(DType t) { return static_cast<std::uint32_t>(16 / size_of(t)); }

struct RopeParams {
  Tensor x, positions, inv_freq, out;
  Val head_dim, n_heads, rotary_dim, interleaved, attn_factor;
};

RopeParams declare(KernelBuilder& k, DType T) {
  RopeParams p{k.input("x", T),
               k.input("positions", U32),
               k.input("inv_freq", F32),
               k.output("out", T),
               k.scalar_u32("head_dim"),
               k.scalar_u32("n_heads"),
               k.scalar_u32("rotary_dim"),
               k.scalar_u32("interleaved"),
               k.scalar_f32("attn_factor")};
  k.require(p.head_dim > 0u, "head_dim > 0");
  k.require(p.n_heads > 0u, "n_heads > 0");
  k.require(p.rotary_dim > 0u, "rotary_dim > 0");
  k.require(p.rotary_dim % 2u == 0u, "rotary_dim % 2 == 0");
  k.require(p.rotary_dim <= p.head_dim, "rotary_dim <= head_dim");
  k.require(p.interleaved <= 1u, "interleaved <= 1");
  k.require_len(p.inv_freq, p.rotary_dim / 2u, "rotary_dim/2");
  k.require_len(p.x, p.positions.len() * p.n_heads * p.head_dim, "len(positions)*n_heads*head_dim");
  k.require_len(p.out, p.x.len(), "len(x)");
  return p;
}

// The cos and sin (times attn_factor) of `count` pairs starting at pair `first`.
struct Rotation {
  std::vector<Val> cos, sin;
};

Rotation rotation(const RopeParams& p, const Val& position, const Val& first, std::uint32_t count) {
  std::vector<Val> freq;
  if (count == 1) {
    freq.push_back(p.inv_freq[first]);
  } else {
    for (std::uint32_t j = 0; j < count; j += 4) {
      ArrayRef f = load_vector(p.inv_freq, first + j, 4);
      for (std::uint32_t l = 0; l < 4; ++l) freq.push_back(f[l]);
    }
  }
  Rotation r;
  for (const Val& f : freq) {
    Val theta = position * f;
    r.cos.push_back(cos(theta) * p.attn_factor);
    r.sin.push_back(sin(theta) * p.attn_factor);
  }
  return r;
}

// The rotated pair (a c - b s, b c + a s), computed in f32 and rounded to t.
std::pair<Val, Val> rotate(const Val& a, const Val& b, const Val& c, const Val& s, DType t) {
  Val af = a.to(F32), bf = b.to(F32);
  Val out_a = af * c - bf * s;
  Val out_b = bf * c + af * s;
  return {out_a.to(t), out_b.to(t)};
}

// Vector path: item j < R/(2L) rotates pairs jL..jL+L-1; later items copy one vector each.
void vector_item(KernelBuilder& k, const RopeParams& p, DType T, const Val& item,
                 const Val& position,
                 const std::function<void(const std::function<void(const Val&)>&)>& each_head) {
  const std::uint32_t lanes = vector_lanes(T);
  Val rotary_items = p.rotary_dim / (2u * lanes);
  Val half = p.rotary_dim / 2u;
  if_(item < rotary_items, [&] {
    Val first_pair = item * lanes;
    Rotation r = rotation(p, position, first_pair, lanes);
    // Element offsets of the two vectors in the head: rotate-half a at i, b at R/2 + i;
    // interleaved pairs at 2i.
    Val lo = select(p.interleaved == 1u, first_pair * 2u, first_pair);
    Val hi = select(p.interleaved == 1u, first_pair * 2u + lanes, half + first_pair);
    each_head([&](const Val& head_base) {
      ArrayRef v0 = load_vector(p.x, head_base + lo, lanes);
      ArrayRef v1 = load_vector(p.x, head_base + hi, lanes);
      ArrayRef o0 = k.thread_array("rope_lo", T, lanes);
      ArrayRef o1 = k.thread_array("rope_hi", T, lanes);
      if_(p.interleaved == 1u, [&] {
        // Pair l lives at lanes 2l, 2l + 1 of v0 (l < L/2) or of v1.
        for (std::uint32_t l = 0; l < lanes; ++l) {
          const ArrayRef& in = l < lanes / 2 ? v0 : v1;
          const ArrayRef& out = l < lanes / 2 ? o0 : o1;
          const std::uint32_t at = 2 * (l % (lanes / 2));
          Val a = in[at];
          auto [ra, rb] = rotate(a, in[at + 1], r.cos[l], r.sin[l], T);
          out[at] = ra;
          out[at + 1] = rb;
        }
      }).else_([&] {
        for (std::uint32_t l = 0; l < lanes; ++l) {
          Val a = v0[l];
          auto [ra, rb] = rotate(a, v1[l], r.cos[l], r.sin[l], T);
          o0[l] = ra;
          o1[l] = rb;
        }
      });
      store_vector(p.out, head_base + lo, o0, lanes);
      store_vector(p.out, head_base + hi, o1, lanes);
    });
  }).else_([&] {
    Val at = p.rotary_dim + (item - rotary_items) * lanes;
    each_head([&](const Val& head_base) {
      ArrayRef v = load_vector(p.x, head_base + at, lanes);
      store_vector(p.out, head_base + at, v, lanes);
    });
  });
}

// Scalar path: item i < R/2 rotates pair i; later items copy one element each.
void scalar_item(const RopeParams& p, DType T, const Val& item, const Val& position,
                 const std::function<void(const std::function<void(const Val&)>&)>& each_head) {
  Val half = p.rotary_dim / 2u;
  if_(item < half, [&] {
    Rotation r = rotation(p, position, item, 1);
    Val a_at = select(p.interleaved == 1u, item * 2u, item);
    Val b_at = select(p.interleaved == 1u, item * 2u + 1u, half + item);
    each_head([&](const Val& head_base) {
      Val a = p.x[head_base + a_at];
      auto [ra, rb] = rotate(a, p.x[head_base + b_at], r.cos[0], r.sin[0], T);
      p.out[head_base + a_at] = ra;
      p.out[head_base + b_at] = rb;
    });
  }).else_([&] {
    Val at = p.rotary_dim + (item - half);
    each_head([&](const Val& head_base) { p.out[head_base + at] = p.x[head_base + at]; });
  });
}

void build_rope(KernelBuilder& k, DType T) {
  RopeParams p = declare(k, T);
  const std::uint32_t lanes = vector_lanes(T);
  Val vectorised = (p.head_dim % lanes == 0u) && ((p.rotary_dim / 2u) % lanes == 0u);
  Val copied = p.head_dim - p.rotary_dim;
  Val items =
      select(vectorised, p.rotary_dim / (2u * lanes) + copied / lanes, p.rotary_dim / 2u + copied);
  Val item = program_id(0), token = program_id(1), group = program_id(2);
  Val head_stride = threadgroups_per_grid(2) * threads_per_threadgroup(2);
  Val tokens = p.positions.len();
  if_(item < items && token < tokens, [&] {
    Val position = p.positions[token].to(F32);
    Val token_base = token * p.n_heads * p.head_dim;
    auto each_head = [&](const std::function<void(const Val&)>& body) {
      for (Val h : range(group, p.n_heads, head_stride)) body(token_base + h * p.head_dim);
    };
    if_(vectorised, [&] { vector_item(k, p, T, item, position, each_head); }).else_([&] {
      scalar_item(p, T, item, position, each_head);
    });
  });
}

// The launch: axis 0 covers the work items of a token, axis 1 the tokens, axis 2 the head
// groups. Each thread takes up to 8 heads, as many as keeps at least one full wave of threads
// (2048 per multiprocessor) on the device, so a prefill shares each cos/sin over a few heads
// while a decode step (one token) gets a thread per head.
LaunchPlan rope_geometry(const LaunchShape& s) {
  const std::size_t lanes = vector_lanes(s.dtype());
  const std::size_t d = s.u32("head_dim"), r = s.u32("rotary_dim"), heads = s.u32("n_heads");
  const std::size_t tokens = s.elements("positions");
  const bool vectorised = d % lanes == 0 && (r / 2) % lanes == 0;
  const std::size_t items = vectorised ? r / (2 * lanes) + (d - r) / lanes : r / 2 + (d - r);
  const std::size_t wave = std::size_t{std::max(1u, s.limits().multiprocessors)} * 2048;
  std::size_t per_thread = 1;
  while (per_thread < 8 && tokens * items * geometry::ceil_div(heads, 2 * per_thread) >= wave) {
    per_thread *= 2;
  }
  const std::size_t groups = geometry::ceil_div(heads, per_thread);
  auto pow2 = [](std::size_t n) { return std::bit_ceil(std::max<std::size_t>(n, 1)); };
  LaunchStep step;
  const std::size_t tx = std::min<std::size_t>(pow2(items), 256);
  const std::size_t ty = std::min(256 / tx, pow2(tokens));
  const std::size_t tz = std::min(256 / (tx * ty), pow2(groups));
  step.tpg = {tx, ty, tz};
  step.grid = {geometry::ceil_div(std::max<std::size_t>(items, 1), tx),
               geometry::ceil_div(std::max<std::size_t>(tokens, 1), ty),
               geometry::ceil_div(groups, tz)};
  return LaunchPlan{{}, {step}};
}

// Bytes: x read and out written once, positions and inv_freq read once.
BenchCase rope_case(std::string label, std::size_t tokens, std::size_t heads, std::size_t d,
                    std::size_t r, std::uint32_t interleaved, DType t) {
  BenchCase b{std::move(label), t, {}, {}, {}, 0.0, 0.0};
  b.elements = {{"x", tokens * heads * d},
                {"positions", tokens},
                {"inv_freq", r / 2},
                {"out", tokens * heads * d}};
  b.scalars = {{"head_dim", std::uint32_t(d)},
               {"n_heads", std::uint32_t(heads)},
               {"rotary_dim", std::uint32_t(r)},
               {"interleaved", interleaved},
               {"attn_factor", 1.0f}};
  b.fills = {{"positions", BenchFill::below(32768)}, {"inv_freq", BenchFill::uniform(0.0, 1.0)}};
  b.bytes = 2.0 * double(tokens * heads * d * size_of(t)) + 4.0 * double(tokens) + 2.0 * double(r);
  return b;
}

}  // namespace

KernelInfo rope::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_rope,
      .doc = {.summary = "rotary position embedding of every head of every token",
              .formula = "theta = f32(positions[t]) * inv_freq[i]; c = cos(theta) * attn_factor, "
                         "s = sin(theta) * attn_factor; (a, b) -> (a c - b s, b c + a s) with "
                         "(a, b) = (i, i + R/2), or (2i, 2i + 1) when interleaved; dims R..D-1 "
                         "copied; f32 arithmetic, one rounding to T",
              .buffers = {{"x",
                           "[T, H, D] T: queries or keys (several tensors' heads may be "
                           "stacked as one H)"},
                          {"positions", "[T] u32: each token's position"},
                          {"inv_freq", "[R/2] f32: inverse frequencies (rope_scaling.hpp)"},
                          {"out", "[T, H, D] T"}},
              .scalars = {{"head_dim", "u32: D (> 0)"},
                          {"n_heads", "u32: H (> 0)"},
                          {"rotary_dim", "u32: R, the rotated dimensions (even, 0 < R <= D)"},
                          {"interleaved",
                           "u32: 0 rotate-half (Llama, Qwen), 1 interleaved (GPT-J)"},
                          {"attn_factor", "f32: scales cos and sin (1 = plain; yarn's mscale)"}},
              .geometry = "Grid3D over (work item, token, head group): a work item is L pairs "
                          "(two 16-byte vectors) or one vector of copied dims, L = 16 / "
                          "sizeof(T); one pair or element when D or R/2 is not a multiple of L; "
                          "each thread applies its cos/sin to up to 8 heads"},
      .geometry = rope_geometry,
      .bench =
          [](BenchScale scale) {
            if (scale == BenchScale::Smoke) {
              return std::vector<BenchCase>{
                  rope_case("T3 H2 D16 R16", 3, 2, 16, 16, 0, DType::F32),
                  rope_case("T2 H3 D10 R4 interleaved", 2, 3, 10, 4, 1, DType::F32)};
            }
            return std::vector<BenchCase>{
                rope_case("T4096 H32 D128", 4096, 32, 128, 128, 0, DType::BF16),
                rope_case("T4096 H32 D128 interleaved", 4096, 32, 128, 128, 1, DType::BF16),
                rope_case("T4096 H32 D128 R64", 4096, 32, 128, 64, 0, DType::BF16),
                rope_case("decode T1 H40 D128", 1, 40, 128, 128, 0, DType::BF16)};
          },
  };
}

}  // namespace mt::kernels::ffai::rope
