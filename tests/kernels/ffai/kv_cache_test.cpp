// Oracle tests of every KV-cache kernel x {f32, f16, bf16} on every backend: bit-exact
// updates, codes, scales, biases and dequantised caches against kv_cache_oracle.hpp, fp8
// round-trip error bounds, precondition errors, and over-dispatched launches.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernels/ffai/kv_cache_buffers.hpp"
#include "kernels/ffai/kv_cache_oracle.hpp"
#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
using mt::test::Bytes;
using mt::test::le_bytes;
using mt::test::kv::CacheShape;
using mt::test::kv::Fp8Format;
namespace oracle = mt::test::kv;
namespace kv = mt::kernels::ffai::kv_cache;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
// head_dim 64/128, group_size 32/64/128, n_kv_heads 1/2/8; every shape has >= 2 groups a token.
constexpr CacheShape kShapes[] = {
    {1, 64, 8, 32}, {2, 128, 12, 64}, {8, 128, 6, 32}, {2, 64, 5, 64}, {2, 128, 4, 128}};

using Grid = std::array<std::size_t, 3>;

// Exact: one thread per work item where possible. Over: 64-thread groups with three more
// groups than needed, so threads past the work exist in every launch.
enum class Launch { Exact, Over };

struct Case {
  mt::Context* ctx;
  CacheShape shape;
  DType t;
  Launch launch;
  std::uint64_t seed;

  mt::DispatchResult run(const mt::Kernel& k, const mt::BufferMap& b, std::size_t work) const {
    Grid grid{1, 1, 1}, tpg{1, 1, 1};
    if (launch == Launch::Over) {
      grid[0] = work / 64 + 3;
      tpg[0] = 64;
    } else if (work <= 256) {
      tpg[0] = work;
    } else {
      tpg[0] = 256;
      grid[0] = (work + 255) / 256;
    }
    return ctx->dispatch_with_grid(k, b, {}, grid, tpg);
  }
};

void for_each_case(const std::function<void(const Case&)>& fn) {
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (std::size_t ti = 0; ti < std::size(kDTypes); ++ti) {
      for (std::size_t si = 0; si < std::size(kShapes); ++si) {
        for (Launch launch : {Launch::Exact, Launch::Over}) {
          const Case c{&ctx, kShapes[si], kDTypes[ti], launch, 0x5EED0000u + 97 * si + 7 * ti};
          SCOPED_TRACE(std::string(mt::name_of(c.t)) + " " + c.shape.text() +
                       (launch == Launch::Over ? " over-dispatched" : " exact grid"));
          fn(c);
        }
      }
    }
  });
}

void expect_length(const mt::DispatchResult& r, const std::string& name, std::size_t bytes) {
  ASSERT_EQ(r.outputs.count(name), 1u) << name << " not returned";
  EXPECT_EQ(r.outputs.at(name).size(), bytes) << name << " length";
}

// Where the scale of a token's group g (counted over all heads) lands for slot `position`.
std::size_t param_index(const CacheShape& s, std::uint32_t position, std::size_t g) {
  const std::size_t h = g / s.groups_per_slot();
  return (h * s.max_seq + position) * s.groups_per_slot() + g % s.groups_per_slot();
}

void put_quant_scalars(mt::BufferMap& b, const CacheShape& s) {
  b["head_dim"] = le_bytes(s.head_dim);
  b["max_seq"] = le_bytes(s.max_seq);
  b["group_size"] = le_bytes(s.group_size);
}

// Overwrites whole groups of a token with edge cases: every value equal (int spread 0 ->
// scale 1), all zero (fp8 amax 0 -> scale 0), and for fp8 the format's exact ties.
void set_group(std::vector<float>& src, const CacheShape& s, std::size_t g,
               const std::vector<float>& values, DType t) {
  if (g >= s.token_groups()) return;
  for (std::size_t i = 0; i < values.size() && i < s.group_size; ++i) {
    src[g * s.group_size + i] = mt::round_to(t, values[i]);
  }
}

