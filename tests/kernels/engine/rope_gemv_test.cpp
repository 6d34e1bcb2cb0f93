// rms_norm_gemv_rope x {f32, f16, bf16} on every backend against an f64 oracle: the RMS-normed
// projection (rounded to T, as rms_norm_gemv stores it), the bias, RoPE and the cache append of
// qkv_rope_append; GQA head counts, head dims 2..128, K with and without vector tails, bias on
// and off, attn_factor 1 and 0.8. Only the token's cache slots may change. rms_norm_qgemv_rope
// over MLX affine weights of 3, 4 and 8 bits the same way, on the exactly dequantised weights.
// A position past the cache and the length contracts are mt::Errors naming kernel and buffer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/mlx/affine_oracle.hpp"
#include "kernels/mlx/gemv_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/engine/decoder.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace oracle = mt::test::gemv;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
constexpr float kEps = 1e-5f;

struct Case {
  std::uint32_t q_heads, kv_heads, head_dim, max_seq, position, k;
  bool bias;
  float attn_factor = 1.0f;
  std::string text() const {
    return "Hq" + std::to_string(q_heads) + " Hkv" + std::to_string(kv_heads) + " D" +
           std::to_string(head_dim) + " S" + std::to_string(max_seq) + " pos" +
           std::to_string(position) + " K" + std::to_string(k) + (bias ? " bias" : "") +
           " attn_factor " + std::to_string(attn_factor);
  }
  std::uint32_t rows() const { return (q_heads + 2 * kv_heads) * head_dim; }
  std::size_t cache() const { return std::size_t(kv_heads) * max_seq * head_dim; }
};

// K = 7 (never vectorised), 96, 264 (vector tails), 1032 (an unrolled step and a remainder).
std::vector<Case> cases() {
  return {{4, 2, 16, 8, 3, 96, false},  {4, 2, 16, 8, 7, 264, true, 0.8f},
          {2, 2, 2, 4, 0, 7, false},    {8, 1, 64, 3, 2, 1032, true},
          {2, 1, 128, 5, 4, 96, false}, {6, 3, 32, 40, 39, 264, false}};
}

struct Inputs {
  std::vector<float> h, norm, w, bias, inv_freq, k_cache, v_cache;
};

Inputs inputs(const Case& c, DType t, std::uint64_t seed) {
  using mt::test::rows::random_values;
  Inputs in;
  in.h = random_values(c.k, seed, t, -2.0f, 2.0f);
  in.norm = random_values(c.k, seed + 1, t, 0.5f, 1.5f);
  in.w = random_values(std::size_t(c.rows()) * c.k, seed + 2, t, -1.0f, 1.0f);
  in.bias = c.bias ? random_values(c.rows(), seed + 3, t, -0.5f, 0.5f) : std::vector<float>{};
  for (std::uint32_t i = 0; i < c.head_dim / 2; ++i) {
    in.inv_freq.push_back(float(std::pow(10000.0, -2.0 * i / c.head_dim)));
  }
  in.k_cache = random_values(c.cache(), seed + 4, t, -1.0f, 1.0f);
  in.v_cache = random_values(c.cache(), seed + 5, t, -1.0f, 1.0f);
  return in;
}

// What the kernel stores: q [Hq D], and the token's key and value rows [Hkv D] (the slots at
// the position), each with the magnitude its tolerance is charged (gemv_oracle.hpp).
struct Expected {
  oracle::Expected q, k, v;
};

