// The sampling kernels' building blocks on every backend: Philox4x32-10 against the published
// known-answer vectors and a 64-bit host reference; the exp built from exactly rounded steps
// gives the same bits as the same steps on the host (so every backend agrees) and stays within
// 2.5e-7 of e^d; order keys rank floats as their values do (NaN lowest, -0 = +0) and invert.
#include "../../../kernels/ffai/sampling_math.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../../../kernels/ffai/sampling_mass.hpp"
#include "../../../kernels/ffai/sampling_params.hpp"
#include "kernels/ffai/sampling_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
namespace s = mt::kernels::ffai::sampling;

// in: counters (4 words) and keys (2 words) per case; out: 4 words per case.
mt::Kernel philox_kernel() {
  return mt::trace("philox_test", mt::KernelMode::Grid3D, [](mt::KernelBuilder& k) {
    mt::Tensor counters = k.input("counters", DType::U32), keys = k.input("keys", DType::U32);
    mt::Tensor out = k.output("out", DType::U32);
    mt::Val i = mt::program_id(0);
    mt::if_(i < keys.len() / 2u, [&] {
      auto r = s::philox4x32_10(
          {counters[i * 4u], counters[i * 4u + 1u], counters[i * 4u + 2u], counters[i * 4u + 3u]},
          keys[i * 2u], keys[i * 2u + 1u]);
      for (std::uint32_t w = 0; w < 4; ++w) out[i * 4u + w] = r[w];
    });
  });
}

TEST(SamplingMath, PhiloxMatchesKnownAnswersAndTheHostReference) {
  // Random123's known-answer vectors for philox4x32, 10 rounds.
  struct Known {
    std::array<std::uint32_t, 4> counter;
    std::array<std::uint32_t, 2> key;
    std::array<std::uint32_t, 4> expected;
  };
  const std::vector<Known> known = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
       {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}};
  std::vector<std::uint32_t> counters, keys, expected;
  for (const Known& k : known) {
    EXPECT_EQ(mt::test::sampling::philox(k.counter, k.key[0], k.key[1]), k.expected);
    counters.insert(counters.end(), k.counter.begin(), k.counter.end());
    keys.insert(keys.end(), k.key.begin(), k.key.end());
    expected.insert(expected.end(), k.expected.begin(), k.expected.end());
  }
  mt::test::rows::Rng rng(99);
  for (int i = 0; i < 61; ++i) {
    std::array<std::uint32_t, 4> c;
    for (auto& w : c) w = static_cast<std::uint32_t>(rng.next());
    const std::uint32_t k0 = static_cast<std::uint32_t>(rng.next());
    const std::uint32_t k1 = static_cast<std::uint32_t>(rng.next());
    counters.insert(counters.end(), c.begin(), c.end());
    keys.push_back(k0);
    keys.push_back(k1);
    const auto r = mt::test::sampling::philox(c, k0, k1);
    expected.insert(expected.end(), r.begin(), r.end());
  }
  const mt::Kernel k = philox_kernel();
  mt::test::for_each_backend([&](mt::Context& ctx) {
    mt::BufferMap b;
    b["counters"] = mt::test::pack_u32(counters);
    b["keys"] = mt::test::pack_u32(keys);
    b["out"] = mt::test::poisoned(expected.size(), DType::U32);
    const mt::DispatchResult r = ctx.dispatch_with_grid(k, b, {}, {1, 1, 1}, {64, 1, 1});
    mt::test::expect_equal(mt::test::unpack_u32(r.outputs.at("out")), expected, "philox");
  });
}

