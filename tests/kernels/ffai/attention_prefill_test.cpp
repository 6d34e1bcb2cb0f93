// attention_prefill and its quantised forms on every backend and dtype: each query token of a
// chunk attends causally to the one shared cache up to its own position, against the f64
// oracle of decode attention applied token by token (raw), and against attention_prefill and
// the oracle over the cache the KV-cache oracle dequantises (int4, int8, fp8 e4m3 and e5m2).
// Chunks at the start of a sequence, after earlier chunks and at scattered positions; each
// option (window, softcap, sinks), GQA ratios and head dims; rows no token may read hold NaN. A
// position past the cache and the shared cache's length are mt::Errors naming kernel and buffer.
// The tensor-core kernels (f16 / bf16, head_dim 64 and 128, which run by name takes) over chunks
// of several blocks and tiles, within the bound of their rounding of the softmax weights; over
// quantised caches equal byte for byte to the raw one on the dequantised cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/ffai/attention_oracle.hpp"
#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::attn::Problem;
namespace attn = mt::test::attn;
namespace kv = mt::test::kv;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A chunk of query tokens at `positions` over one sequence's cache [Hkv, S, D].
struct Chunk {
  std::vector<std::uint32_t> positions = {0, 1, 2, 3, 4};
  std::uint32_t q_heads = 8, kv_heads = 2, head_dim = 32, max_seq = 24;
  float scale = 0.35f;
  std::uint32_t window = 0;
  float softcap = 0.0f;
  bool sinks = false;

  std::size_t tokens() const { return positions.size(); }
  std::size_t q_row() const { return std::size_t{q_heads} * head_dim; }
  std::size_t cache_elements() const { return std::size_t{kv_heads} * max_seq * head_dim; }
  // The decode problem of one token: a sequence of length position + 1 over the same cache.
  Problem token_problem(std::uint32_t position) const {
    Problem p;
    p.lengths = {position + 1};
    p.q_heads = q_heads;
    p.kv_heads = kv_heads;
    p.head_dim = head_dim;
    p.max_seq = max_seq;
    p.scale = scale;
    p.window = window;
    p.softcap = softcap;
    p.sinks = sinks;
    return p;
  }
  std::string text() const {
    std::string s = "Hq=" + std::to_string(q_heads) + " Hkv=" + std::to_string(kv_heads) +
                    " D=" + std::to_string(head_dim) + " S=" + std::to_string(max_seq) +
                    " positions=";
    for (std::size_t i = 0; i < positions.size(); ++i) {
      s += (i ? "," : "") + std::to_string(positions[i]);
    }
    return s + " window=" + std::to_string(window) + " softcap=" + std::to_string(softcap) +
           " sinks=" + std::to_string(sinks);
  }
};

// Whether run by name takes the tensor-core kernel (attention_prefill_mma_d64 / _d128).
bool on_tensor_cores(const Chunk& c, DType t) {
  return t != DType::F32 && (c.head_dim == 64 || c.head_dim == 128);
}

