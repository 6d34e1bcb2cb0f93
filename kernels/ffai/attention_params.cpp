// The parameters and host-side contract every decode-attention kernel shares, the positions a
// sequence attends to, how they are split, and the final normalisation with sinks.
#include <string>

#include "attention_kernel.hpp"

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

// The element count factors[0] * factors[1] * ... (checked contract arithmetic: a product
// past u32 is an error, never a wrapped count).
Val product(const std::vector<Val>& factors) {
  Val p = factors[0];
  for (std::size_t i = 1; i < factors.size(); ++i) p = p * factors[i];
  return p;
}

}  // namespace

std::uint32_t rows_per_step(CacheFormat f, DType t) {
  if (f == CacheFormat::Int4) return 4;
  return f == CacheFormat::Raw && t == F32 ? 1 : 2;
}

Request declare_request(KernelBuilder& k, DType t, CacheFormat f, Queries queries) {
  const bool prefill = queries == Queries::Prefill;
  Tensor q = k.input("q", t);
  CacheTensors kc = declare_cache(k, "k", t, f);
  CacheTensors vc = declare_cache(k, "v", t, f);
  Tensor lengths = k.input(prefill ? "positions" : "lengths", U32);
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
  const std::string count = prefill ? "len(positions)" : "len(lengths)";
  k.require(sequences > 0u, count + (prefill ? " > 0 (one position per query token)"
                                             : " > 0 (one length per "
                                               "sequence)"));
  k.require(sequences <= 65535u, count + " <= 65535 (threadgroups on grid axis 2)");
  require_sinks(k, sinks, n_q_heads, has_sinks);
  k.require_len(q, product({sequences, n_q_heads, head_dim}), count + "*n_q_heads*head_dim");

  // Prefill's tokens share one sequence's cache; decode's sequences have a cache each.
  auto require_cache = [&](const CacheTensors& c) {
    auto check = [&](const Tensor& x, const Val& per_row, const std::string& per_row_text) {
      if (prefill) {
        k.require_len(x, product({n_kv_heads, max_seq, per_row}),
                      "n_kv_heads*max_seq*" + per_row_text);
        return;
      }
      k.require_len(x, product({sequences, n_kv_heads, max_seq, per_row}),
                    "len(lengths)*n_kv_heads*max_seq*" + per_row_text);
    };
    if (f == CacheFormat::Raw) {
      check(c.tensors[0], head_dim, "head_dim");
      return;
    }
    const std::uint32_t per_word = 32 / code_bits(f);
    check(c.tensors[0], head_dim / per_word, "head_dim/" + std::to_string(per_word));
    const Val groups = head_dim / *group_size;
    for (std::size_t i = 1; i < c.tensors.size(); ++i) {
      check(c.tensors[i], groups, "(head_dim/group_size)");
    }
  };
  if (group_size) {
    k.require(*group_size > 0u && *group_size % kChannelsPerLane == 0u,
              "group_size is a positive multiple of 16 (a lane's 16 channels share a group)");
    k.require(head_dim % *group_size == 0u, "head_dim % group_size == 0");
  }
  require_cache(kc);
  require_cache(vc);

  return Request{.queries = queries,
                 .q = q,
                 .k = kc,
                 .v = vc,
                 .lengths = lengths,
                 .sinks = sinks,
                 .head_dim = head_dim,
                 .n_q_heads = n_q_heads,
                 .n_kv_heads = n_kv_heads,
                 .max_seq = max_seq,
                 .scale = scale,
                 .window = window,
                 .softcap = softcap,
                 .has_sinks = has_sinks,
                 .group_size = group_size,
                 .sequences = sequences,
                 .group = n_q_heads / n_kv_heads};
}

void require_query_shaped(KernelBuilder& k, const Request& r, const Tensor& x) {
  k.require_len(x, product({r.sequences, r.n_q_heads, r.head_dim}),
                r.queries == Queries::Prefill ? "len(positions)*n_q_heads*head_dim"
                                              : "len(lengths)*n_q_heads*head_dim");
}

void require_partials(KernelBuilder& k, const Val& rows, const Val& head_dim, const Tensor& part_o,
                      const Tensor& part_m, const Tensor& part_l) {
  const std::string per_row = "len(lengths)*n_q_heads*n_splits";
  k.require_len(part_o, rows * head_dim, per_row + "*head_dim");
  k.require_len(part_m, rows, per_row);
  k.require_len(part_l, rows, per_row);
}

void require_sinks(KernelBuilder& k, const Tensor& sinks, const Val& n_q_heads,
                   const Val& has_sinks) {
  // Without sinks the buffer may be empty (a bound placeholder) or hold n_q_heads unused.
  const Val may_be_empty = has_sinks == 0u && sinks.len() == 0u;
  k.require_len(sinks, select(may_be_empty, u32(0), n_q_heads),
                "n_q_heads (or 0 when has_sinks == 0)");
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

Span token_span(const Tensor& positions, const Val& t, const Val& max_seq, const Val& window) {
  const Val position = positions[t];
  const Val bad = position >= max_seq;
  // As in sequence_span: checked mode reports this load one past the end of `positions`.
  positions.load(select(bad, positions.len(), t));
  const Val end = select(bad, u32(0), position + 1u);
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
