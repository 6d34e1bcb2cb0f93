// rope x {f32, f16, bf16} on every backend against an f64 evaluation of the same formula
// (theta the kernel's f32 product, cos and sin in double): within 2 ulp of T (f32: 4e-6
// relative), plus a few f32 roundings of the pair's terms where they cancel. Both layouts,
// partial rotary dimensions, head dims and rotary dims that are and are not multiples of the
// vector width, positions up to 10^5, attn_factor; the copied dimensions are bit-exact;
// specialising the shape scalars gives the same bits; every contract names kernel and buffer.
#include "metaltile/kernels/ffai/rope.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/ffai/tolerance.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace rows = mt::test::rows;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

struct RopeShape {
  std::uint32_t tokens, heads, head_dim, rotary_dim, interleaved;
  float attn_factor = 1.0f;
  std::string text() const {
    return "T" + std::to_string(tokens) + " H" + std::to_string(heads) + " D" +
           std::to_string(head_dim) + " R" + std::to_string(rotary_dim) +
           (interleaved ? " interleaved" : "") + " attn " + std::to_string(attn_factor);
  }
  std::size_t elements() const { return std::size_t{tokens} * heads * head_dim; }
};

struct RopeInputs {
  std::vector<float> x, inv_freq;
  std::vector<std::uint32_t> positions;
};

RopeInputs inputs(const RopeShape& s, DType t, std::uint64_t seed) {
  RopeInputs in;
  in.x = rows::random_values(s.elements(), seed, t, -2.0f, 2.0f);
  rows::Rng rng(seed + 1);
  for (std::uint32_t i = 0; i < s.tokens; ++i) in.positions.push_back(rng.below(100000));
  in.positions.front() = 0;
  // Frequencies spread like theta^(-2i/R), a realistic range from 1 down to ~1e-4.
  for (std::uint32_t i = 0; i < s.rotary_dim / 2; ++i) {
    in.inv_freq.push_back(static_cast<float>(std::pow(10000.0, -2.0 * i / s.rotary_dim)));
  }
  return in;
}

mt::BufferMap buffers(const RopeShape& s, DType t, const RopeInputs& in) {
  mt::BufferMap b;
  b["x"] = mt::test::pack(in.x, t);
  b["positions"] = mt::test::pack_u32(in.positions);
  b["inv_freq"] = mt::test::pack(in.inv_freq, DType::F32);
  b["out"] = mt::test::poisoned(s.elements(), t);
  b["head_dim"] = le_bytes(s.head_dim);
  b["n_heads"] = le_bytes(s.heads);
  b["rotary_dim"] = le_bytes(s.rotary_dim);
  b["interleaved"] = le_bytes(s.interleaved);
  b["attn_factor"] = le_bytes(s.attn_factor);
  return b;
}

struct Expected {
  std::vector<double> value;
  std::vector<double> scale;  // |a c| + |b s|: the terms whose f32 roundings may cancel
};

Expected oracle(const RopeShape& s, const RopeInputs& in) {
  Expected e{std::vector<double>(in.x.begin(), in.x.end()), std::vector<double>(s.elements(), 0)};
  const std::uint32_t half = s.rotary_dim / 2;
  for (std::uint32_t t = 0; t < s.tokens; ++t) {
    for (std::uint32_t h = 0; h < s.heads; ++h) {
      const std::size_t base = (std::size_t{t} * s.heads + h) * s.head_dim;
      for (std::uint32_t i = 0; i < half; ++i) {
        const float theta =
            static_cast<float>(in.positions[t]) * in.inv_freq[i];  // f32, as specified
        const double c = std::cos(double(theta)) * s.attn_factor;
        const double sn = std::sin(double(theta)) * s.attn_factor;
        const std::size_t a = base + (s.interleaved ? 2 * i : i);
        const std::size_t b = base + (s.interleaved ? 2 * i + 1 : half + i);
        const double xa = in.x[a], xb = in.x[b];
        e.value[a] = xa * c - xb * sn;
        e.value[b] = xb * c + xa * sn;
        e.scale[a] = e.scale[b] = std::fabs(xa * c) + std::fabs(xb * sn);
      }
    }
  }
  return e;
}

double tolerance(DType t, double expected, double scale) {
  const double own =
      t == DType::F32 ? 4e-6 * std::fabs(expected) : 2.0 * mt::test::ulp_of(t, expected);
  return own + 0x1p-21 * scale;  // cos, sin, the products and the difference, in f32
}

void check(const mt::DispatchResult& r, const RopeShape& s, DType t, const RopeInputs& in) {
  ASSERT_EQ(r.outputs.count("out"), 1u);
  const std::vector<float> out = mt::test::unpack(r.outputs.at("out"), t);
  const Expected e = oracle(s, in);
  mt::test::expect_within(
      out, e.value, [&](std::size_t i) { return tolerance(t, e.value[i], e.scale[i]); }, "out");
  // Dimensions R..D-1 are copies.
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i % s.head_dim >= s.rotary_dim && out[i] != in.x[i]) {
      ADD_FAILURE() << "copied element " << i << ": " << out[i] << " != " << in.x[i];
      break;
    }
  }
}