std::vector<float> affine_source(const Case& c) {
  const CacheShape& s = c.shape;
  std::vector<float> src = oracle::random_values(s.token_elements(), c.seed, c.t);
  set_group(src, s, 0, std::vector<float>(s.group_size, 0.7f), c.t);
  set_group(src, s, s.token_groups() - 1, std::vector<float>(s.group_size, -1.25f), c.t);
  return src;
}

// ---- kv_cache_update / kv_cache_update_many ------------------------------------------------

TEST(KvCacheUpdate, CopiesOneTokenBitExactAndNothingElse) {
  for_each_case([](const Case& c) {
    const CacheShape& s = c.shape;
    const mt::Kernel k = kv::kv_cache_update::kernel_ir_for(c.t);
    std::vector<float> values = oracle::random_values(s.token_elements(), c.seed, c.t);
    // Values a copy through f32 could alter: -0, the smallest subnormal, the largest finite.
    const float tiny = c.t == DType::F32   ? std::numeric_limits<float>::denorm_min()
                       : c.t == DType::F16 ? std::ldexp(1.0f, -24)
                                           : std::ldexp(1.0f, -133);
    const float huge = c.t == DType::F32   ? std::numeric_limits<float>::max()
                       : c.t == DType::F16 ? 65504.0f
                                           : std::bit_cast<float>(0x7F7F0000u);
    values[1] = -0.0f;
    values[2] = tiny;
    values[3] = -huge;
    const Bytes src = mt::test::pack(values, c.t);
    for (std::uint32_t position : {0u, s.max_seq - 1, s.max_seq / 2}) {
      mt::BufferMap b;
      b["src"] = src;
      b["out"] = oracle::sentinel(s.raw_elements(), c.t);
      b["head_dim"] = le_bytes(s.head_dim);
      b["max_seq"] = le_bytes(s.max_seq);
      b["position"] = le_bytes(position);
      Bytes expected = b["out"];
      oracle::update(s, c.t, src, position, expected);
      const mt::DispatchResult r = c.run(k, b, s.token_elements());
      expect_length(r, "out", expected.size());
      oracle::expect_same_bits(r.outputs.at("out"), expected, c.t,
                               "out, position " + std::to_string(position));
    }
  });
}

TEST(KvCacheUpdateMany, CopiesRowsToTheirPositionsAndSkipsPastTheCache) {
  for_each_case([](const Case& c) {
    const CacheShape& s = c.shape;
    const mt::Kernel k = kv::kv_cache_update_many::kernel_ir_for(c.t);
    // Distinct in-range positions in no particular order, plus two past the cache (skipped).
    const std::vector<std::uint32_t> positions = {s.max_seq - 1, 0u, s.max_seq, 2u, 0xFFFFFFFFu};
    const std::vector<float> values =
        oracle::random_values(positions.size() * s.token_elements(), c.seed, c.t);
    mt::BufferMap b;
    b["src"] = mt::test::pack(values, c.t);
    b["positions"] = mt::test::pack_u32(positions);
    b["out"] = oracle::sentinel(s.raw_elements(), c.t);
    b["head_dim"] = le_bytes(s.head_dim);
    b["max_seq"] = le_bytes(s.max_seq);
    b["n_kv_heads_x_head_dim"] = le_bytes(static_cast<std::uint32_t>(s.token_elements()));
    Bytes expected = b["out"];
    oracle::update_many(s, c.t, b["src"], positions, expected);
    const mt::DispatchResult r = c.run(k, b, values.size());
    expect_length(r, "out", expected.size());
    oracle::expect_same_bits(r.outputs.at("out"), expected, c.t, "out");
  });
}

// ---- affine int4 / int8 --------------------------------------------------------------------