// w: the weight's rows in f64 (dense values, or scale * q + bias). The projection y = r W (h
// (g + 0)) is rounded to T, as rms_norm_gemv stores it; the kernel rounds its own f32 sum, which
// may land one ulp of T away, so each rotated output is charged (|c| + |s|) (ulp(a) + ulp(b))
// beyond the sums' 2^-19 relative and the norm factor's 2 |value| (decode_gemv_test).
Expected expected(const Case& c, const Inputs& in, const std::vector<double>& w, DType t) {
  double squares = 0;
  for (float v : in.h) squares += double(v) * v;
  const double r = 1.0 / std::sqrt(squares / c.k + kEps);
  std::vector<double> y(c.rows()), magnitude(c.rows());
  for (std::uint32_t row = 0; row < c.rows(); ++row) {
    double sum = 0, mag = 0;
    for (std::uint32_t i = 0; i < c.k; ++i) {
      const double p = w[std::size_t(row) * c.k + i] * (double(in.h[i]) * in.norm[i]);
      sum += p;
      mag += std::fabs(p);
    }
    const float stored =
        mt::test::unpack(mt::test::pack(std::vector<float>{float(r * sum)}, t), t)[0];
    y[row] = double(stored) + (c.bias ? in.bias[row] : 0.0);
    magnitude[row] = r * mag + 2 * std::fabs(r * sum);
  }
  Expected e;
  const std::uint32_t d = c.head_dim, half = d / 2;
  for (std::uint32_t head = 0; head < c.q_heads + 2 * c.kv_heads; ++head) {
    const bool is_q = head < c.q_heads, is_v = head >= c.q_heads + c.kv_heads;
    oracle::Expected& out = is_q ? e.q : is_v ? e.v : e.k;
    std::vector<double> value(d), mag(d);
    for (std::uint32_t i = 0; i < half; ++i) {
      const double a = y[head * d + i], b = y[head * d + i + half];
      const double ma = magnitude[head * d + i], mb = magnitude[head * d + i + half];
      const double rounding = (oracle::ulp(t, a) + oracle::ulp(t, b)) / oracle::kGemvRelative;
      // v is not rotated: the identity, cos 1 and sin 0.
      const double theta = double(float(c.position) * in.inv_freq[i]);
      const double cs = is_v ? 1.0 : std::cos(theta) * c.attn_factor;
      const double sn = is_v ? 0.0 : std::sin(theta) * c.attn_factor;
      const double both = (std::fabs(cs) + std::fabs(sn)) * rounding;
      value[i] = a * cs - b * sn;
      value[i + half] = b * cs + a * sn;
      mag[i] = std::fabs(cs) * ma + std::fabs(sn) * mb + both;
      mag[i + half] = std::fabs(cs) * mb + std::fabs(sn) * ma + both;
    }
    out.value.insert(out.value.end(), value.begin(), value.end());
    out.magnitude.insert(out.magnitude.end(), mag.begin(), mag.end());
  }
  return e;
}

mt::BufferMap buffers(const Case& c, const Inputs& in, DType t) {
  using mt::test::pack;
  return {{"h", pack(in.h, t)},
          {"norm", pack(in.norm, t)},
          {"eps", le_bytes(kEps)},
          {"weight_offset", le_bytes(0.0f)},
          {"w", pack(in.w, t)},
          {"bias", pack(in.bias, t)},
          {"positions", mt::test::pack_u32(std::vector<std::uint32_t>{c.position})},
          {"inv_freq", pack(in.inv_freq, DType::F32)},
          {"q", mt::test::poisoned(std::size_t(c.q_heads) * c.head_dim, t)},
          {"k_cache", pack(in.k_cache, t)},
          {"v_cache", pack(in.v_cache, t)},
          {"head_dim", le_bytes(c.head_dim)},
          {"n_q_heads", le_bytes(c.q_heads)},
          {"n_kv_heads", le_bytes(c.kv_heads)},
          {"max_seq", le_bytes(c.max_seq)},
          {"attn_factor", le_bytes(c.attn_factor)},
          {"has_bias", le_bytes(std::uint32_t(c.bias))},
          {"k", le_bytes(c.k)}};
}