// f64: token t's output is decode attention of a sequence of positions[t] + 1 positions.
std::vector<double> oracle(const Chunk& c, const attn::Inputs& in) {
  std::vector<double> out;
  for (std::size_t t = 0; t < c.tokens(); ++t) {
    const std::vector<float> q(in.q.begin() + std::ptrdiff_t(t * c.q_row()),
                               in.q.begin() + std::ptrdiff_t((t + 1) * c.q_row()));
    const std::vector<double> row =
        attn::oracle(c.token_problem(c.positions[t]), q, in.k, in.v, in.sinks);
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

// The tensor-core kernel rounds the softmax weights p to T before multiplying V (as flash
// attention does), which moves an output by at most u_T sum_i p_i |v_i| / (l + sink): u_T times
// the oracle's output for |v|. Zero elsewhere.
std::vector<double> weight_rounding(const Chunk& c, const attn::Inputs& in, DType t) {
  if (!on_tensor_cores(c, t)) return {};
  attn::Inputs magnitudes = in;
  for (float& v : magnitudes.v) v = std::fabs(v);
  std::vector<double> bound = oracle(c, magnitudes);
  for (double& b : bound) b *= attn::unit_roundoff(t);
  return bound;
}

attn::Inputs random_inputs(const Chunk& c, DType t, std::uint64_t seed) {
  attn::Inputs in;
  in.q = kv::random_values(c.tokens() * c.q_row(), seed, t, -1.5f, 1.5f);
  in.k = kv::random_values(c.cache_elements(), seed + 1, t, -1.5f, 1.5f);
  in.v = kv::random_values(c.cache_elements(), seed + 2, t, -2.0f, 2.0f);
  in.sinks = kv::random_values(c.q_heads, seed + 3, DType::F32, -1.0f, 3.0f);
  return in;
}

// NaN in every row no token attends to: past the largest position, and before the earliest
// window start.
void poison_unattended_rows(const Chunk& c, std::vector<float>& k, std::vector<float>& v) {
  std::uint32_t lo = c.max_seq, end = 0;
  for (std::uint32_t p : c.positions) {
    end = std::max(end, p + 1);
    lo = std::min(lo, c.window != 0 && c.window < p + 1 ? p + 1 - c.window : 0u);
  }
  for (std::uint32_t h = 0; h < c.kv_heads; ++h) {
    for (std::uint32_t i = 0; i < c.max_seq; ++i) {
      if (i >= lo && i < end) continue;
      const std::size_t at = (std::size_t{h} * c.max_seq + i) * c.head_dim;
      for (std::uint32_t d = 0; d < c.head_dim; ++d) k[at + d] = v[at + d] = kNaN;
    }
  }
}

mt::BufferMap raw_buffers(const Chunk& c, const attn::Inputs& in, DType t) {
  mt::BufferMap b;
  b["q"] = mt::test::pack(in.q, t);
  b["k"] = mt::test::pack(in.k, t);
  b["v"] = mt::test::pack(in.v, t);
  b["positions"] = mt::test::pack_u32(c.positions);
  b["sinks"] = mt::test::pack(in.sinks, DType::F32);
  b["out"] = mt::test::poisoned(c.tokens() * c.q_row(), t);
  attn::put_scalars(b, c.token_problem(0));
  return b;
}

// Runs `kernel` (attention_prefill by name, or one of its tensor-core kernels) on a random
// chunk and compares it with the oracle.
void check(mt::Context& ctx, const Chunk& c, DType t, std::uint64_t seed,
           const std::string& kernel = "attention_prefill") {
  SCOPED_TRACE(kernel + " " + c.text() + " " + std::string(mt::name_of(t)));
  attn::Inputs in = random_inputs(c, t, seed);
  const std::vector<double> expected = oracle(c, in);
  const std::vector<double> rounding = weight_rounding(c, in, t);
  const double max_v = attn::max_abs(in.v);
  poison_unattended_rows(c, in.k, in.v);
  const mt::DispatchResult r = mt::kernels::run(ctx, kernel, t, raw_buffers(c, in, t));
  ASSERT_EQ(r.outputs.size(), 1u);
  attn::expect_attention_close(mt::test::unpack(r.outputs.at("out"), t), expected, t, max_v, "out",
                               rounding);
}

TEST(AttentionPrefill, ChunksAtTheStartAfterEarlierChunksAndScattered) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 100;
    for (DType t : kDTypes) {
      for (const std::vector<std::uint32_t>& positions :
           std::vector<std::vector<std::uint32_t>>{{0},
                                                   {0, 1, 2, 3, 4, 5, 6, 7, 8},
                                                   {14, 15, 16, 17, 18, 19, 20},
                                                   {23},
                                                   {5, 0, 23, 11}}) {
        Chunk c;
        c.positions = positions;
        check(ctx, c, t, ++seed);
      }
    }
  });
}

TEST(AttentionPrefill, EachOptionAloneAndTogether) {
  struct Option {
    std::uint32_t window;
    float softcap;
    bool sinks;
  };
  const Option options[] = {{5, 0, false}, {0, 1.5f, false}, {0, 0, true}, {7, 2.0f, true}};
  mt::test::for_each_backend([&](mt::Context& ctx) {
    std::uint64_t seed = 200;
    for (DType t : kDTypes) {
      for (const Option& o : options) {
        Chunk c;
        c.positions = {6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        c.window = o.window;
        c.softcap = o.softcap;
        c.sinks = o.sinks;
        if (o.softcap > 0) c.scale = 1.0f;  // so that soft-capping changes the logits
        check(ctx, c, t, ++seed);
      }
    }
  });
}

TEST(AttentionPrefill, GqaRatiosAndHeadDims) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 300;
    for (DType t : kDTypes) {
      for (std::uint32_t ratio : {1u, 4u, 6u}) {
        Chunk c;
        c.q_heads = c.kv_heads * ratio;
        c.positions = {2, 3, 4, 5};
        c.window = 3;
        check(ctx, c, t, ++seed);
      }
      for (std::uint32_t head_dim : {16u, 64u, 128u, 256u}) {
        Chunk c;
        c.kv_heads = 1;
        c.q_heads = 4;
        c.head_dim = head_dim;
        c.max_seq = 9;
        c.positions = {6, 7, 8};
        c.scale = 1.0f / std::sqrt(float(head_dim));
        check(ctx, c, t, ++seed);
      }
    }
  });
}

