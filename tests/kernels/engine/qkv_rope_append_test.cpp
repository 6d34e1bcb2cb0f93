// qkv_rope_append x {f32, f16, bf16} on every backend against an f64 oracle: bias on and off,
// Qwen3's q/k norm on and off, several tokens at scattered positions, GQA head counts, head
// dims 16..256; the caches start with known values and only the written slots may change. A
// position past the cache and each length contract are mt::Errors naming kernel and buffer.
// qkv_rope_append_<format> (int4, int8, fp8 e4m3 and e5m2): the same q bit for bit, and caches
// holding bit for bit what the KV-cache oracle's quantiser makes of the rows qkv_rope_append
// stores, every other slot unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/ffai/kv_cache_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/engine/decoder.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

struct Case {
  std::uint32_t q_heads, kv_heads, head_dim, max_seq;
  std::vector<std::uint32_t> positions;
  bool bias, qk_norm;
  std::string text() const {
    return "Hq" + std::to_string(q_heads) + " Hkv" + std::to_string(kv_heads) + " D" +
           std::to_string(head_dim) + " S" + std::to_string(max_seq) + " T" +
           std::to_string(positions.size()) + (bias ? " bias" : "") + (qk_norm ? " qk_norm" : "");
  }
  std::size_t row() const { return std::size_t(q_heads + 2 * kv_heads) * head_dim; }
  std::size_t cache() const { return std::size_t(kv_heads) * max_seq * head_dim; }
};

struct Inputs {
  std::vector<float> qkv, bias, q_norm, k_norm, inv_freq, k_cache, v_cache;
};

constexpr float kEps = 1e-6f;

Inputs inputs(const Case& c, DType t, std::uint64_t seed) {
  using mt::test::rows::random_values;
  Inputs in;
  in.qkv = random_values(c.positions.size() * c.row(), seed, t, -2.0f, 2.0f);
  in.bias = c.bias ? random_values(c.row(), seed + 1, t, -0.5f, 0.5f) : std::vector<float>{};
  in.q_norm = c.qk_norm ? random_values(c.head_dim, seed + 2, t, 0.5f, 1.5f) : std::vector<float>{};
  in.k_norm = c.qk_norm ? random_values(c.head_dim, seed + 3, t, 0.5f, 1.5f) : std::vector<float>{};
  for (std::uint32_t i = 0; i < c.head_dim / 2; ++i) {
    in.inv_freq.push_back(float(std::pow(10000.0, -2.0 * i / c.head_dim)));
  }
  in.k_cache = random_values(c.cache(), seed + 4, t, -1.0f, 1.0f);
  in.v_cache = random_values(c.cache(), seed + 5, t, -1.0f, 1.0f);
  return in;
}

struct Outputs {
  std::vector<float> q, k_cache, v_cache;
};

// f64 evaluation of the formula in kernels/engine/qkv_rope_append.cpp.
Outputs oracle(const Case& c, const Inputs& in) {
  Outputs out{std::vector<float>(c.positions.size() * c.q_heads * c.head_dim), in.k_cache,
              in.v_cache};
  const std::uint32_t d = c.head_dim, half = d / 2, heads = c.q_heads + 2 * c.kv_heads;
  for (std::size_t t = 0; t < c.positions.size(); ++t) {
    for (std::uint32_t h = 0; h < heads; ++h) {
      std::vector<double> x(d);
      for (std::uint32_t i = 0; i < d; ++i) {
        x[i] = in.qkv[t * c.row() + h * d + i] + (c.bias ? in.bias[h * d + i] : 0.0);
      }
      const bool is_q = h < c.q_heads, is_v = h >= c.q_heads + c.kv_heads;
      if (c.qk_norm && !is_v) {
        double ss = 0;
        for (double v : x) ss += v * v;
        const double r = 1.0 / std::sqrt(ss / d + kEps);
        for (std::uint32_t i = 0; i < d; ++i) x[i] *= r * (is_q ? in.q_norm[i] : in.k_norm[i]);
      }
      if (!is_v) {
        std::vector<double> y(d);
        for (std::uint32_t i = 0; i < half; ++i) {
          const double theta = double(float(c.positions[t]) * in.inv_freq[i]);
          y[i] = x[i] * std::cos(theta) - x[i + half] * std::sin(theta);
          y[i + half] = x[i + half] * std::cos(theta) + x[i] * std::sin(theta);
        }
        x = y;
      }
      for (std::uint32_t i = 0; i < d; ++i) {
        if (is_q) {
          out.q[(t * c.q_heads + h) * d + i] = float(x[i]);
        } else {
          const std::uint32_t kvh = is_v ? h - c.q_heads - c.kv_heads : h - c.q_heads;
          std::vector<float>& cache = is_v ? out.v_cache : out.k_cache;
          cache[(std::size_t(kvh) * c.max_seq + c.positions[t]) * d + i] = float(x[i]);
        }
      }
    }
  }
  return out;
}