// The token's rows of a cache ([Hkv, max_seq, D]); every other element must be the input's.
std::vector<float> token_rows(const Case& c, const std::vector<float>& cache,
                              const std::vector<float>& before, const std::string& label) {
  std::vector<float> rows;
  std::size_t changed_elsewhere = 0;
  for (std::uint32_t h = 0; h < c.kv_heads; ++h) {
    for (std::uint32_t s = 0; s < c.max_seq; ++s) {
      for (std::uint32_t i = 0; i < c.head_dim; ++i) {
        const std::size_t at = (std::size_t(h) * c.max_seq + s) * c.head_dim + i;
        if (s == c.position) {
          rows.push_back(cache[at]);
        } else if (cache[at] != before[at]) {
          ++changed_elsewhere;
        }
      }
    }
  }
  EXPECT_EQ(changed_elsewhere, 0u) << label << ": elements outside the token's slot changed";
  return rows;
}

void expect_outputs(const Case& c, const Inputs& in, const mt::DispatchResult& r,
                    const Expected& want, DType t) {
  oracle::expect_within(mt::test::unpack(r.outputs.at("q"), t), want.q, t, "q");
  oracle::expect_within(
      token_rows(c, mt::test::unpack(r.outputs.at("k_cache"), t), in.k_cache, "k_cache"), want.k, t,
      "k_cache");
  oracle::expect_within(
      token_rows(c, mt::test::unpack(r.outputs.at("v_cache"), t), in.v_cache, "v_cache"), want.v, t,
      "v_cache");
}

TEST(RmsNormGemvRope, MatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 500;
    for (DType t : kDTypes) {
      for (const Case& c : cases()) {
        SCOPED_TRACE(c.text() + " " + std::string(mt::name_of(t)));
        const Inputs in = inputs(c, t, seed += 10);
        const mt::DispatchResult r =
            mt::kernels::run(ctx, "rms_norm_gemv_rope", t, buffers(c, in, t));
        expect_outputs(c, in, r, expected(c, in, std::vector<double>(in.w.begin(), in.w.end()), t),
                       t);
      }
    }
  });
}

// The decoder's path: device buffers, a KernelRunner, and the same results.
TEST(RmsNormGemvRope, DeviceResidentLaunchMatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const Case c = cases()[1];
    const Inputs in = inputs(c, t, 9);
    const mt::BufferMap b = buffers(c, in, t);
    mt::DeviceBindings bindings;
    std::map<std::string, mt::DeviceBuffer> device;
    for (const char* name :
         {"h", "norm", "w", "bias", "positions", "inv_freq", "q", "k_cache", "v_cache"}) {
      device.emplace(name, ctx.upload(b.at(name)));
      bindings.emplace(name, device.at(name));
    }
    bindings.emplace("eps", kEps);
    bindings.emplace("weight_offset", 0.0f);
    bindings.emplace("head_dim", c.head_dim);
    bindings.emplace("n_q_heads", c.q_heads);
    bindings.emplace("n_kv_heads", c.kv_heads);
    bindings.emplace("max_seq", c.max_seq);
    bindings.emplace("attn_factor", c.attn_factor);
    bindings.emplace("has_bias", std::uint32_t(c.bias));
    bindings.emplace("k", c.k);
    const mt::Stream stream = ctx.create_stream();
    mt::kernels::KernelRunner runner(ctx, "rms_norm_gemv_rope", t);
    runner.launch(bindings, stream);
    stream.synchronize();
    mt::DispatchResult r;
    for (const char* name : {"q", "k_cache", "v_cache"}) {
      r.outputs[name] = device.at(name).download();
    }
    expect_outputs(c, in, r, expected(c, in, std::vector<double>(in.w.begin(), in.w.end()), t), t);
  });
}