template <class Quantize, std::uint32_t Bits>
void check_quantize_affine(const Case& c) {
  const CacheShape& s = c.shape;
  const mt::Kernel k = Quantize::kernel_ir_for(c.t);
  const std::vector<float> src = affine_source(c);
  const std::uint32_t position = static_cast<std::uint32_t>(c.seed % s.max_seq);
  mt::BufferMap b;
  b["src"] = mt::test::pack(src, c.t);
  b["out_w"] = mt::test::pack_u32(oracle::sentinel_words(s.word_elements(Bits)));
  b["out_s"] = oracle::sentinel(s.param_elements(), c.t, -3.0f);
  b["out_b"] = oracle::sentinel(s.param_elements(), c.t, -5.0f);
  put_quant_scalars(b, s);
  b["position"] = le_bytes(position);
  std::vector<std::uint32_t> words = oracle::sentinel_words(s.word_elements(Bits));
  Bytes scales = b["out_s"], biases = b["out_b"];
  oracle::quantize_affine(s, Bits, c.t, src, position, words, scales, biases);

  const mt::DispatchResult r = c.run(k, b, s.token_groups());
  expect_length(r, "out_w", words.size() * 4);
  expect_length(r, "out_s", scales.size());
  expect_length(r, "out_b", biases.size());
  oracle::expect_same_words(r.outputs.at("out_w"), words, "out_w (codes)");
  oracle::expect_same_bits(r.outputs.at("out_s"), scales, c.t, "out_s (scales)");
  oracle::expect_same_bits(r.outputs.at("out_b"), biases, c.t, "out_b (biases)");
  // The edge group of equal values: scale 1, bias the value, every code 0.
  EXPECT_EQ(oracle::element(scales, param_index(s, position, 0), c.t), 1.0f);
  EXPECT_EQ(oracle::element(biases, param_index(s, position, 0), c.t), mt::round_to(c.t, 0.7f));
}

TEST(KvCacheQuantizeInt4, CodesScalesBiasesMatchOracle) {
  for_each_case(check_quantize_affine<kv::quantize_kv_int4, 4>);
}

TEST(KvCacheQuantizeInt8, CodesScalesBiasesMatchOracle) {
  for_each_case(check_quantize_affine<kv::quantize_kv_int8, 8>);
}

// PerThread: elements each thread dequantises (1, or 8 for the _x8 variants).
template <class Dequant, std::uint32_t Bits, std::uint32_t PerThread = 1>
void check_dequant_affine(const Case& c) {
  const CacheShape& s = c.shape;
  const mt::Kernel k = Dequant::kernel_ir_for(c.t);
  // Every slot filled with arbitrary codes and plausible parameters; one position left out.
  oracle::Rng rng(c.seed);
  std::vector<std::uint32_t> words(s.word_elements(Bits));
  for (std::uint32_t& w : words) w = rng.next_u32();
  const Bytes scales =
      mt::test::pack(oracle::random_values(s.param_elements(), c.seed + 1, c.t, 0.001f, 0.3f), c.t);
  const Bytes biases =
      mt::test::pack(oracle::random_values(s.param_elements(), c.seed + 2, c.t), c.t);
  const std::uint32_t n_positions = s.max_seq - 1;
  mt::BufferMap b;
  b["in_w"] = mt::test::pack_u32(words);
  b["in_s"] = scales;
  b["in_b"] = biases;
  b["out"] = mt::test::poisoned(s.raw_elements(), c.t);
  put_quant_scalars(b, s);
  b["n_positions"] = le_bytes(n_positions);
  Bytes expected = b["out"];
  oracle::dequant_affine(s, Bits, c.t, n_positions, words, scales, biases, expected);

  const mt::DispatchResult r = c.run(k, b, s.n_kv_heads * n_positions * s.head_dim / PerThread);
  expect_length(r, "out", expected.size());
  // Positions >= n_positions keep their NaN poison; everything else must be finite and exact.
  oracle::expect_same_bits(r.outputs.at("out"), expected, c.t, "out");
  const std::vector<float> out = mt::test::unpack(r.outputs.at("out"), c.t);
  std::size_t finite = 0;
  for (float v : out) finite += std::isfinite(v) ? 1 : 0;
  EXPECT_EQ(finite, std::size_t{s.n_kv_heads} * n_positions * s.head_dim);
}

TEST(KvCacheDequantInt4, MatchesOracleExactly) {
  for_each_case(check_dequant_affine<kv::bulk_dequant_kv_int4, 4>);
}

