// Non-finite values in the KV-cache kernels, on every backend and dtype, bit for bit against
// kv_cache_oracle.hpp: finite tokens at the edges of T's range (spanning +-3e38, or +-65504 in
// f16) quantise and dequantise to finite values; a group holding NaN or inf dequantises to NaN
// throughout (its scale is NaN) while the other groups stay exact; dequantisation of finite
// parameters saturates at +-max(T) instead of rounding to inf.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/ffai/kv_cache_oracle.hpp"
#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
using mt::test::Bytes;
using mt::test::le_bytes;
using mt::test::kv::CacheShape;
namespace oracle = mt::test::kv;

const CacheShape kShape{2, 64, 3, 32};  // 4 groups a token
constexpr std::uint32_t kPosition = 1;
constexpr std::array<std::size_t, 3> kGrid{8, 1, 1}, kTpg{64, 1, 1};
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

struct Quantised {
  std::vector<std::uint32_t> words;
  Bytes scales, biases;  // biases empty for fp8
};

// Quantises `src` (one token, T-rounded) with kernel `k` into slot kPosition of a cache whose
// other slots hold 0 codes and unit parameters, checks codes, scales (and biases) bit for bit
// against the oracle, and returns the quantised cache.
Quantised quantise(const mt::Context& ctx, const mt::Kernel& k, DType t,
                   const std::vector<float>& src, std::uint32_t bits,
                   const oracle::Fp8Format* fp8) {
  const CacheShape& s = kShape;
  Quantised q{std::vector<std::uint32_t>(s.word_elements(bits), 0),
              mt::test::pack(std::vector<float>(s.param_elements(), 1.0f), t),
              fp8 ? Bytes{} : mt::test::pack(std::vector<float>(s.param_elements(), 0.0f), t)};
  mt::BufferMap b;
  b["src"] = mt::test::pack(src, t);
  b["out_w"] = mt::test::pack_u32(q.words);
  b["out_s"] = q.scales;
  if (!fp8) b["out_b"] = q.biases;
  b["head_dim"] = le_bytes(s.head_dim);
  b["max_seq"] = le_bytes(s.max_seq);
  b["group_size"] = le_bytes(s.group_size);
  b["position"] = le_bytes(kPosition);
  const mt::DispatchResult r = ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg);
  if (fp8) {
    oracle::quantize_fp8(s, *fp8, t, src, kPosition, q.words, q.scales);
  } else {
    oracle::quantize_affine(s, bits, t, src, kPosition, q.words, q.scales, q.biases);
  }
  oracle::expect_same_words(r.outputs.at("out_w"), q.words, "out_w");
  oracle::expect_same_bits(r.outputs.at("out_s"), q.scales, t, "out_s");
  if (!fp8) oracle::expect_same_bits(r.outputs.at("out_b"), q.biases, t, "out_b");
  return q;
}

// Dequantises the whole cache with kernel `k`, checks it bit for bit against the oracle and
// returns slot kPosition of every head, [n_kv_heads, head_dim].
std::vector<float> dequantise(const mt::Context& ctx, const mt::Kernel& k, DType t,
                              const Quantised& q, std::uint32_t bits,
                              const oracle::Fp8Format* fp8) {
  const CacheShape& s = kShape;
  mt::BufferMap b;
  b["in_w"] = mt::test::pack_u32(q.words);
  b["in_s"] = q.scales;
  if (!fp8) b["in_b"] = q.biases;
  b["out"] = mt::test::poisoned(s.raw_elements(), t);
  b["head_dim"] = le_bytes(s.head_dim);
  b["max_seq"] = le_bytes(s.max_seq);
  b["group_size"] = le_bytes(s.group_size);
  b["n_positions"] = le_bytes(s.max_seq);
  const mt::DispatchResult r = ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg);
  Bytes expected = b["out"];
  if (fp8) {
    oracle::dequant_fp8(s, *fp8, t, s.max_seq, q.words, q.scales, expected);
  } else {
    oracle::dequant_affine(s, bits, t, s.max_seq, q.words, q.scales, q.biases, expected);
  }
  oracle::expect_same_bits(r.outputs.at("out"), expected, t, "out");
  const std::vector<float> out = mt::test::unpack(r.outputs.at("out"), t);
  std::vector<float> token;
  for (std::size_t h = 0; h < s.n_kv_heads; ++h) {
    for (std::size_t d = 0; d < s.head_dim; ++d) {
      token.push_back(out[oracle::raw_index(s, h, kPosition, d)]);
    }
  }
  return token;
}

