// The combine of split decode attention: one threadgroup per (query head, sequence) (grid axes
// 0, 1) merges the partial results of the splits that held positions by log-sum-exp,
//   M = max_s m_s,  out = sum_s 2^(m_s - M) o_s / (sum_s 2^(m_s - M) l_s + sink term),
// and writes the sequence's output row for that head. It is the same for every cache format.
// M and the denominator are reductions over the splits (merge_splits: the whole group here, a
// warp a head in the merged split kernels of attention_decode.cpp); each channel's sum loads
// kLoadsInFlight splits' rows before using them (one row at a time took 5.5 us for 33 splits
// on the H200, a chain of dependent L2 round trips).
// Contracts: every buffer's length against len(lengths) and the scalars (products checked), so
// (q_row*n_splits + s)*head_dim + d < len(part_o) for s < used <= n_splits and no index wraps.
#include "attention_kernel.hpp"

namespace mt::kernels::ffai::attention {

// Splits whose rows a thread loads before it uses any.
constexpr std::uint32_t kLoadsInFlight = 8;

void merge_splits(const Partials& p, const MergeTeam& team, const Val& q_row, const Val& q_head,
                  const Val& used, const Val& n_splits, const Val& head_dim,
                  const SinkTerm& sink_term, const Tensor& out) {
  const Val first = q_row * n_splits;
  // The splits' maximum and denominator: each member takes every team.size-th split, so the
  // loads of m and l are issued by many threads at once instead of one after another.
  Var own_top = f32(kEmptyMax);
  for (Val s : range(team.member, used, team.size)) own_top = max(own_top, p.m[first + s]);
  const Val top = team.max(own_top);
  Var own_l = f32(0.0f);
  for (Val s : range(team.member, used, team.size)) {
    own_l = fma(exp2(p.m[first + s] - top), p.l[first + s], own_l);
  }
  const Val l = team.sum(own_l);
  Var sink = f32(0.0f);
  if_(sink_term.has_sinks != 0u, [&] { sink = sink_term.sinks[q_head]; });
  for (Val d : range(team.member, head_dim, team.size)) {
    // kLoadsInFlight splits a trip, their loads independent of each other (a split past
    // `used` rereads the last one and weighs 0), so the row's latency is paid once a trip.
    Var o = f32(0.0f);
    for (Val s0 : range(u32(0), used, u32(kLoadsInFlight))) {
      for (std::uint32_t j = 0; j < kLoadsInFlight; ++j) {
        const Val s = min(s0 + j, used - 1u);
        const Val weight = select(s0 + j < used, exp2(p.m[first + s] - top), f32(0.0f));
        o = fma(weight, p.o[(first + s) * head_dim + d], o);
      }
    }
    out[q_row * head_dim + d] = normalise(o, top, l, sink_term.has_sinks, sink).to(out.dtype());
  }
}

void build_combine(KernelBuilder& k, DType t) {
  constexpr DType F32 = DType::F32;
  const Partials parts{k.input("part_o", F32), k.input("part_m", F32), k.input("part_l", F32)};
  Tensor lengths = k.input("lengths", DType::U32);
  Tensor sinks = k.input("sinks", F32);
  Tensor out = k.output("out", t);
  Val head_dim = k.scalar_u32("head_dim"), n_q_heads = k.scalar_u32("n_q_heads");
  Val max_seq = k.scalar_u32("max_seq"), window = k.scalar_u32("window");
  Val has_sinks = k.scalar_u32("has_sinks"), n_splits = k.scalar_u32("n_splits");

  k.require(head_dim > 0u, "head_dim > 0");
  k.require(n_q_heads > 0u, "n_q_heads > 0");
  k.require(n_splits > 0u, "n_splits > 0");
  k.require(has_sinks <= 1u, "has_sinks is 0 or 1");
  const Val sequences = lengths.len();
  k.require(sequences > 0u && sequences <= 65535u, "0 < len(lengths) <= 65535");
  require_sinks(k, sinks, n_q_heads, has_sinks);
  k.require_len(out, sequences * n_q_heads * head_dim, "len(lengths)*n_q_heads*head_dim");
  require_partials(k, sequences * n_q_heads * n_splits, head_dim, parts.o, parts.m, parts.l);
  // Grid axes 0 and 1 are query head and sequence; threads stride axis 0 of the group only.
  require_1d_threadgroup(k);
  k.require(threadgroups_per_grid(2) == 1u, "a 2-D grid: grid = (x, y, 1)");

  wait_for_prior_kernel();  // overlap the partial kernel's tail (dsl/kernel_overlap.hpp)
  release_next_kernel();
  const Val q_head = threadgroup_id(0), b = threadgroup_id(1);
  if_(q_head < n_q_heads && b < sequences, [&] {
    const Span span = sequence_span(lengths, b, max_seq, window, false);
    const SplitChunk chunk = split_chunk(span, n_splits);
    const MergeTeam group{thread_id(0), threads_per_threadgroup(0), threadgroup_max,
                          threadgroup_sum};
    merge_splits(parts, group, b * n_q_heads + q_head, q_head, chunk.used, n_splits, head_dim,
                 SinkTerm{sinks, has_sinks}, out);
  });
}

}  // namespace mt::kernels::ffai::attention