TEST(KvCacheDequantInt8, MatchesOracleExactly) {
  for_each_case(check_dequant_affine<kv::bulk_dequant_kv_int8, 8>);
}

TEST(KvCacheDequantInt4x8, MatchesOracleExactly) {
  for_each_case(check_dequant_affine<kv::bulk_dequant_kv_int4_x8, 4, 8>);
}

TEST(KvCacheDequantInt8x8, MatchesOracleExactly) {
  for_each_case(check_dequant_affine<kv::bulk_dequant_kv_int8_x8, 8, 8>);
}

// ---- fp8 ------------------------------------------------------------------------------------

TEST(KvCacheFp8Reference, EncodesKnownValues) {
  const Fp8Format& e4 = oracle::kE4M3;
  const Fp8Format& e5 = oracle::kE5M2;
  const std::vector<std::pair<float, int>> e4m3 = {
      {0.0f, 0x00},    {-0.0f, 0x80},   {1.0f, 0x38},    {448.0f, 0x7E},    {-448.0f, 0xFE},
      {464.0f, 0x7E},  {1e30f, 0x7E},   {0x1p-9f, 0x01}, {0x1p-10f, 0x00},  {0x3p-10f, 0x02},
      {1.0625f, 0x38}, {1.1875f, 0x3A}, {0x1p-6f, 0x08}, {-0x1p-11f, 0x80}, {240.0f, 0x77}};
  for (const auto& [x, code] : e4m3) EXPECT_EQ(int(e4.encode(x)), code) << "e4m3 of " << x;
  const std::vector<std::pair<float, int>> e5m2 = {
      {0.0f, 0x00},     {1.0f, 0x3C},     {57344.0f, 0x7B}, {1e30f, 0x7B},  {-1e30f, 0xFB},
      {0x1p-16f, 0x01}, {0x1p-17f, 0x00}, {1.125f, 0x3C},   {1.375f, 0x3E}, {0x1p-14f, 0x04}};
  for (const auto& [x, code] : e5m2) EXPECT_EQ(int(e5.encode(x)), code) << "e5m2 of " << x;
  EXPECT_TRUE(std::isnan(e4.decode(0x7F)));
  EXPECT_TRUE(std::isnan(e5.decode(0x7C)));  // inf: not a finite code
  EXPECT_EQ(e4.decode(0x01), 0x1p-9);
  EXPECT_EQ(e5.decode(0x7B), 57344.0);
  // Every finite code decodes and re-encodes to itself.
  for (int code = 0; code < 256; ++code) {
    for (const Fp8Format* f : {&e4, &e5}) {
      if (!f->is_finite_code(std::uint8_t(code))) continue;
      EXPECT_EQ(int(f->encode(float(f->decode(std::uint8_t(code))))), code) << f->name;
    }
  }
}

// Random data plus groups of: exact ties of the format (amax = FP8_MAX * 2^k makes the scale
// 2^k, so value/scale is exact), all zeros (scale 0), one large value among tiny ones
// (subnormal codes and underflow), and -0.
std::vector<float> fp8_source(const Case& c, const Fp8Format& f) {
  const CacheShape& s = c.shape;
  std::vector<float> src = oracle::random_values(s.token_elements(), c.seed, c.t);
  const bool e4 = f.mantissa_bits == 3;
  const float k = e4 ? 1.0f : 0x1p-12f;
  const std::vector<float> ties_e4 = {448.0f,   1.0625f,   1.1875f,  -1.0625f, -1.1875f, 0x1p-10f,
                                      0x3p-10f, -0x3p-10f, 0x5p-10f, 17.0f,    19.0f,    232.0f};
  const std::vector<float> ties_e5 = {57344.0f,  1.125f,   1.375f, -1.125f, 0x1p-17f, 0x3p-17f,
                                      -0x3p-17f, 0x5p-17f, 18.0f,  22.0f,   -22.0f,   40960.0f};
  std::vector<float> ties = e4 ? ties_e4 : ties_e5;
  for (float& v : ties) v *= k;
  set_group(src, s, 0, ties, c.t);
  set_group(src, s, 1, std::vector<float>(s.group_size, 0.0f), c.t);
  oracle::Rng rng(c.seed ^ 0xABCDu);
  std::vector<float> tiny(s.group_size);
  for (float& v : tiny)
    v = (rng.next() & 1 ? -1.0f : 1.0f) * std::pow(10.0f, rng.uniform(-11.0f, -3.0f));
  tiny[3] = 1.5f;
  set_group(src, s, 2, tiny, c.t);
  if (s.token_groups() > 3) src[3 * s.group_size + 5] = -0.0f;
  return src;
}

