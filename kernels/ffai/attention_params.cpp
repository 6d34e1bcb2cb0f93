// The parameters and host-side contract every decode-attention kernel shares, the positions a
// sequence attends to, how they are split, and the final normalisation with sinks.
#include <string>

#include "attention_kernel.hpp"
#include "metaltile/core/error.hpp"

namespace mt::kernels::ffai::attention {
namespace {

constexpr DType F32 = DType::F32;
constexpr DType U32 = DType::U32;

CacheTensors declare_cache(KernelBuilder& k, const std::string& name, DType t, CacheFormat f) {
  if (f == CacheFormat::Raw) return {{k.input(name, t)}};
  CacheTensors c{{k.input(name + "_w", U32), k.input(name + "_s", t)}};
  if (has_bias(f)) c.tensors.push_back(k.input(name + "_b", t));
  return c;
}

// Requires len(x) == factors[n-1] * ... * factors[0] (innermost first), by division, so that
// no product can wrap around 32 bits. Every factor must already be required to be > 0.
void require_product(KernelBuilder& k, const Tensor& x, const std::vector<Val>& factors,
                     const std::string& text) {
  Val rest = x.len();
  Val holds = rest % factors[0] == 0u;
  for (std::size_t i = 0; i + 1 < factors.size(); ++i) {
    if (i > 0) holds = holds && rest % factors[i] == 0u;
    rest = rest / factors[i];
  }
  k.require(holds && rest == factors.back(), text);
}

}  // namespace

std::string format_suffix(CacheFormat f) {
  switch (f) {
    case CacheFormat::Raw: return "";
    case CacheFormat::Int4: return "_int4";
    case CacheFormat::Int8: return "_int8";
    case CacheFormat::Fp8E4M3: return "_fp8_e4m3";
    case CacheFormat::Fp8E5M2: return "_fp8_e5m2";
  }
  MT_ASSERT(false) << "unknown cache format";
  return "";
}

std::uint32_t code_bits(CacheFormat f) {
  switch (f) {
    case CacheFormat::Raw: return 0;
    case CacheFormat::Int4: return 4;
    case CacheFormat::Int8:
    case CacheFormat::Fp8E4M3:
    case CacheFormat::Fp8E5M2: return 8;
  }
  MT_ASSERT(false) << "unknown cache format";
  return 0;
}

bool has_bias(CacheFormat f) { return f == CacheFormat::Int4 || f == CacheFormat::Int8; }

std::uint32_t rows_per_step(CacheFormat f, DType t) {
  if (f == CacheFormat::Int4) return 4;
  return f == CacheFormat::Raw && t == F32 ? 1 : 2;
}

Request declare_request(KernelBuilder& k, DType t, CacheFormat f) {
  Tensor q = k.input("q", t);
  CacheTensors kc = declare_cache(k, "k", t, f);
  CacheTensors vc = declare_cache(k, "v", t, f);
  Tensor lengths = k.input("lengths", U32);
  Tensor sinks = k.input("sinks", F32);
  Val head_dim = k.scalar_u32("head_dim"), n_q_heads = k.scalar_u32("n_q_heads");
  Val n_kv_heads = k.scalar_u32("n_kv_heads"), max_seq = k.scalar_u32("max_seq");
  Val scale = k.scalar_f32("scale"), window = k.scalar_u32("window");
  Val softcap = k.scalar_f32("softcap"), has_sinks = k.scalar_u32("has_sinks");
  std::optional<Val> group_size;
  if (f != CacheFormat::Raw) group_size = k.scalar_u32("group_size");

  const Val lanes = head_dim / kChannelsPerLane;
  k.require(head_dim % kChannelsPerLane == 0u && lanes > 0u &&
                lanes <= kMaxHeadDim / kChannelsPerLane && (lanes & (lanes - 1u)) == 0u,
            "head_dim is 16, 32, 64, 128 or 256");
  k.require(n_kv_heads > 0u, "n_kv_heads > 0");
  k.require(n_kv_heads <= 65535u, "n_kv_heads <= 65535 (threadgroups on grid axis 1)");
  k.require(n_q_heads > 0u && n_q_heads % n_kv_heads == 0u,
            "n_q_heads is a positive multiple of n_kv_heads");
  k.require(max_seq > 0u, "max_seq > 0");
  k.require(softcap >= 0.0f, "softcap >= 0 (0: off)");
  k.require(has_sinks <= 1u, "has_sinks is 0 or 1");
  const Val sequences = lengths.len();
  k.require(sequences > 0u, "len(lengths) > 0 (one length per sequence)");
  k.require(sequences <= 65535u, "len(lengths) <= 65535 (threadgroups on grid axis 2)");
  k.require(sinks.len() == n_q_heads || (has_sinks == 0u && sinks.len() == 0u),
            "len(sinks) == n_q_heads (or 0 when has_sinks == 0)");
  require_product(k, q, {head_dim, n_q_heads, sequences},
                  "len(q) == len(lengths) * n_q_heads * head_dim");

  const std::vector<Val> per_row_outer = {max_seq, n_kv_heads, sequences};
  auto require_cache = [&](const CacheTensors& c, const std::string& name) {
    auto check = [&](const Tensor& x, const Val& per_row, const std::string& x_name,
                     const std::string& per_row_text) {
      std::vector<Val> factors = {per_row};
      factors.insert(factors.end(), per_row_outer.begin(), per_row_outer.end());
      require_product(
          k, x, factors,
          "len(" + x_name + ") == len(lengths) * n_kv_heads * max_seq * " + per_row_text);
    };
    if (f == CacheFormat::Raw) {
      check(c.tensors[0], head_dim, name, "head_dim");
      return;
    }
    const std::uint32_t per_word = 32 / code_bits(f);
    check(c.tensors[0], head_dim / per_word, name + "_w", "head_dim / " + std::to_string(per_word));
    const Val groups = head_dim / *group_size;
    for (std::size_t i = 1; i < c.tensors.size(); ++i) {
      check(c.tensors[i], groups, name + (i == 1 ? "_s" : "_b"), "(head_dim / group_size)");
    }
  };
  if (group_size) {
    k.require(*group_size > 0u && *group_size % kChannelsPerLane == 0u,
              "group_size is a positive multiple of 16 (a lane's 16 channels share a group)");
    k.require(head_dim % *group_size == 0u, "head_dim % group_size == 0");
  }
  require_cache(kc, "k");
  require_cache(vc, "v");

  return Request{
      q,       kc,    vc,     lengths, sinks,     head_dim,   n_q_heads, n_kv_heads,
      max_seq, scale, window, softcap, has_sinks, group_size, sequences, n_q_heads / n_kv_heads};
}

void require_query_shaped(KernelBuilder& k, const Request& r, const Tensor& x,
                          const std::string& name) {
  require_product(k, x, {r.head_dim, r.n_q_heads, r.sequences},
                  "len(" + name + ") == len(lengths) * n_q_heads * head_dim");
}

Span sequence_span(const Tensor& lengths, const Val& b, const Val& max_seq, const Val& window,
                   bool report_bad_length) {
  const Val length = lengths[b];
  const Val bad = length == 0u || length > max_seq;
  // Checked mode reports this access (one past the end of `lengths`) as an mt::Error naming
  // the kernel and `lengths`; unchecked, nothing is written because of it.
  if (report_bad_length) lengths.load(select(bad, lengths.len(), b));
  const Val end = select(bad, u32(0), length);
  const Val lo = select(window > 0u && window < end, end - window, u32(0));
  return Span{lo, end};
}

SplitChunk split_chunk(const Span& s, const Val& n_splits) {
  const Val n = s.end - s.lo;
  const Val per_split = n / n_splits + select(n % n_splits != 0u, u32(1), u32(0));
  const Val granules = (per_split + (kSplitGranule - 1u)) / kSplitGranule;
  const Val chunk = max(granules, 1u) * kSplitGranule;
  const Val used = n / chunk + select(n % chunk != 0u, u32(1), u32(0));
  return SplitChunk{chunk, used};
}

Val normalise(const Val& o, const Val& m, const Val& l, const Val& has_sinks, const Val& sink) {
  const Val with_sink = has_sinks != 0u;
  const Val sink_log2 = sink * kLog2e;
  const Val top = select(with_sink, max(m, sink_log2), m);
  const Val rescale = exp2(m - top);
  const Val denominator = l * rescale + select(with_sink, exp2(sink_log2 - top), f32(0.0f));
  // Nothing attended to and no sink: 0 (a NaN denominator still gives NaN).
  return select(denominator == 0.0f, f32(0.0f), o * rescale / denominator);
}

}  // namespace mt::kernels::ffai::attention
