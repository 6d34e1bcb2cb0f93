// The decode-attention compute kernel, for every cache format: one threadgroup per (split,
// KV head, sequence) (grid axes 0, 1, 2) reads its positions of K and V once for all the query
// heads of its KV head.
//
// Inside a threadgroup of 4 warps, each lane owns 16 channels of a row and a warp covers
// 32 / (head_dim / 16) rows at once, so a row group of head_dim / 16 lanes reads a row with
// 16-byte vector loads (8-byte for int4 codes). A warp computes 4 query heads at once; when a KV
// head has more than 4 query heads the warps divide the head blocks among them (each block's
// warps reading the same rows, L1 serving the repeats) and loop over rounds when there are more
// blocks than warps. Each row group keeps its own online softmax per head (running maximum m,
// sum l, unnormalised output o, scores in log2 units):
//   step: load rows_per_step K and V rows per lane, dequantise in registers, q . k per head
//         reduced over the row group with xor shuffles, then m' = max(m, s), l = l 2^(m-m') +
//         sum 2^(s-m'), o = o 2^(m-m') + sum 2^(s-m') v.
// At the end the row groups' states are merged by log-sum-exp, within a warp by shuffles and
// across warps through threadgroup memory, and the result written: normalised with the sinks (one
// pass), or as this split's o, m and l.
//
// Contracts (attention_params.cpp): 4 warps a 1-D threadgroup, and every buffer's length
// against len(lengths) and the scalars. Contract products cannot wrap, so the cache element
// ((b*n_kv_heads + kv_head)*max_seq + pos)*head_dim + d (pos < max_seq, the length is checked
// in the body), the query and output element (b*n_q_heads + head)*head_dim + d and the partial
// rows ((b*n_q_heads + head)*n_splits + split) are below the lengths of their buffers.
#include <bit>
#include <functional>
#include <optional>

#include "attention_kernel.hpp"