TEST(SamplingMath, ExpIsTheSameBitsEverywhereAndAccurate) {
  std::vector<float> d = {0.0f,         -0.0f,
                          -1e-8f,       -0.5f,
                          -0.34657359f, -1.0f,
                          -2.0f,        -10.0f,
                          -80.0f,       -86.99f,
                          -87.0f,       -87.5f,
                          -200.0f,      -std::numeric_limits<float>::infinity()};
  mt::test::rows::Rng rng(5);
  for (int i = 0; i < 500; ++i) d.push_back(rng.uniform(-90.0f, 0.0f));
  std::vector<float> expected;
  for (float v : d) {
    const float e = mt::test::sampling::exp_nonpositive(v);
    expected.push_back(e);
    if (v >= -87.0f) {
      EXPECT_NEAR(e, std::exp(double(v)), 2.5e-7 * std::exp(double(v))) << "d = " << v;
    } else {
      EXPECT_EQ(e, 0.0f) << "d = " << v;
    }
  }
  EXPECT_EQ(expected[0], 1.0f);
  const mt::Kernel k = mt::trace("exp_test", mt::KernelMode::Grid3D, [](mt::KernelBuilder& kb) {
    mt::Tensor x = kb.input("x", DType::F32), out = kb.output("out", DType::F32);
    mt::Val i = mt::program_id(0);
    mt::if_(i < x.len(), [&] { out[i] = s::exp_nonpositive(x[i]); });
  });
  mt::test::for_each_backend([&](mt::Context& ctx) {
    mt::BufferMap b;
    b["x"] = mt::test::pack(d, DType::F32);
    b["out"] = mt::test::poisoned(d.size(), DType::F32);
    const mt::DispatchResult r = ctx.dispatch_with_grid(k, b, {}, {9, 1, 1}, {64, 1, 1});
    EXPECT_EQ(r.outputs.at("out"), mt::test::pack(expected, DType::F32)) << "bit for bit";
  });
}

TEST(SamplingMath, OrderKeysRankLikeTheValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> ascending = {-inf,   -3e38f, -2.0f, -1.0f, -1e-40f, 0.0f,
                                        1e-40f, 0.5f,   1.0f,  3e38f, inf};
  std::vector<float> values = ascending;
  values.push_back(-0.0f);
  values.push_back(std::nanf(""));
  values.push_back(-std::nanf(""));
  const mt::Kernel k = mt::trace("keys_test", mt::KernelMode::Grid3D, [](mt::KernelBuilder& kb) {
    mt::Tensor x = kb.input("x", DType::F32);
    mt::Tensor keys = kb.output("keys", DType::U32), back = kb.output("back", DType::F32);
    mt::Val i = mt::program_id(0);
    mt::if_(i < x.len(), [&] {
      mt::Val key = s::order_key(x[i]);
      keys[i] = key;
      back[i] = s::key_value(key);
    });
  });
  mt::test::for_each_backend([&](mt::Context& ctx) {
    mt::BufferMap b;
    b["x"] = mt::test::pack(values, DType::F32);
    b["keys"] = mt::test::poisoned(values.size(), DType::U32);
    b["back"] = mt::test::poisoned(values.size(), DType::F32);
    const mt::DispatchResult r = ctx.dispatch_with_grid(k, b, {}, {1, 1, 1}, {32, 1, 1});
    const std::vector<std::uint32_t> keys = mt::test::unpack_u32(r.outputs.at("keys"));
    const std::vector<float> back = mt::test::unpack(r.outputs.at("back"), DType::F32);
    for (std::size_t i = 0; i + 1 < ascending.size(); ++i) {
      EXPECT_LT(keys[i], keys[i + 1]) << ascending[i] << " < " << ascending[i + 1];
      EXPECT_EQ(back[i], ascending[i]);
    }
    EXPECT_EQ(keys[ascending.size()], keys[5]) << "-0 ranks as +0";
    EXPECT_EQ(keys[ascending.size() + 1], 0u) << "NaN ranks lowest";
    EXPECT_EQ(keys[ascending.size() + 2], 0u) << "NaN ranks lowest";
    EXPECT_GT(keys[0], 0u) << "-inf ranks above NaN";
  });
}