// --- the tensor-core kernels ----------------------------------------------------------------

constexpr DType kMmaDTypes[] = {DType::F16, DType::BF16};

std::string mma_kernel(std::uint32_t head_dim) {
  return "attention_prefill_mma_d" + std::to_string(head_dim);
}

std::vector<std::uint32_t> iota_positions(std::uint32_t first, std::uint32_t count) {
  std::vector<std::uint32_t> p(count);
  for (std::uint32_t i = 0; i < count; ++i) p[i] = first + i;
  return p;
}

// Chunks of several 64-token blocks (the last one partial) over several 64-position tiles: at
// the start of the sequence, after an earlier chunk, and scattered out of order.
TEST(AttentionPrefillTensorCores, ChunksAcrossBlocksAndTiles) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 500;
    for (DType t : kMmaDTypes) {
      for (std::uint32_t head_dim : {64u, 128u}) {
        std::vector<std::uint32_t> scattered;
        for (std::uint32_t i = 0; i < 70; ++i) scattered.push_back((i * 37 + 11) % 181);
        for (const std::vector<std::uint32_t>& positions :
             {iota_positions(0, 130), iota_positions(45, 100), scattered}) {
          Chunk c;
          c.q_heads = 4;
          c.kv_heads = 2;
          c.head_dim = head_dim;
          c.max_seq = 192;
          c.scale = 1.0f / std::sqrt(float(head_dim));
          c.positions = positions;
          check(ctx, c, t, ++seed, mma_kernel(head_dim));
        }
      }
    }
  });
}

// Windows that end inside a tile and on its edge, soft-capping, sinks, all together, and GQA
// ratios, over a chunk of two blocks.
TEST(AttentionPrefillTensorCores, OptionsAndGqa) {
  struct Option {
    std::uint32_t window;
    float softcap;
    bool sinks;
    std::uint32_t ratio;
  };
  const Option options[] = {{70, 0, false, 2}, {64, 0, false, 2},   {0, 1.5f, false, 2},
                            {0, 0, true, 2},   {33, 2.0f, true, 1}, {0, 0, false, 4}};
  mt::test::for_each_backend([&](mt::Context& ctx) {
    std::uint64_t seed = 600;
    for (DType t : kMmaDTypes) {
      for (const Option& o : options) {
        Chunk c;
        c.kv_heads = 1;
        c.q_heads = o.ratio;
        c.head_dim = 64;
        c.max_seq = 160;
        c.positions = iota_positions(20, 120);
        c.window = o.window;
        c.softcap = o.softcap;
        c.sinks = o.sinks;
        c.scale = o.softcap > 0 ? 1.0f : 0.125f;  // so that soft-capping changes the logits
        check(ctx, c, t, ++seed, mma_kernel(64));
      }
    }
  });
}

// attention_prefill by name takes the tensor-core kernel for f16 / bf16 at head_dim 64 and 128:
// the same bytes as the kernel run directly.
TEST(AttentionPrefillTensorCores, RunByNameTakesThem) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (std::uint32_t head_dim : {64u, 128u}) {
      Chunk c;
      c.head_dim = head_dim;
      c.max_seq = 80;
      c.positions = iota_positions(3, 70);
      const DType t = DType::BF16;
      const attn::Inputs in = random_inputs(c, t, 700 + head_dim);
      const std::vector<std::uint8_t> by_name =
          mt::kernels::run(ctx, "attention_prefill", t, raw_buffers(c, in, t)).outputs.at("out");
      const std::vector<std::uint8_t> direct =
          mt::kernels::run(ctx, mma_kernel(head_dim), t, raw_buffers(c, in, t)).outputs.at("out");
      EXPECT_EQ(by_name, direct) << "head_dim " << head_dim;
    }
  });
}