mt::BufferMap buffers(const Case& c, const Inputs& in, DType t) {
  using mt::test::pack;
  mt::BufferMap b;
  b["qkv"] = pack(in.qkv, t);
  b["bias"] = pack(in.bias, t);
  b["q_norm"] = pack(in.q_norm, t);
  b["k_norm"] = pack(in.k_norm, t);
  b["positions"] = mt::test::pack_u32(c.positions);
  b["inv_freq"] = pack(in.inv_freq, DType::F32);
  b["q"] = mt::test::poisoned(c.positions.size() * c.q_heads * c.head_dim, t);
  b["k_cache"] = pack(in.k_cache, t);
  b["v_cache"] = pack(in.v_cache, t);
  b["head_dim"] = le_bytes(c.head_dim);
  b["n_q_heads"] = le_bytes(c.q_heads);
  b["n_kv_heads"] = le_bytes(c.kv_heads);
  b["max_seq"] = le_bytes(c.max_seq);
  b["eps"] = le_bytes(kEps);
  b["attn_factor"] = le_bytes(1.0f);
  b["has_bias"] = le_bytes(std::uint32_t(c.bias));
  b["has_qk_norm"] = le_bytes(std::uint32_t(c.qk_norm));
  return b;
}

double tolerance(DType t) { return t == DType::F32 ? 2e-5 : t == DType::F16 ? 2e-3 : 1.6e-2; }

std::vector<Case> cases() {
  return {{4, 2, 16, 8, {3}, false, false},    {4, 2, 16, 8, {0, 7, 2}, true, false},
          {4, 2, 16, 8, {5, 1}, false, true},  {2, 2, 32, 5, {4}, true, true},
          {8, 1, 64, 3, {1, 0}, false, false}, {2, 1, 128, 4, {3}, false, true},
          {1, 1, 256, 2, {1}, true, false},    {6, 3, 16, 40, {39, 20, 0, 11}, false, false}};
}

TEST(QkvRopeAppend, MatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 100;
    for (DType t : kDTypes) {
      for (const Case& c : cases()) {
        SCOPED_TRACE(c.text() + " " + std::string(mt::name_of(t)));
        const Inputs in = inputs(c, t, seed += 10);
        const Outputs want = oracle(c, in);
        const mt::DispatchResult r = mt::kernels::run(ctx, "qkv_rope_append", t, buffers(c, in, t));
        const double tol = tolerance(t);
        mt::test::expect_close(mt::test::unpack(r.outputs.at("q"), t), want.q, tol, tol, "q");
        mt::test::expect_close(mt::test::unpack(r.outputs.at("k_cache"), t), want.k_cache, tol, tol,
                               "k_cache");
        mt::test::expect_close(mt::test::unpack(r.outputs.at("v_cache"), t), want.v_cache, tol, tol,
                               "v_cache");
      }
    }
  });
}