// The exact integer helpers of the masses against 128-bit host arithmetic: the 64-bit product
// of two u32, floor and ceiling of a * q / 2^s (s = 31, 24), the least n with n * w >= r, and
// the fixed-point weight floor(w * 2^31).
TEST(SamplingMath, WideProductsShiftsAndDivisionsAreExact) {
  using U128 = mt::test::sampling::U128;
  mt::test::rows::Rng rng(17);
  std::vector<std::uint32_t> in;  // a.lo, a.hi, q, w per case
  auto word = [&] { return static_cast<std::uint32_t>(rng.next()); };
  for (int i = 0; i < 200; ++i) {
    const std::uint32_t hi = i % 4 == 0 ? 0 : word() >> (i % 3 == 0 ? 1 : 9);
    in.insert(in.end(), {word(), hi, i % 5 == 0 ? 0x80000000u : word() >> 1, 1 + (word() >> 1)});
  }
  in.insert(in.end(), {0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u, 0x80000000u});  // the largest
  in.insert(in.end(), {1, 0, 1, 1});
  const std::size_t n = in.size() / 4;
  std::vector<std::uint32_t> expected;
  for (std::size_t c = 0; c < n; ++c) {
    const std::uint64_t a = (std::uint64_t{in[4 * c + 1]} << 32) | in[4 * c];
    const std::uint32_t q = in[4 * c + 2], w = in[4 * c + 3];
    const U128 p = U128{a} * q;
    const std::uint64_t product = std::uint64_t{in[4 * c]} * w;
    const std::uint64_t floor31 = static_cast<std::uint64_t>(p >> 31);
    const std::uint64_t ceil31 = static_cast<std::uint64_t>((p + (U128{1} << 31) - 1) >> 31);
    const std::uint64_t floor24 = static_cast<std::uint64_t>((U128{a} * (q >> 8)) >> 24);
    // r = min(a, w * (2^32 - 1)) keeps the answer below 2^32; the least n with n * w >= r.
    const std::uint64_t r = std::max<std::uint64_t>(1, std::min(a, (std::uint64_t{w} << 32) - w));
    const std::uint64_t least = (r + w - 1) / w;
    for (std::uint64_t v : {product, floor31, ceil31, floor24, r}) {
      expected.push_back(static_cast<std::uint32_t>(v));
      expected.push_back(static_cast<std::uint32_t>(v >> 32));
    }
    expected.push_back(static_cast<std::uint32_t>(least));
  }
  const mt::Kernel k = mt::trace("wide_test", mt::KernelMode::Grid3D, [](mt::KernelBuilder& kb) {
    mt::Tensor x = kb.input("x", DType::U32), out = kb.output("out", DType::U32);
    mt::Val c = mt::program_id(0);
    mt::if_(c < x.len() / 4u, [&] {
      const s::Wide a{x[c * 4u], x[c * 4u + 1u]};
      mt::Val q = x[c * 4u + 2u], w = x[c * 4u + 3u];
      // r = max(1, min(a, w * (2^32 - 1))), as on the host.
      const s::Wide cap{mt::u32(0) - w, w - 1u};
      s::Wide r = s::select(cap < a, cap, a);
      r = s::select(r.lo == 0u && r.hi == 0u, s::wide(mt::u32(1)), r);
      const s::Wide results[] = {s::mul_wide(a.lo, w), s::mul_shift(a, q, 31, false),
                                 s::mul_shift(a, q, 31, true), s::mul_shift(a, q >> 8u, 24, false),
                                 r};
      mt::Val at = c * 11u;
      for (std::uint32_t i = 0; i < 5; ++i) {
        out[at + 2 * i] = results[i].lo;
        out[at + 2 * i + 1] = results[i].hi;
      }
      out[at + 10u] = s::ceil_div(r, w);
    });
  });
  mt::test::for_each_backend([&](mt::Context& ctx) {
    mt::BufferMap b;
    b["x"] = mt::test::pack_u32(in);
    b["out"] = mt::test::poisoned(expected.size(), DType::U32);
    const mt::DispatchResult r = ctx.dispatch_with_grid(k, b, {}, {4, 1, 1}, {64, 1, 1});
    mt::test::expect_equal(mt::test::unpack_u32(r.outputs.at("out")), expected, "wide");
  });
}