template <class Quantize>
void check_quantize_fp8(const Case& c, const Fp8Format& f) {
  const CacheShape& s = c.shape;
  const mt::Kernel k = Quantize::kernel_ir_for(c.t);
  const std::vector<float> src = fp8_source(c, f);
  const std::uint32_t position = static_cast<std::uint32_t>((c.seed / 7) % s.max_seq);
  mt::BufferMap b;
  b["src"] = mt::test::pack(src, c.t);
  b["out_w"] = mt::test::pack_u32(oracle::sentinel_words(s.word_elements(8)));
  b["out_s"] = oracle::sentinel(s.param_elements(), c.t);
  put_quant_scalars(b, s);
  b["position"] = le_bytes(position);
  std::vector<std::uint32_t> words = oracle::sentinel_words(s.word_elements(8));
  Bytes scales = b["out_s"];
  oracle::quantize_fp8(s, f, c.t, src, position, words, scales);

  const mt::DispatchResult r = c.run(k, b, s.token_groups());
  expect_length(r, "out_w", words.size() * 4);
  expect_length(r, "out_s", scales.size());
  oracle::expect_same_words(r.outputs.at("out_w"), words, "out_w (fp8 codes)");
  oracle::expect_same_bits(r.outputs.at("out_s"), scales, c.t, "out_s (scales)");
  // The all-zero group (the token's group 1): scale 0.
  EXPECT_EQ(oracle::element(scales, param_index(s, position, 1), c.t), 0.0f);
}

TEST(KvCacheQuantizeFp8E4M3, CodesMatchOcpReferenceAndScalesExact) {
  for_each_case(
      [](const Case& c) { check_quantize_fp8<kv::quantize_kv_fp8_e4m3>(c, oracle::kE4M3); });
}

TEST(KvCacheQuantizeFp8E5M2, CodesMatchOcpReferenceAndScalesExact) {
  for_each_case(
      [](const Case& c) { check_quantize_fp8<kv::quantize_kv_fp8_e5m2>(c, oracle::kE5M2); });
}

template <class Dequant>
void check_dequant_fp8(const Case& c, const Fp8Format& f) {
  const CacheShape& s = c.shape;
  const mt::Kernel k = Dequant::kernel_ir_for(c.t);
  oracle::Rng rng(c.seed);
  std::vector<std::uint32_t> words(s.word_elements(8));
  for (std::uint32_t& w : words) {
    w = 0;
    for (int j = 0; j < 4; ++j) {
      std::uint8_t code = 0;
      do code = static_cast<std::uint8_t>(rng.next() >> 56);
      while (!f.is_finite_code(code));
      w |= std::uint32_t{code} << (8 * j);
    }
  }
  const float lo = f.mantissa_bits == 3 ? 1e-4f : 1e-6f;
  Bytes scales =
      mt::test::pack(oracle::random_values(s.param_elements(), c.seed + 1, c.t, lo, 100 * lo), c.t);
  oracle::set_element(scales, 1, 0.0f, c.t);  // an all-zero group's scale
  const std::uint32_t n_positions = s.max_seq - 1;
  mt::BufferMap b;
  b["in_w"] = mt::test::pack_u32(words);
  b["in_s"] = scales;
  b["out"] = mt::test::poisoned(s.raw_elements(), c.t);
  put_quant_scalars(b, s);
  b["n_positions"] = le_bytes(n_positions);
  Bytes expected = b["out"];
  oracle::dequant_fp8(s, f, c.t, n_positions, words, scales, expected);

  const mt::DispatchResult r = c.run(k, b, s.n_kv_heads * n_positions * s.head_dim);
  expect_length(r, "out", expected.size());
  oracle::expect_same_bits(r.outputs.at("out"), expected, c.t, "out");
  const std::vector<float> out = mt::test::unpack(r.outputs.at("out"), c.t);
  std::size_t finite = 0;
  for (float v : out) finite += std::isfinite(v) ? 1 : 0;
  EXPECT_EQ(finite, std::size_t{s.n_kv_heads} * n_positions * s.head_dim);
}