TEST(AttentionPrefillTensorCores, ErrorsNameKernelAndParameter) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    Chunk c;
    c.head_dim = 128;
    c.positions = {3, 4};
    const attn::Inputs in = random_inputs(c, DType::F16, 9);
    mt::test::expect_mentions(mt::test::error_of([&] {
                                mt::kernels::run(ctx, mma_kernel(64), DType::F16,
                                                 raw_buffers(c, in, DType::F16));
                              }),
                              {"attention_prefill_mma_d64", "head_dim == 64"});
    mt::test::expect_mentions(mt::test::error_of([&] {
                                mt::kernels::run(ctx, mma_kernel(128), DType::F32,
                                                 raw_buffers(c, in, DType::F32));
                              }),
                              {"attention_prefill_mma_d128", "f32"});
    c.positions = {3, 24};  // 24 is past the cache
    mt::test::expect_mentions(mt::test::error_of([&] {
                                mt::kernels::run(ctx, mma_kernel(128), DType::F16,
                                                 raw_buffers(c, in, DType::F16));
                              }),
                              {"attention_prefill_mma_d128", "positions", "out of bounds"});
    // The context still runs a good request.
    c.positions = {3, 4};
    check(ctx, c, DType::F16, 10, mma_kernel(128));
  });
}

// --- quantised caches ----------------------------------------------------------------------

struct Format {
  const char* suffix;
  std::uint32_t bits;
  const kv::Fp8Format* fp8;  // null for the affine formats
};
const Format kFormats[] = {{"int4", 4, nullptr},
                           {"int8", 8, nullptr},
                           {"fp8_e4m3", 8, &kv::kE4M3},
                           {"fp8_e5m2", 8, &kv::kE5M2}};

// Quantises every position of `raw` ([Hkv, S, D] T values) with the KV-cache oracle into the
// buffers x_w, x_s (and x_b) of `b`, and returns the cache the oracle dequantises from them.
std::vector<float> put_quantised(mt::BufferMap& b, const std::string& x, const Chunk& c,
                                 const Format& f, std::uint32_t group, DType t,
                                 const std::vector<float>& raw) {
  const kv::CacheShape s{c.kv_heads, c.head_dim, c.max_seq, group};
  std::vector<std::uint32_t> words(s.word_elements(f.bits));
  mt::test::Bytes scales = kv::sentinel(s.param_elements(), t);
  mt::test::Bytes biases = kv::sentinel(s.param_elements(), t);
  for (std::uint32_t pos = 0; pos < c.max_seq; ++pos) {
    std::vector<float> token(s.token_elements());
    for (std::uint32_t h = 0; h < c.kv_heads; ++h) {
      for (std::uint32_t d = 0; d < c.head_dim; ++d) {
        token[h * c.head_dim + d] = raw[kv::raw_index(s, h, pos, d)];
      }
    }
    if (f.fp8 == nullptr) {
      kv::quantize_affine(s, f.bits, t, token, pos, words, scales, biases);
    } else {
      kv::quantize_fp8(s, *f.fp8, t, token, pos, words, scales);
    }
  }
  mt::test::Bytes dequantised = mt::test::poisoned(s.raw_elements(), t);
  if (f.fp8 == nullptr) {
    kv::dequant_affine(s, f.bits, t, c.max_seq, words, scales, biases, dequantised);
    b[x + "_b"] = biases;
  } else {
    kv::dequant_fp8(s, *f.fp8, t, c.max_seq, words, scales, dequantised);
  }
  b[x + "_w"] = mt::test::pack_u32(words);
  b[x + "_s"] = scales;
  return mt::test::unpack(dequantised, t);
}

// The request over a quantised cache (K and V of `in` quantised with the KV-cache oracle), and
// in.k / in.v replaced by the cache it dequantises.
mt::BufferMap quantised_buffers(const Chunk& c, const Format& f, std::uint32_t group, DType t,
                                attn::Inputs& in) {
  mt::BufferMap fused = raw_buffers(c, in, t);
  fused.erase("k");
  fused.erase("v");
  fused["group_size"] = mt::test::le_bytes(group);
  in.k = put_quantised(fused, "k", c, f, group, t, in.k);
  in.v = put_quantised(fused, "v", c, f, group, t, in.v);
  return fused;
}