TEST(SamplingMath, FixedPointWeightTruncates) {
  const std::vector<float> w = {1.0f,        0.5f,        0.9999999f, 1e-3f,
                                4.6567e-10f, 4.6566e-10f, 1e-20f,     0.0f};
  std::vector<std::uint32_t> expected;
  for (float v : w) expected.push_back(static_cast<std::uint32_t>(double(v) * 2147483648.0));
  EXPECT_EQ(expected[0], 0x80000000u);
  EXPECT_EQ(expected[1], 0x40000000u);
  EXPECT_EQ(expected[4], 1u);
  EXPECT_EQ(expected[5], 0u) << "below 2^-31: weight 0";
  const mt::Kernel k = mt::trace("fixed_test", mt::KernelMode::Grid3D, [](mt::KernelBuilder& kb) {
    mt::Tensor x = kb.input("x", DType::F32), out = kb.output("out", DType::U32);
    mt::Val i = mt::program_id(0);
    mt::if_(i < x.len(), [&] { out[i] = s::fixed_weight(x[i]); });
  });
  mt::test::for_each_backend([&](mt::Context& ctx) {
    mt::BufferMap b;
    b["x"] = mt::test::pack(w, DType::F32);
    b["out"] = mt::test::poisoned(w.size(), DType::U32);
    const mt::DispatchResult r = ctx.dispatch_with_grid(k, b, {}, {1, 1, 1}, {32, 1, 1});
    EXPECT_EQ(mt::test::unpack_u32(r.outputs.at("out")), expected);
  });
}

// Which requests take the two-kernel path, and its sizes.
TEST(SamplingPlan, TwoKernelPathSizes) {
  const s::CandidatePlan llama = s::candidate_plan(128256, 50, 1.0f);
  EXPECT_TRUE(llama.fits);
  EXPECT_EQ(llama.keep, 64u);
  EXPECT_EQ(llama.slices, 501u);
  EXPECT_EQ(llama.reports, 4u);
  EXPECT_EQ(llama.group_slices, 8u);
  EXPECT_EQ(llama.groups, 63u);
  EXPECT_EQ(llama.run, 32u);  // 63 runs of 32 (64 padded: 2048 entries) to merge
  EXPECT_TRUE(s::candidate_plan(128256, 128, 0.7f).fits);
  EXPECT_EQ(s::candidate_plan(128256, 128, 0.7f).reports, 8u);
  EXPECT_FALSE(s::candidate_plan(128256, 129, 0.7f).fits) << "top_k > 128: one kernel";
  EXPECT_FALSE(s::candidate_plan(128256, 0, 0.7f).fits) << "top_k off: one kernel";
  const s::CandidatePlan greedy = s::candidate_plan(128256, 0, 0.0f);
  EXPECT_TRUE(greedy.fits);
  EXPECT_EQ(greedy.keep, 1u);
  EXPECT_EQ(greedy.reports, 1u);
  EXPECT_TRUE(s::candidate_plan(262144, 64, 1.0f).fits);
  EXPECT_FALSE(s::candidate_plan(262144, 128, 1.0f).fits) << "the runs would not fit";
  EXPECT_FALSE(s::candidate_plan(151936, 128, 1.0f).fits);
  EXPECT_TRUE(s::candidate_plan(151936, 64, 1.0f).fits);
  // Small vocabularies: enough reports that their count reaches keep.
  const s::CandidatePlan tiny = s::candidate_plan(48, 20, 1.0f);
  EXPECT_TRUE(tiny.fits);
  EXPECT_EQ(tiny.slices, 1u);
  EXPECT_EQ(tiny.reports, 32u);
  EXPECT_EQ(tiny.group_slices, 1u);
  EXPECT_EQ(tiny.run, 32u);
  EXPECT_FALSE(s::candidate_plan(300000, 50, 1.0f).fits) << "more than 1024 slices";
}

}  // namespace