// Vector path (D and R/2 multiples of the 16-byte width: 4 for f32, 8 for f16/bf16) and scalar
// path (they are not, for some or all dtypes), full and partial, both layouts, one head and
// many (the head loop), one token and several.
const RopeShape kShapes[] = {
    {1, 1, 2, 2, 0},         {1, 1, 2, 2, 1},         {3, 2, 6, 4, 0},     {3, 2, 6, 4, 1},
    {5, 3, 16, 16, 0},       {5, 3, 16, 16, 1},       {4, 5, 128, 128, 0}, {2, 5, 128, 128, 1},
    {3, 4, 128, 64, 0},      {3, 4, 128, 64, 1},      {2, 3, 80, 32, 0},   {2, 3, 80, 32, 1},
    {2, 2, 24, 12, 0},       {2, 2, 24, 12, 1},       {7, 40, 64, 64, 0},  {1, 40, 128, 128, 0},
    {3, 2, 64, 64, 0, 1.2f}, {3, 2, 64, 48, 1, 0.7f}, {2, 9, 8, 8, 0},     {2, 3, 40, 8, 1}};

TEST(Rope, MatchesTheF64FormulaOnEveryShape) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (const RopeShape& s : kShapes) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text());
        const RopeInputs in = inputs(s, t, 3 * s.head_dim + s.tokens + s.heads);
        check(mt::kernels::run(ctx, "rope", t, buffers(s, t, in)), s, t, in);
      }
    }
  });
}

// A decode loop specialises the shape scalars: the same bits as passing them at run time.
TEST(Rope, SpecialisedShapeGivesTheSameBits) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (std::uint32_t interleaved : {0u, 1u}) {
      const DType t = DType::BF16;
      const RopeShape s{3, 4, 64, 32, interleaved};
      const RopeInputs in = inputs(s, t, 21);
      const mt::BufferMap b = buffers(s, t, in);
      mt::BufferMap runtime_free = b;
      mt::ConstMap consts;
      for (const char* name : {"head_dim", "n_heads", "rotary_dim", "interleaved"}) {
        runtime_free.erase(name);
      }
      consts = {{"head_dim", s.head_dim},
                {"n_heads", s.heads},
                {"rotary_dim", s.rotary_dim},
                {"interleaved", s.interleaved}};
      EXPECT_EQ(mt::kernels::run(ctx, "rope", t, runtime_free, consts).outputs.at("out"),
                mt::kernels::run(ctx, "rope", t, b).outputs.at("out"));
    }
  });
}

// Launches the geometry rule would not pick: one thread a group, and more groups than work.
TEST(Rope, AnyCoveringLaunch) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F16;
    const RopeShape s{3, 5, 32, 16, 0};
    const RopeInputs in = inputs(s, t, 8);
    const mt::Kernel k = mt::kernels::ffai::rope::rope::kernel_ir_for(t);
    for (auto [grid, tpg] :
         {std::pair<std::array<std::size_t, 3>, std::array<std::size_t, 3>>{{3, 3, 5}, {1, 1, 1}},
          {{1, 1, 1}, {4, 4, 8}},
          {{3, 2, 2}, {2, 2, 1}}}) {
      check(ctx.dispatch_with_grid(k, buffers(s, t, in), {}, grid, tpg), s, t, in);
    }
  });
}

TEST(Rope, ContractErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const RopeShape s{2, 3, 16, 8, 0};
    const RopeInputs in = inputs(s, t, 5);
    const mt::BufferMap good = buffers(s, t, in);
    auto expect_bad = [&](const std::function<void(mt::BufferMap&)>& spoil,
                          const std::vector<std::string>& parts) {
      mt::BufferMap b = good;
      spoil(b);
      std::vector<std::string> all = parts;
      all.push_back("kernel 'rope'");
      mt::test::expect_mentions(mt::test::error_of([&] { mt::kernels::run(ctx, "rope", t, b); }),
                                all);
    };
    expect_bad([](mt::BufferMap& b) { b["head_dim"] = le_bytes(0u); }, {"head_dim > 0"});
    expect_bad([](mt::BufferMap& b) { b["n_heads"] = le_bytes(0u); }, {"n_heads > 0"});
    expect_bad([](mt::BufferMap& b) { b["rotary_dim"] = le_bytes(0u); }, {"rotary_dim > 0"});
    expect_bad([](mt::BufferMap& b) { b["rotary_dim"] = le_bytes(7u); }, {"rotary_dim % 2 == 0"});
    expect_bad([](mt::BufferMap& b) { b["rotary_dim"] = le_bytes(18u); },
               {"rotary_dim <= head_dim"});
    expect_bad([](mt::BufferMap& b) { b["interleaved"] = le_bytes(2u); }, {"interleaved <= 1"});
    auto expect_len = [&](const std::function<void(mt::BufferMap&)>& spoil,
                          const std::string& param, const std::string& expected, std::size_t got) {
      mt::BufferMap b = good;
      spoil(b);
      mt::test::expect_length_error(
          mt::test::error_of([&] { mt::kernels::run(ctx, "rope", t, b); }), "rope", param, expected,
          got);
    };
    expect_len([](mt::BufferMap& b) { b["inv_freq"] = mt::test::poisoned(5, DType::F32); },
               "inv_freq", "4", 5);
    // A third position: x (2 tokens x 3 heads x 16) is the buffer that no longer fits.
    expect_len(
        [](mt::BufferMap& b) {
          b["positions"] = mt::test::pack_u32(std::vector<std::uint32_t>{1, 2, 3});
        },
        "x", "144", 96);
    expect_len([&](mt::BufferMap& b) { b["out"] = mt::test::poisoned(95, t); }, "out", "96", 95);
    check(mt::kernels::run(ctx, "rope", t, good), s, t, in);
  });
}

}  // namespace