TEST(RmsNormGemvRope, ErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const Case c = cases()[0];
    const Inputs in = inputs(c, t, 3);
    const mt::BufferMap good = buffers(c, in, t);
    const auto error = [&](const mt::BufferMap& b) {
      return mt::test::error_of([&] { mt::kernels::run(ctx, "rms_norm_gemv_rope", t, b); });
    };
    mt::BufferMap bad = good;
    bad["positions"] = mt::test::pack_u32(std::vector<std::uint32_t>{c.max_seq});
    mt::test::expect_mentions(error(bad), {"kernel 'rms_norm_gemv_rope'", "positions"});
    bad = good;
    bad["w"] = mt::test::poisoned(std::size_t(c.rows()) * c.k - 1, t);
    mt::test::expect_mentions(error(bad), {"kernel 'rms_norm_gemv_rope'", "'w'"});
    bad = good;
    bad["k_cache"] = mt::test::poisoned(c.cache() + 1, t);
    mt::test::expect_mentions(error(bad), {"kernel 'rms_norm_gemv_rope'", "'k_cache'"});
    bad = good;
    bad["positions"] = mt::test::pack_u32(std::vector<std::uint32_t>{1u, 2u});
    mt::test::expect_mentions(error(bad), {"kernel 'rms_norm_gemv_rope'", "'positions'"});
    bad = good;
    bad["bias"] = mt::test::poisoned(c.rows(), t);  // has_bias 0
    mt::test::expect_mentions(error(bad), {"kernel 'rms_norm_gemv_rope'", "'bias'"});
    bad = good;
    bad["head_dim"] = le_bytes(15u);
    mt::test::expect_mentions(error(bad), {"kernel 'rms_norm_gemv_rope'", "head_dim even"});
    // The context stays usable.
    const mt::DispatchResult r = mt::kernels::run(ctx, "rms_norm_gemv_rope", t, good);
    expect_outputs(c, in, r, expected(c, in, std::vector<double>(in.w.begin(), in.w.end()), t), t);
  });
}

// Units of K: 2 and 3 (partial steps), 66 (a full step, then lanes past the row's end).
TEST(RmsNormQgemvRope, MatchesTheOracle) {
  struct QuantCase {
    Case c;
    std::uint32_t bits, group_size;
  };
  const std::vector<QuantCase> quant = {{{4, 2, 16, 8, 3, 64, true}, 4, 32},
                                        {{2, 1, 32, 6, 5, 2112, false}, 4, 64},
                                        {{2, 2, 16, 4, 1, 384, false, 0.8f}, 8, 128},
                                        {{4, 2, 8, 4, 2, 96, true}, 3, 32},
                                        // 9 pairs of 3 a head: a warp's two pairs straddle
                                        // heads, and the last warp has one pair
                                        {{1, 1, 6, 4, 2, 64, true}, 4, 32}};
  mt::test::for_each_backend([&](mt::Context& ctx) {
    std::uint64_t seed = 700;
    for (DType t : kDTypes) {
      for (const QuantCase& qc : quant) {
        const Case& c = qc.c;
        SCOPED_TRACE(c.text() + " bits " + std::to_string(qc.bits) + " g" +
                     std::to_string(qc.group_size) + " " + std::string(mt::name_of(t)));
        const Inputs in = inputs(c, t, seed += 10);
        const mt::test::affine::Quantized q =
            mt::test::affine::quantize(in.w, qc.group_size, qc.bits, t);
        const std::vector<double> exact = mt::test::affine::dequantize_exact(
            q.wq, q.scales, q.biases, c.rows(), c.k, qc.group_size, qc.bits);
        mt::BufferMap b = buffers(c, in, t);
        b.erase("w");
        b["wq"] = mt::test::pack_u32(q.wq);
        b["scales"] = mt::test::pack(q.scales, t);
        b["biases"] = mt::test::pack(q.biases, t);
        b["bits"] = le_bytes(qc.bits);
        b["group_size"] = le_bytes(qc.group_size);
        const mt::DispatchResult r = mt::kernels::run(ctx, "rms_norm_qgemv_rope", t, b);
        expect_outputs(c, in, r, expected(c, in, exact, t), t);
      }
    }
  });
}

}  // namespace