struct Pair {
  const char* quantise;
  const char* dequant;
  std::uint32_t bits;
  const oracle::Fp8Format* fp8;
};
const Pair kPairs[] = {
    {"quantize_kv_int4", "bulk_dequant_kv_int4", 4, nullptr},
    {"quantize_kv_int4", "bulk_dequant_kv_int4_x8", 4, nullptr},
    {"quantize_kv_int8", "bulk_dequant_kv_int8", 8, nullptr},
    {"quantize_kv_int8", "bulk_dequant_kv_int8_x8", 8, nullptr},
    {"quantize_kv_fp8_e4m3", "bulk_dequant_kv_fp8_e4m3", 8, &oracle::kE4M3},
    {"quantize_kv_fp8_e5m2", "bulk_dequant_kv_fp8_e5m2", 8, &oracle::kE5M2},
};

// The largest finite value of t.
float max_of(DType t) {
  return t == DType::F16    ? 65504.0f
         : t == DType::BF16 ? std::bit_cast<float>(0x7F7F0000u)
                            : std::numeric_limits<float>::max();
}

// Runs fn(ctx, t, pair, quantiser, dequantiser) for every backend, dtype and kernel pair.
template <class F>
void for_each_pair(F fn) {
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      for (const Pair& p : kPairs) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + p.quantise + " -> " + p.dequant);
        fn(ctx, t, p, mt::find_kernel(p.quantise)->build(t), mt::find_kernel(p.dequant)->build(t));
      }
    }
  });
}

// The cases: f32 data spanning +-3e38 (the spread overflowed, dequantising to NaN) and
// an f16 group spanning +-65504 (returned +inf). Every group of the token spans most of T's
// range; each dequantised value is finite and has the input's sign at the extremes.
TEST(KvCacheNonFinite, FiniteTokensAtTheEdgesOfTheRangeStayFinite) {
  for_each_pair([](mt::Context& ctx, DType t, const Pair& p, const mt::Kernel& quantiser,
                   const mt::Kernel& dequantiser) {
    const float top = mt::round_to(t, t == DType::F16 ? 65504.0f : 0.9f * max_of(t));
    // Uniform in [-1, 1) scaled by top (a range of +-top would overflow the generator).
    std::vector<float> src = oracle::random_values(kShape.token_elements(), 7, DType::F32, -1, 1);
    for (float& v : src) v = mt::round_to(t, v * top);
    for (std::size_t g = 0; g < kShape.token_groups(); ++g) {
      src[g * kShape.group_size] = top;
      src[g * kShape.group_size + 1] = -top;
    }
    const Quantised q = quantise(ctx, quantiser, t, src, p.bits, p.fp8);
    const std::vector<float> token = dequantise(ctx, dequantiser, t, q, p.bits, p.fp8);
    for (std::size_t i = 0; i < token.size(); ++i) {
      ASSERT_TRUE(std::isfinite(token[i])) << "[" << i << "] " << src[i] << " -> " << token[i];
    }
    for (std::size_t g = 0; g < kShape.token_groups(); ++g) {
      EXPECT_GT(token[g * kShape.group_size], 0.0f) << "group " << g;
      EXPECT_LT(token[g * kShape.group_size + 1], 0.0f) << "group " << g;
    }
  });
}

// A NaN or an inf in a group: the whole group dequantises to NaN, the other groups are exact.
TEST(KvCacheNonFinite, AGroupHoldingNaNOrInfDequantisesToNaN) {
  for_each_pair([](mt::Context& ctx, DType t, const Pair& p, const mt::Kernel& quantiser,
                   const mt::Kernel& dequantiser) {
    std::vector<float> src = oracle::random_values(kShape.token_elements(), 9, t);
    const std::size_t g = kShape.group_size;
    src[0 * g + 5] = kNaN;    // group 0: one NaN
    src[1 * g + 0] = kInf;    // group 1: +inf first
    src[2 * g + 31] = -kInf;  // group 2: -inf last; group 3 finite
    const Quantised q = quantise(ctx, quantiser, t, src, p.bits, p.fp8);
    const std::vector<float> token = dequantise(ctx, dequantiser, t, q, p.bits, p.fp8);
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (i < 3 * g) {
        EXPECT_TRUE(std::isnan(token[i])) << "[" << i << "] = " << token[i];
      } else {
        EXPECT_TRUE(std::isfinite(token[i])) << "[" << i << "] = " << token[i];
      }
    }
  });
}

}  // namespace