TEST(QkvRopeAppend, ErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const Case c{4, 2, 16, 8, {3, 8}, false, false};  // position 8 is past the cache
    const Inputs in = inputs(c, t, 1);
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "qkv_rope_append", t, buffers(c, in, t)); }),
        {"qkv_rope_append", "positions", "out of bounds"});
    const Case good{4, 2, 16, 8, {3}, false, false};
    const Inputs gin = inputs(good, t, 2);
    struct Bad {
      std::string buffer;
      std::size_t elements;
      std::string mention;
    };
    for (const Bad& bad :
         {Bad{"q", 3, "got "}, Bad{"k_cache", 5, "got "}, Bad{"v_cache", good.cache() - 1, "got "},
          Bad{"bias", 4, "got "}, Bad{"q_norm", 15, "got "}, Bad{"inv_freq", 3, "got "},
          Bad{"qkv", 7, "got "}}) {
      SCOPED_TRACE(bad.buffer);
      mt::BufferMap b = buffers(good, gin, t);
      b[bad.buffer] = mt::test::poisoned(bad.elements, bad.buffer == "inv_freq" ? DType::F32 : t);
      mt::test::expect_mentions(
          mt::test::error_of([&] { mt::kernels::run(ctx, "qkv_rope_append", t, b); }),
          {"qkv_rope_append", "'" + bad.buffer + "'", bad.mention});
    }
    // The context still runs a good launch.
    const Outputs want = oracle(good, gin);
    const mt::DispatchResult r = mt::kernels::run(ctx, "qkv_rope_append", t, buffers(good, gin, t));
    mt::test::expect_close(mt::test::unpack(r.outputs.at("q"), t), want.q, 2e-5, 2e-5, "q");
  });
}

// --- quantised caches ----------------------------------------------------------------------

namespace kv = mt::test::kv;

struct Format {
  const char* suffix;  // qkv_rope_append_<suffix>
  std::uint32_t bits;
  const kv::Fp8Format* fp8;  // null: affine (codes, scales and biases)
};
const Format kFormats[] = {{"int4", 4, nullptr},
                           {"int8", 8, nullptr},
                           {"fp8_e4m3", 8, &kv::kE4M3},
                           {"fp8_e5m2", 8, &kv::kE5M2}};

// One quantised cache (K or V): codes, scales and biases (affine).
struct QuantCache {
  std::vector<std::uint32_t> words;
  mt::test::Bytes scales, biases;
};

QuantCache sentinel_cache(const kv::CacheShape& s, const Format& f, DType t) {
  return {kv::sentinel_words(s.word_elements(f.bits)), kv::sentinel(s.param_elements(), t),
          kv::sentinel(s.param_elements(), t, -5.0f)};
}

void put_cache(mt::BufferMap& b, const std::string& x, const QuantCache& c, const Format& f) {
  b[x + "_w"] = mt::test::pack_u32(c.words);
  b[x + "_s"] = c.scales;
  if (f.fp8 == nullptr) b[x + "_b"] = c.biases;
}

// The cache `c` after quantising, at each token's position, the rows the raw kernel stored in
// `raw` ([Hkv, max_seq, D] T).
QuantCache quantised_rows(const Case& c, const kv::CacheShape& s, const Format& f, DType t,
                          const std::vector<float>& raw, QuantCache q) {
  for (std::uint32_t pos : c.positions) {
    std::vector<float> token(s.token_elements());
    for (std::uint32_t h = 0; h < c.kv_heads; ++h) {
      for (std::uint32_t d = 0; d < c.head_dim; ++d) {
        token[h * c.head_dim + d] = raw[kv::raw_index(s, h, pos, d)];
      }
    }
    if (f.fp8 == nullptr) {
      kv::quantize_affine(s, f.bits, t, token, pos, q.words, q.scales, q.biases);
    } else {
      kv::quantize_fp8(s, *f.fp8, t, token, pos, q.words, q.scales);
    }
  }
  return q;
}

void expect_same_cache(const mt::BufferMap& got, const std::string& x, const QuantCache& want,
                       const Format& f, DType t) {
  kv::expect_same_words(got.at(x + "_w"), want.words, x + "_w");
  kv::expect_same_bits(got.at(x + "_s"), want.scales, t, x + "_s");
  if (f.fp8 == nullptr) kv::expect_same_bits(got.at(x + "_b"), want.biases, t, x + "_b");
}