TEST(AttentionPrefill, QuantisedCachesMatchTheDequantisedCache) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 400;
    for (DType t : kDTypes) {
      for (const Format& f : kFormats) {
        for (std::uint32_t group : {16u, 32u}) {
          Chunk c;
          c.positions = {9, 10, 11, 12, 13, 14, 15};
          c.window = group == 16 ? 6 : 0;
          c.sinks = group == 16;
          SCOPED_TRACE(c.text() + " " + std::string(mt::name_of(t)) + " " + f.suffix + " group " +
                       std::to_string(group));
          attn::Inputs in = random_inputs(c, t, ++seed);
          const mt::BufferMap fused = quantised_buffers(c, f, group, t, in);
          const std::vector<double> exact = oracle(c, in);
          const double max_v = attn::max_abs(in.v);
          const std::vector<float> got = mt::test::unpack(
              mt::kernels::run(ctx, std::string("attention_prefill_") + f.suffix, t, fused)
                  .outputs.at("out"),
              t);
          attn::expect_attention_close(got, exact, t, max_v, "against the f64 oracle");
          const std::vector<float> reference =
              mt::test::unpack(mt::kernels::run(ctx, "attention_prefill", t, raw_buffers(c, in, t))
                                   .outputs.at("out"),
                               t);
          attn::expect_attention_close(got, attn::widen(reference), t, max_v,
                                       "against attention_prefill on the dequantised cache");
        }
      }
    }
  });
}

// The tensor-core kernels over quantised caches (run by name for f16 / bf16 at head_dim 64 and
// 128) against the oracle over the cache the KV-cache oracle dequantises, and byte for byte
// against the raw tensor-core kernel on that dequantised cache: the tiles hold the same values.
TEST(AttentionPrefillTensorCores, QuantisedCachesMatchTheRawKernelOnTheDequantisedCache) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 800;
    for (const Format& f : kFormats) {
      for (DType t : kMmaDTypes) {
        for (std::uint32_t head_dim : {64u, 128u}) {
          if (head_dim == 128 && t == DType::F16) continue;  // one dtype at the larger size
          Chunk c;
          c.kv_heads = 1;
          c.q_heads = 2;
          c.head_dim = head_dim;
          c.max_seq = 144;
          c.scale = 1.0f / std::sqrt(float(head_dim));
          c.positions = iota_positions(30, 100);
          c.window = head_dim == 64 ? 70 : 0;
          c.sinks = head_dim == 64;
          const std::uint32_t group = 32;
          SCOPED_TRACE(c.text() + " " + std::string(mt::name_of(t)) + " " + f.suffix);
          attn::Inputs in = random_inputs(c, t, ++seed);
          const mt::BufferMap fused = quantised_buffers(c, f, group, t, in);
          const std::vector<double> exact = oracle(c, in);
          const std::vector<std::uint8_t> got =
              mt::kernels::run(ctx, std::string("attention_prefill_") + f.suffix, t, fused)
                  .outputs.at("out");
          attn::expect_attention_close(mt::test::unpack(got, t), exact, t, attn::max_abs(in.v),
                                       "against the f64 oracle", weight_rounding(c, in, t));
          const std::vector<std::uint8_t> reference =
              mt::kernels::run(ctx, mma_kernel(head_dim), t, raw_buffers(c, in, t))
                  .outputs.at("out");
          EXPECT_EQ(got, reference)
              << "against " << mma_kernel(head_dim) << " on the dequantised cache";
        }
      }
    }
  });
}

TEST(AttentionPrefill, ErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    Chunk c;
    c.positions = {3, 24};  // 24 is past the cache
    const attn::Inputs in = random_inputs(c, t, 7);
    mt::test::expect_mentions(
        mt::test::error_of(
            [&] { mt::kernels::run(ctx, "attention_prefill", t, raw_buffers(c, in, t)); }),
        {"attention_prefill", "positions", "out of bounds"});
    c.positions = {3, 4};
    const attn::Inputs good = random_inputs(c, t, 8);
    // A cache of one sequence: [Hkv, S, D], not one per token.
    mt::BufferMap b = raw_buffers(c, good, t);
    b["v"] = mt::test::poisoned(2 * c.cache_elements(), t);
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "attention_prefill", t, b); }),
        {"attention_prefill", "'v'", "n_kv_heads*max_seq*head_dim"});
    b = raw_buffers(c, good, t);
    b["out"] = mt::test::poisoned(c.q_row(), t);
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "attention_prefill", t, b); }),
        {"attention_prefill", "'out'", "len(positions)*n_q_heads*head_dim"});
    // The context still runs a good request.
    check(ctx, c, t, 9);
  });
}

}  // namespace