TEST(KvCacheDequantFp8E4M3, MatchesOracleExactly) {
  for_each_case(
      [](const Case& c) { check_dequant_fp8<kv::bulk_dequant_kv_fp8_e4m3>(c, oracle::kE4M3); });
}

TEST(KvCacheDequantFp8E5M2, MatchesOracleExactly) {
  for_each_case(
      [](const Case& c) { check_dequant_fp8<kv::bulk_dequant_kv_fp8_e5m2>(c, oracle::kE5M2); });
}

// Quantise one token with the kernel, dequantise with the kernel, and bound the error per
// element: rounding in fp8 (relative 2^-(m+1), or half a subnormal step times the scale),
// saturation where the stored scale s_t fell below amax/FP8_MAX (at most FP8_MAX*|s - s_t|),
// and the final rounding to T.
template <class Quantize, class Dequant>
void check_fp8_roundtrip(const Case& c, const Fp8Format& f) {
  const CacheShape& s = c.shape;
  const std::vector<float> src = fp8_source(c, f);
  const std::uint32_t position = s.max_seq - 1;
  mt::BufferMap q;
  q["src"] = mt::test::pack(src, c.t);
  q["out_w"] = mt::test::poisoned(s.word_elements(8), DType::U32);
  q["out_s"] = mt::test::poisoned(s.param_elements(), c.t);
  put_quant_scalars(q, s);
  q["position"] = le_bytes(position);
  const mt::DispatchResult qr = c.run(Quantize::kernel_ir_for(c.t), q, s.token_groups());
  mt::BufferMap d;
  d["in_w"] = qr.outputs.at("out_w");
  d["in_s"] = qr.outputs.at("out_s");
  d["out"] = mt::test::poisoned(s.raw_elements(), c.t);
  put_quant_scalars(d, s);
  d["n_positions"] = le_bytes(s.max_seq);
  const mt::DispatchResult dr =
      c.run(Dequant::kernel_ir_for(c.t), d, s.n_kv_heads * s.max_seq * s.head_dim);
  const std::vector<float> out = mt::test::unpack(dr.outputs.at("out"), c.t);
  ASSERT_EQ(out.size(), s.raw_elements());

  const double unit = c.t == DType::F32 ? 0x1p-24 : c.t == DType::F16 ? 0x1p-11 : 0x1p-8;
  const double t_min = c.t == DType::F16 ? 0x1p-24 : 0x1p-149;
  const double rel = std::ldexp(1.0, -(f.mantissa_bits + 1));
  const double half_sub = std::ldexp(1.0, -f.bias - f.mantissa_bits);  // half of 2^(1-bias-m)
  std::vector<float> actual, expected;
  std::vector<double> tolerance;
  for (std::size_t h = 0; h < s.n_kv_heads; ++h) {
    for (std::size_t g = 0; g < s.groups_per_slot(); ++g) {
      const std::size_t first = h * s.head_dim + g * s.group_size;
      float amax = 0.0f;
      for (std::size_t i = 0; i < s.group_size; ++i)
        amax = std::max(amax, std::fabs(src[first + i]));
      const double scale = amax / f.max_finite;
      const double stored = mt::round_to(c.t, static_cast<float>(scale));
      for (std::size_t i = 0; i < s.group_size; ++i) {
        const double v = src[first + i];
        const double tol = rel * std::fabs(v) + half_sub * stored +
                           f.max_finite * std::fabs(scale - stored) + 2 * unit * amax +
                           1e-6 * amax + t_min;
        actual.push_back(out[oracle::raw_index(s, h, position, g * s.group_size + i)]);
        expected.push_back(src[first + i]);
        tolerance.push_back(tol);
      }
    }
  }
  std::size_t bad = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double err = std::fabs(double(actual[i]) - double(expected[i]));
    if (std::isfinite(actual[i]) && err <= tolerance[i]) continue;
    if (++bad <= 10) {
      ADD_FAILURE() << f.name << " round trip [" << i << "] expected " << expected[i] << ", actual "
                    << actual[i] << ", tolerance " << tolerance[i];
    }
  }
  EXPECT_EQ(bad, 0u) << "elements outside the fp8 round-trip bound";
}