// Group sizes the layout allows for a head dim: the whole head, 32, and the smallest (8).
std::vector<std::uint32_t> group_sizes(std::uint32_t head_dim) {
  std::vector<std::uint32_t> g = {head_dim};
  if (head_dim > 32) g.push_back(32);
  if (head_dim == 16) g.push_back(8);
  return g;
}

TEST(QkvRopeAppend, QuantisedCachesHoldTheQuantisedRawRows) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 500;
    for (DType t : kDTypes) {
      for (const Case& c : cases()) {
        const Inputs in = inputs(c, t, seed += 10);
        const mt::DispatchResult raw =
            mt::kernels::run(ctx, "qkv_rope_append", t, buffers(c, in, t));
        const std::vector<float> k_raw = mt::test::unpack(raw.outputs.at("k_cache"), t);
        const std::vector<float> v_raw = mt::test::unpack(raw.outputs.at("v_cache"), t);
        for (const Format& f : kFormats) {
          for (std::uint32_t group : group_sizes(c.head_dim)) {
            SCOPED_TRACE(c.text() + " " + std::string(mt::name_of(t)) + " " + f.suffix + " group " +
                         std::to_string(group));
            const kv::CacheShape s{c.kv_heads, c.head_dim, c.max_seq, group};
            const QuantCache k0 = sentinel_cache(s, f, t), v0 = sentinel_cache(s, f, t);
            mt::BufferMap b = buffers(c, in, t);
            b.erase("k_cache");
            b.erase("v_cache");
            put_cache(b, "k", k0, f);
            put_cache(b, "v", v0, f);
            b["group_size"] = le_bytes(group);
            const mt::DispatchResult r =
                mt::kernels::run(ctx, std::string("qkv_rope_append_") + f.suffix, t, b);
            kv::expect_same_bits(r.outputs.at("q"), raw.outputs.at("q"), t, "q");
            expect_same_cache(r.outputs, "k", quantised_rows(c, s, f, t, k_raw, k0), f, t);
            expect_same_cache(r.outputs, "v", quantised_rows(c, s, f, t, v_raw, v0), f, t);
          }
        }
      }
    }
  });
}

TEST(QkvRopeAppend, QuantisedErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F16;
    const Format& f = kFormats[0];  // int4: 8 codes a word
    const std::string name = std::string("qkv_rope_append_") + f.suffix;
    auto request = [&](const Case& c, std::uint32_t group) {
      const kv::CacheShape s{c.kv_heads, c.head_dim, c.max_seq, group};
      mt::BufferMap b = buffers(c, inputs(c, t, 3), t);
      b.erase("k_cache");
      b.erase("v_cache");
      put_cache(b, "k", sentinel_cache(s, f, t), f);
      put_cache(b, "v", sentinel_cache(s, f, t), f);
      b["group_size"] = le_bytes(group);
      return b;
    };
    const Case past{4, 2, 16, 8, {3, 8}, false, false};  // position 8 is past the cache
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, name, t, request(past, 16)); }),
        {name, "positions", "out of bounds"});
    const Case good{4, 2, 16, 8, {3}, false, false};
    // A group of 4 holds half a word of int4 codes; 12 does not divide head_dim 16.
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, name, t, request(good, 4)); }),
        {name, "group_size % 8 == 0"});
    mt::test::expect_mentions(mt::test::error_of([&] {
                                mt::BufferMap b = request(good, 16);
                                b["group_size"] = le_bytes(std::uint32_t{12});
                                mt::kernels::run(ctx, name, t, b);
                              }),
                              {name, "head_dim % group_size == 0"});
    for (const std::string buffer : {"k_w", "v_s", "k_b"}) {
      SCOPED_TRACE(buffer);
      mt::BufferMap b = request(good, 16);
      b[buffer] = mt::test::poisoned(3, buffer == "k_w" ? DType::U32 : t);
      mt::test::expect_mentions(mt::test::error_of([&] { mt::kernels::run(ctx, name, t, b); }),
                                {name, "'" + buffer + "'", "got "});
    }
  });
}

}  // namespace