namespace mt::kernels::ffai::attention {
namespace {

constexpr DType F32 = DType::F32;

// log2 of x for x in {1, 2, 4, ..., 32}.
Val log2_small(const Val& x) {
  Val n = u32(0);
  for (std::uint32_t bit = 1; bit < 32; bit *= 2) n = n + select(x > bit, u32(1), u32(0));
  return n;
}

// Where this thread sits in the work of its threadgroup.
struct Layout {
  Val lane_log2;        // log2(lanes per row)
  Val row_groups;       // rows a warp reads at once (32 / lanes per row)
  Val row_group;        // this lane's row group in its warp
  Val lane_chunk;       // this lane's channel chunk in a row
  Val head_blocks;      // ceil(group / 4): blocks of 4 query heads
  Val parallel_blocks;  // head blocks computed at once (one or more warps each)
  Val streams;          // warps per head block
  Val rounds;           // passes over the head blocks
  Val block_in_round;   // this warp's head block within a round
  Val stream;           // this warp's index among its block's warps
};

Layout layout_of(const Request& r) {
  const Val lane = lane_id(), warp = warp_id();
  const Val lanes = r.head_dim / kChannelsPerLane;
  const Val lane_log2 = log2_small(lanes);
  const Val head_blocks = (r.group + (kHeadsPerWarp - 1u)) / kHeadsPerWarp;
  const Val parallel = min(head_blocks, kWarps);
  return Layout{lane_log2,
                u32(32) >> lane_log2,
                lane >> lane_log2,
                lane & (lanes - 1u),
                head_blocks,
                parallel,
                u32(kWarps) / parallel,
                (head_blocks + parallel - 1u) / parallel,
                warp % parallel,
                warp / parallel};
}

// The running softmax state of one row group for kHeadsPerWarp heads.
struct Stream {
  std::vector<Var> m, l;
  std::vector<std::vector<Var>> o;  // [head][channel]
};

// The per-head q . k of this lane's rows, summed over the row group's lanes.
std::vector<std::vector<Var>> row_group_dots(const std::vector<std::vector<Val>>& q,
                                             const std::vector<std::vector<Val>>& keys,
                                             const Layout& w) {
  // Vars are reserved, never reallocated: copying a Var makes a new local.
  std::vector<std::vector<Var>> dots(keys.size());
  for (std::size_t u = 0; u < keys.size(); ++u) {
    dots[u].reserve(kHeadsPerWarp);
    for (std::uint32_t h = 0; h < kHeadsPerWarp; ++h) {
      Val acc = q[h][0] * keys[u][0];
      for (std::uint32_t c = 1; c < kChannelsPerLane; ++c) acc = fma(q[h][c], keys[u][c], acc);
      dots[u].emplace_back(acc);
    }
  }
  // Lanes of a row group are aligned blocks of 2^lane_log2 lanes: xor over its low bits stays
  // inside the group and leaves every lane with the group's sum.
  for (Val bit : range(w.lane_log2)) {
    const Val mask = u32(1) << bit;
    for (auto& row : dots) {
      for (Var& d : row) d = d + warp_shuffle_xor(d, mask);
    }
  }
  return dots;
}

// One step of a row group: `rows` rows at `first`, `first + row_groups`, ... of which those
// below `end` count.
void attend_step(const Request& r, const Layout& w, const CacheReader& keys,
                 const CacheReader& values, const std::vector<std::vector<Val>>& q,
                 std::uint32_t rows, const Val& slot_base, const Val& first, const Val& end,
                 Stream& s) {
  std::vector<Val> valid;
  std::vector<RowLoad> k_rows, v_rows;
  for (std::uint32_t u = 0; u < rows; ++u) {
    const Val position = u == 0 ? first : first + w.row_groups * u;
    valid.push_back(position < end);
    // Rows past the end read the last valid row (in bounds) and weigh 0.
    const Val slot = slot_base + min(position, end - 1u);
    k_rows.push_back(keys.load(slot));
    v_rows.push_back(values.load(slot));
  }
  std::vector<std::vector<Val>> k_values;
  for (const RowLoad& row : k_rows) k_values.push_back(keys.decode(row));
  std::vector<std::vector<Var>> dots = row_group_dots(q, k_values, w);

  // Soft-capping (Gemma 2): s = softcap tanh(s / softcap), off when softcap is 0; the scores
  // are in log2 units already, and so is the cap.
  if_(r.softcap > 0.0f, [&] {
    const Val cap = r.softcap * kLog2e;
    const Val inverse = 1.0f / cap;
    for (auto& row : dots) {
      for (Var& d : row) d = cap * tanh(d * inverse);
    }
  });

  std::vector<Val> alpha;
  std::vector<std::vector<Val>> weights(kHeadsPerWarp);  // [head][row]
  for (std::uint32_t h = 0; h < kHeadsPerWarp; ++h) {
    std::vector<Val> scores;
    Val top = s.m[h];
    for (std::uint32_t u = 0; u < rows; ++u) {
      scores.push_back(select(valid[u], dots[u][h].read(), f32(-kInfinity)));
      top = max(top, scores.back());
    }
    alpha.push_back(exp2(s.m[h] - top));
    Val sum = s.l[h] * alpha.back();
    for (const Val& score : scores) {
      weights[h].push_back(exp2(score - top));
      sum = sum + weights[h].back();
    }
    s.l[h] = sum;
    s.m[h] = top;
  }

  std::vector<std::vector<Val>> v_values;
  for (const RowLoad& row : v_rows) v_values.push_back(values.decode(row));
  for (std::uint32_t h = 0; h < kHeadsPerWarp; ++h) {
    for (std::uint32_t c = 0; c < kChannelsPerLane; ++c) {
      Val acc = s.o[h][c] * alpha[h];
      for (std::uint32_t u = 0; u < rows; ++u) {
        acc = fma(weights[h][u], v_values[u][c], acc);
      }
      s.o[h][c] = acc;
    }
  }
}

// Merges the softmax states of the warp's row groups by log-sum-exp, exchanging them with xor
// shuffles over the lane bits that number the row groups, so that every row group ends with
// the warp's state.
void merge_row_groups(const Layout& w, Stream& s) {
  for (Val bit : range(w.lane_log2, 5u)) {
    const Val mask = u32(1) << bit;
    for (std::uint32_t h = 0; h < kHeadsPerWarp; ++h) {
      const Val m = s.m[h], l = s.l[h];
      const Val m_other = warp_shuffle_xor(m, mask), l_other = warp_shuffle_xor(l, mask);
      const Val top = max(m, m_other);
      const Val mine = exp2(m - top), theirs = exp2(m_other - top);
      s.l[h] = fma(l_other, theirs, l * mine);
      for (Var& o : s.o[h]) {
        const Val value = o;
        o = fma(warp_shuffle_xor(value, mask), theirs, value * mine);
      }
      s.m[h] = top;
    }
  }
}

// Threadgroup memory holding every warp's state for the merge.
struct MergeArrays {
  ArrayRef m, l, o;  // [warp][head] and [warp][head][channel]
};

// What a threadgroup writes for one query head's channel d once merged.
struct Result {
  Val q_head;  // the query head (kv_head * group + head)
  Val q_row;   // b * n_q_heads + q_head
  Val d;       // channel
  Val o, m, l;
};

// Merges the warps' states of each head block of this round and calls write(result) for each
// (head, channel) this thread owns. Runs between two barriers.
template <class Write>
void merge_round(const Request& r, const Layout& w, const MergeArrays& a, const Val& round,
                 const Val& q_head_base, const Val& q_row_base, Write write) {
  const Val dim_log2 = w.lane_log2 + std::uint32_t(std::bit_width(kChannelsPerLane) - 1);
  const Val outputs = w.parallel_blocks * kHeadsPerWarp * r.head_dim;
  for (Val idx : range(thread_id(0), outputs, u32(kThreads))) {
    const Val block_in_round = idx >> (dim_log2 + 2u);
    const Val h = (idx >> dim_log2) & (kHeadsPerWarp - 1u);
    const Val d = idx & (r.head_dim - 1u);
    const Val head = (round * w.parallel_blocks + block_in_round) * kHeadsPerWarp + h;
    if_(head < r.group, [&] {
      // The block's warps are stream * parallel_blocks + block_in_round.
      auto for_each_slot = [&](const std::function<void(const Val&)>& visit) {
        for (Val stream : range(w.streams)) {
          visit((stream * w.parallel_blocks + block_in_round) * kHeadsPerWarp + h);
        }
      };
      Var top = f32(kEmptyMax);
      for_each_slot([&](const Val& slot) { top = max(top, a.m[slot]); });
      Var l = f32(0.0f), o = f32(0.0f);
      for_each_slot([&](const Val& slot) {
        const Val weight = exp2(a.m[slot] - top);
        l = fma(weight, a.l[slot], l);
        o = fma(weight, a.o[slot * r.head_dim + d], o);
      });
      write(Result{q_head_base + head, q_row_base + head, d, o, top, l});
    });
  }
}

}  // namespace

void build_decode(KernelBuilder& k, DType t, CacheFormat f, DecodeOutput output, Queries queries) {
  const bool partial = output != DecodeOutput::Out;
  const bool merged = output == DecodeOutput::MergedPartials;
  MT_ASSERT(!(partial && queries == Queries::Prefill)) << "prefill attention has no split kernel";
  const bool prefill = queries == Queries::Prefill;
  const Request r = declare_request(k, t, f, queries);
  std::optional<Tensor> out, part_o, part_m, part_l, arrivals;
  std::optional<Val> n_splits;
  if (partial) {
    n_splits = k.scalar_u32("n_splits");
    k.require(*n_splits > 0u, "n_splits > 0");
    part_o = k.output("part_o", F32);
    part_m = k.output("part_m", F32);
    part_l = k.output("part_l", F32);
    require_partials(k, r.sequences * r.n_q_heads * *n_splits, r.head_dim, *part_o, *part_m,
                     *part_l);
  }
  if (!partial || merged) {
    out = k.output("out", t);
    require_query_shaped(k, r, *out);
  }
  if (merged) {
    arrivals = k.output("arrivals", DType::U32);
    k.require_len(*arrivals, r.sequences * r.n_kv_heads, "len(lengths)*n_kv_heads");
  }
  // The layout needs exactly kThreads threads a group; grid axes 0, 1, 2 are split, KV head
  // and sequence (prefill: query token), and groups past the work do nothing.
  k.require(threads_per_threadgroup(0) == kThreads, "tpg.x == " + std::to_string(kThreads));
  require_1d_threadgroup(k);

  wait_for_prior_kernel();  // overlap the kernel before (dsl/kernel_overlap.hpp)
  release_next_kernel();
  const Val split = threadgroup_id(0), kv_head = threadgroup_id(1), b = threadgroup_id(2);
  const Val splits = partial ? *n_splits : u32(1);
  const Val in_work = split < splits && kv_head < r.n_kv_heads && b < r.sequences;
  if_(in_work, [&] {
    const Span span = prefill ? token_span(r.lengths, b, r.max_seq, r.window)
                              : sequence_span(r.lengths, b, r.max_seq, r.window, true);
    const SplitChunk chunk = split_chunk(span, splits);
    // A split with no positions writes nothing (the combine skips it); the one-pass kernel
    // always writes (zeros for an empty sequence).
    const Val has_work = partial ? split < chunk.used : u32(1) == 1u;
    if_(has_work, [&] {
      const Layout w = layout_of(r);
      const Val begin = span.lo + split * chunk.chunk;
      const Val end = min(begin + chunk.chunk, span.end);
      const std::uint32_t rows = rows_per_step(f, t);
      const Val rows_per_stream_step = w.row_groups * rows;
      const Val block_step = w.streams * rows_per_stream_step;
      const Val steps = (end - begin + block_step - 1u) / block_step;
      // Prefill's tokens share one cache; decode's sequences each have their own.
      const Val slot_base = (prefill ? kv_head : b * r.n_kv_heads + kv_head) * r.max_seq;
      const Val q_head_base = kv_head * r.group;
      const Val q_row_base = b * r.n_q_heads + q_head_base;
      const CacheReader keys(f, r.k, r.head_dim, r.group_size, w.lane_chunk);
      const CacheReader values(f, r.v, r.head_dim, r.group_size, w.lane_chunk);
      const CacheReader queries(CacheFormat::Raw, CacheTensors{{r.q}}, r.head_dim, std::nullopt,
                                w.lane_chunk);
      const std::uint32_t slots = kWarps * kHeadsPerWarp;
      const MergeArrays merge{k.threadgroup_array("merge_m", F32, slots),
                              k.threadgroup_array("merge_l", F32, slots),
                              k.threadgroup_array("merge_o", F32, slots * kMaxHeadDim)};

      for (Val round : range(w.rounds)) {
        const Val block = round * w.parallel_blocks + w.block_in_round;
        if_(w.stream < w.streams && block < w.head_blocks, [&] {
          // This warp's query heads; past the KV head's last one it repeats the last (the
          // merge writes only real heads).
          // q scaled by scale * log2(e), so that q . k is the score in log2 units.
          const Val q_scale = r.scale * kLog2e;
          std::vector<std::vector<Val>> q;
          for (std::uint32_t h = 0; h < kHeadsPerWarp; ++h) {
            const Val head = min(block * kHeadsPerWarp + h, r.group - 1u);
            std::vector<Val> channels = queries.decode(queries.load(q_row_base + head));
            for (Val& c : channels) c = c * q_scale;
            q.push_back(channels);
          }
          Stream s;  // reserved: copying a Var would make a new local
          s.m.reserve(kHeadsPerWarp);
          s.l.reserve(kHeadsPerWarp);
          s.o.resize(kHeadsPerWarp);
          for (std::uint32_t h = 0; h < kHeadsPerWarp; ++h) {
            s.m.emplace_back(f32(kEmptyMax));
            s.l.emplace_back(f32(0.0f));
            s.o[h].reserve(kChannelsPerLane);
            for (std::uint32_t c = 0; c < kChannelsPerLane; ++c) s.o[h].emplace_back(f32(0.0f));
          }
          for (Val step : range(steps)) {
            const Val first =
                begin + step * block_step + w.stream * rows_per_stream_step + w.row_group;
            attend_step(r, w, keys, values, q, rows, slot_base, first, end, s);
          }
          merge_row_groups(w, s);
          // Row group 0 holds the warp's state: it writes it, each lane its channels.
          const Val slot = warp_id() * kHeadsPerWarp;
          if_(w.lane_chunk == 0u && w.row_group == 0u, [&] {
            for (std::uint32_t h = 0; h < kHeadsPerWarp; ++h) {
              merge.m[slot + h] = s.m[h].read();
              merge.l[slot + h] = s.l[h].read();
            }
          });
          if_(w.row_group == 0u, [&] {
            for (std::uint32_t h = 0; h < kHeadsPerWarp; ++h) {
              const Val at = (slot + h) * r.head_dim + w.lane_chunk * kChannelsPerLane;
              for (std::uint32_t c = 0; c < kChannelsPerLane; ++c) {
                merge.o[c == 0 ? at : at + c] = s.o[h][c].read();
              }
            }
          });
        });
        barrier();
        merge_round(r, w, merge, round, q_head_base, q_row_base, [&](const Result& res) {
          if (partial) {
            const Val row = res.q_row * splits + split;
            (*part_o)[row * r.head_dim + res.d] = res.o;
            if_(res.d == 0u, [&] {
              (*part_m)[row] = res.m;
              (*part_l)[row] = res.l;
            });
            return;
          }
          Var sink = f32(0.0f);
          if_(r.has_sinks != 0u, [&] { sink = r.sinks[res.q_head]; });
          (*out)[res.q_row * r.head_dim + res.d] =
              normalise(res.o, res.m, res.l, r.has_sinks, sink).to(t);
        });
        barrier();
      }
    });
    if (merged) {
      // Every split of (b, kv_head) counts itself in once its partials are written (splits
      // without positions too); the last to arrive merges them all, one warp a query head,
      // and sets the count back to 0 for the next launch.
      device_fence();  // this thread's partials, before the count
      barrier();       // every thread's
      const ArrayRef last = k.threadgroup_array("last_split", DType::U32, 1);
      const Val counter = b * r.n_kv_heads + kv_head;
      if_(thread_id(0) == 0u, [&] {
        const Val before = atomic_add(*arrivals, counter, u32(1));
        last[0] = select(before + 1u == splits, u32(1), u32(0));
      });
      barrier();
      if_(last[0] == 1u, [&] {
        device_fence();  // the other splits' partials, after their counts
        const MergeTeam warp{lane_id(), u32(32), warp_max, warp_sum};
        const Val q_head_base = kv_head * r.group;
        for (Val head : range(warp_id(), r.group, u32(kWarps))) {
          merge_splits(Partials{*part_o, *part_m, *part_l}, warp,
                       b * r.n_q_heads + q_head_base + head, q_head_base + head, chunk.used, splits,
                       r.head_dim, SinkTerm{r.sinks, r.has_sinks}, *out);
        }
        if_(thread_id(0) == 0u, [&] { (*arrivals)[counter] = u32(0); });
      });
    }
  });
}

}  // namespace mt::kernels::ffai::attention