TEST(KvCacheFp8E4M3, RoundTripWithinBound) {
  for_each_case([](const Case& c) {
    check_fp8_roundtrip<kv::quantize_kv_fp8_e4m3, kv::bulk_dequant_kv_fp8_e4m3>(c, oracle::kE4M3);
  });
}

TEST(KvCacheFp8E5M2, RoundTripWithinBound) {
  for_each_case([](const Case& c) {
    check_fp8_roundtrip<kv::quantize_kv_fp8_e5m2, kv::bulk_dequant_kv_fp8_e5m2>(c, oracle::kE5M2);
  });
}

// ---- preconditions -------------------------------------------------------------------------

// A valid dispatch for `name` on a small cache, then `bad` applied to its buffers must fail
// with an mt::Error naming the kernel and `param`; the context stays usable afterwards.
struct Misuse {
  std::string param;
  std::function<void(mt::BufferMap&)> bad;
};

std::vector<Misuse> misuses(const std::string& name) {
  auto set = [](const char* key, std::uint32_t v) {
    return [key, v](mt::BufferMap& b) { b[key] = le_bytes(v); };
  };
  if (name == "kv_cache_update")
    return {{"position", set("position", 4)}, {"position", set("position", 99)}};
  if (name == "kv_cache_update_many")
    return {{"n_kv_heads_x_head_dim", set("n_kv_heads_x_head_dim", 96)}};
  std::vector<Misuse> m = {{"group_size", set("group_size", 48)}};  // 64 % 48 != 0
  if (name.starts_with("quantize"))
    m.push_back({"position", set("position", 4)});
  else
    m.push_back({"n_positions", set("n_positions", 5)});
  return m;
}

TEST(KvCachePreconditions, ViolationsRaiseErrorsNamingKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::size_t checked = 0;
    for (const mt::KernelInfo& info : mt::registered_kernels()) {
      if (info.family != "ffai::kv_cache") continue;
      for (DType t : kDTypes) {
        SCOPED_TRACE(info.name + " " + std::string(mt::name_of(t)));
        const mt::Kernel k = info.build(t);
        const mt::BufferMap good = oracle::valid_buffers(info.name, t, CacheShape{2, 64, 4, 32});
        const Grid grid{16, 1, 1}, tpg{64, 1, 1};  // covers every kernel's work
        for (const Misuse& m : misuses(info.name)) {
          mt::BufferMap b = good;
          m.bad(b);
          try {
            ctx.dispatch_with_grid(k, b, {}, grid, tpg);
            ADD_FAILURE() << "no error for a bad " << m.param;
          } catch (const mt::Error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("kernel '" + info.name + "'"), std::string::npos) << what;
            EXPECT_NE(what.find("param '"), std::string::npos) << what;
            EXPECT_NE(what.find(m.param), std::string::npos) << what;
          }
          ++checked;
        }
        // The context is still usable, and the valid buffers dispatch cleanly.
        EXPECT_NO_THROW(ctx.dispatch_with_grid(k, good, {}, grid, tpg));
      }
    }
    // update: 2 misuses, update_many: 1, and 2 each for the ten quantise/dequant kernels.
    EXPECT_EQ(checked, 3u * (2 + 1 + 10 * 2));
  });
}

}  // namespace
