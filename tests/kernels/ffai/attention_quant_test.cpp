// attention_decode_int4 / _int8 / _fp8_e4m3 / _fp8_e5m2 on every backend and dtype: the same
// result, within the attention tolerance, as bulk_dequant_kv_* followed by attention_decode
// (and as the f64 oracle on the dequantised caches), one-pass and split, each group size the
// layout allows; NaN codes of an attended position reach the output.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/ffai/attention_oracle.hpp"
#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
using mt::test::attn::Problem;
namespace attn = mt::test::attn;
namespace kv = mt::test::kv;
namespace attention = mt::kernels::ffai::attention;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

struct Format {
  const char* suffix;  // "int4": attention_decode_int4 and bulk_dequant_kv_int4
  std::uint32_t bits;
  bool bias;
  const kv::Fp8Format* fp8;  // null for the affine formats
};
const Format kFormats[] = {{"int4", 4, true, nullptr},
                           {"int8", 8, true, nullptr},
                           {"fp8_e4m3", 8, false, &kv::kE4M3},
                           {"fp8_e5m2", 8, false, &kv::kE5M2}};

// One quantised cache (K or V) in the KV-cache layout: codes, scales and (affine) biases.
struct QuantCache {
  std::vector<std::uint32_t> words;
  mt::test::Bytes scales, biases;
};

QuantCache random_cache(const Problem& p, const Format& f, std::uint32_t group, DType t,
                        std::uint64_t seed) {
  kv::Rng rng(seed);
  const std::size_t groups = p.cache_rows() * (p.head_dim / group);
  std::vector<float> scales(groups), biases(groups);
  QuantCache c;
  if (f.fp8 == nullptr) {
    // Values of about [-2, 2], as the quantiser would give for such data.
    const float step = f.bits == 4 ? 0.27f : 0.016f;
    for (float& s : scales) s = mt::round_to(t, step * rng.uniform(0.8f, 1.1f));
    for (float& b : biases) b = mt::round_to(t, rng.uniform(-2.2f, -1.8f));
    c.words.resize(p.cache_elements() * f.bits / 32);
    for (std::uint32_t& w : c.words) w = rng.next_u32();
    c.biases = mt::test::pack(biases, t);
  } else {
    for (float& s : scales) s = mt::round_to(t, rng.uniform(0.01f, 0.02f));
    // Codes of values in [-2, 2] (finite codes only; the NaN test puts a NaN code in).
    std::vector<std::uint8_t> codes(p.cache_elements());
    for (std::size_t i = 0; i < codes.size(); ++i) {
      codes[i] = f.fp8->encode(rng.uniform(-2.0f, 2.0f) / scales[i / group]);
    }
    c.words.assign(codes.size() / 4, 0);
    for (std::size_t i = 0; i < codes.size(); ++i) c.words[i / 4] |= codes[i] << (8 * (i % 4));
  }
  c.scales = mt::test::pack(scales, t);
  return c;
}

void put_cache(mt::BufferMap& b, const std::string& name, const QuantCache& c, const Format& f) {
  b[name + "_w"] = mt::test::pack_u32(c.words);
  b[name + "_s"] = c.scales;
  if (f.bias) b[name + "_b"] = c.biases;
}

// The raw cache bulk_dequant_kv_<format> makes of c on this backend.
mt::test::Bytes dequantised(mt::Context& ctx, const Problem& p, const Format& f,
                            const QuantCache& c, std::uint32_t group, DType t) {
  mt::BufferMap b;
  b["in_w"] = mt::test::pack_u32(c.words);
  b["in_s"] = c.scales;
  if (f.bias) b["in_b"] = c.biases;
  b["out"] = mt::test::poisoned(p.cache_elements(), t);
  b["head_dim"] = mt::test::le_bytes(p.head_dim);
  b["max_seq"] = mt::test::le_bytes(p.max_seq);
  b["group_size"] = mt::test::le_bytes(group);
  b["n_positions"] = mt::test::le_bytes(p.max_seq);
  return mt::kernels::run(ctx, std::string("bulk_dequant_kv_") + f.suffix, t, b).outputs.at("out");
}

struct Request {
  mt::BufferMap fused;  // the quantised request
  mt::BufferMap raw;    // the same request over the dequantised caches
  attn::Inputs dequantised;
};

Request make_request(mt::Context& ctx, const Problem& p, const Format& f, std::uint32_t group,
                     DType t, std::uint64_t seed) {
  Request r;
  const attn::Inputs in = attn::random_inputs(p, t, seed);
  const QuantCache k = random_cache(p, f, group, t, seed + 10);
  const QuantCache v = random_cache(p, f, group, t, seed + 20);
  r.raw = attn::raw_buffers(p, in, t);
  r.raw["k"] = dequantised(ctx, p, f, k, group, t);
  r.raw["v"] = dequantised(ctx, p, f, v, group, t);
  r.dequantised = in;
  r.dequantised.k = mt::test::unpack(r.raw["k"], t);
  r.dequantised.v = mt::test::unpack(r.raw["v"], t);
  r.fused = r.raw;
  r.fused.erase("k");
  r.fused.erase("v");
  put_cache(r.fused, "k", k, f);
  put_cache(r.fused, "v", v, f);
  r.fused["group_size"] = mt::test::le_bytes(group);
  return r;
}

void check(mt::Context& ctx, const Problem& p, const Format& f, std::uint32_t group, DType t,
           std::uint64_t seed) {
  SCOPED_TRACE(std::string(f.suffix) + " " + std::string(mt::name_of(t)) + " group " +
               std::to_string(group) + " " + p.text());
  const Request r = make_request(ctx, p, f, group, t, seed);
  const std::string name = std::string("attention_decode_") + f.suffix;
  const double max_v = attn::max_abs(r.dequantised.v);
  // Dequantise, then attend: the reference the spec names.
  const std::vector<float> reference =
      mt::test::unpack(mt::kernels::run(ctx, "attention_decode", t, r.raw).outputs.at("out"), t);
  const std::vector<double> exact = attn::oracle(p, r.dequantised);
  // 0: the split count run chooses (one pass on the interpreter for these shapes).
  std::vector<std::pair<std::string, mt::KernelInfo>> entries = {{"auto", mt::kernel_info(name)}};
  for (attention::SplitMerge merge :
       {attention::SplitMerge::LastSplit, attention::SplitMerge::CombineKernel}) {
    entries.emplace_back(merge == attention::SplitMerge::LastSplit ? "3 splits merged by the last"
                                                                   : "3 splits and the combine",
                         attention::with_split_count(name, 3, merge));
  }
  for (const auto& [label, entry] : entries) {
    SCOPED_TRACE(label);
    const std::vector<float> fused =
        mt::test::unpack(mt::kernels::run(ctx, entry, t, r.fused).outputs.at("out"), t);
    attn::expect_attention_close(fused, attn::widen(reference), t, max_v,
                                 "out against bulk_dequant + attention_decode");
    attn::expect_attention_close(fused, exact, t, max_v, "out against the oracle");
  }
}

Problem quant_problem() {
  Problem p;
  p.lengths = {1, 11, 40};
  p.kv_heads = 2;
  p.q_heads = 8;
  p.head_dim = 32;
  p.max_seq = 40;
  p.scale = 0.125f;
  return p;
}

TEST(AttentionDecodeQuantised, MatchesDequantiseThenAttend) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 2000;
    for (const Format& f : kFormats) {
      for (DType t : kDTypes) {
        Problem p = quant_problem();
        check(ctx, p, f, 32, t, seed += 100);
        p.window = 13;
        p.softcap = 2.5f;
        p.sinks = true;
        p.q_heads = 2;  // GQA ratio 1
        check(ctx, p, f, 16, t, seed += 100);
      }
    }
  });
}

TEST(AttentionDecodeQuantised, EveryGroupSizeAndHeadDim) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 3000;
    for (const Format& f : kFormats) {
      for (std::uint32_t head_dim : {16u, 128u, 256u}) {
        for (std::uint32_t group : {16u, head_dim}) {
          Problem p;
          p.lengths = {5, 9};
          p.kv_heads = 1;
          p.q_heads = 8;
          p.head_dim = head_dim;
          p.max_seq = 9;
          p.scale = 1.0f / std::sqrt(float(head_dim));
          check(ctx, p, f, group, DType::F16, seed += 100);
        }
      }
    }
  });
}

TEST(AttentionDecodeQuantised, LongCachesWithTheSplitRunChooses) {
  // Hq 32, Hkv 8, D 128, group 32 as the benchmarks use, at lengths a GPU splits (the
  // interpreter runs a shorter cache).
  mt::test::for_each_backend([](mt::Context& ctx) {
    const bool gpu = ctx.backend() == mt::Backend::Cuda;
    Problem p;
    p.q_heads = 32;
    p.kv_heads = 8;
    p.head_dim = 128;
    p.max_seq = gpu ? 4096 : 40;
    p.lengths = gpu ? std::vector<std::uint32_t>{4096, 3001} : std::vector<std::uint32_t>{40};
    p.scale = 1.0f / std::sqrt(128.0f);
    // Every format on a GPU; one on the interpreter, where the other tests cover the rest.
    std::cout << "[ formats  ] " << (gpu ? "all four (GPU)" : "int4 only (interpreter)") << "\n";
    std::uint64_t seed = 5000;
    for (const Format& f : kFormats) {
      if (gpu || f.bits == 4) check(ctx, p, f, 32, DType::F16, seed += 100);
    }
  });
}

TEST(AttentionDecodeQuantised, NanCodesOfAttendedPositionsReachTheOutput) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const Format& f : {kFormats[2], kFormats[3]}) {
      SCOPED_TRACE(f.suffix);
      Problem p = quant_problem();
      p.lengths = {1, 11, 30};
      Request r = make_request(ctx, p, f, 32, DType::F32, 4000);
      // Sequence 2, KV head 0: channel 6 at position 4 (attended) gets a NaN code (0x7F in
      // both formats); channel 9 at position 35 (past the length) too.
      std::vector<std::uint32_t> words = mt::test::unpack_u32(r.fused["v_w"]);
      auto set_nan = [&](std::uint32_t position, std::uint32_t d) {
        const std::size_t code =
            (std::size_t{2} * p.kv_heads * p.max_seq + position) * p.head_dim + d;
        words[code / 4] |= 0x7Fu << (8 * (code % 4));
      };
      set_nan(4, 6);
      set_nan(35, 9);
      r.fused["v_w"] = mt::test::pack_u32(words);
      for (std::uint32_t splits : {1u, 2u}) {
        const std::vector<float> out = mt::test::unpack(
            mt::kernels::run(
                ctx,
                attention::with_split_count(std::string("attention_decode_") + f.suffix, splits),
                DType::F32, r.fused)
                .outputs.at("out"),
            DType::F32);
        for (std::uint32_t h = 0; h < p.q_heads; ++h) {
          const std::size_t row = (2 * p.q_heads + h) * p.head_dim;
          EXPECT_EQ(std::isnan(out[row + 6]), h < 4) << "head " << h;
          EXPECT_TRUE(std::isfinite(out[row + 9])) << "head " << h;
        }
      }
    }
  });
}

}  // namespace
