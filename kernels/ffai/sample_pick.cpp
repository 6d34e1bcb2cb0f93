// sample_pick: the second kernel of the two-kernel sampling path, one threadgroup per row.
//
// 1. Merge the row's runs (each group's reports, sorted) down to the best `keep` and take tau,
//    the keep-th best report. tau ranks no better than the keep-th best logit of the row, so
//    the row's top `keep` are all among the logits at least as good as tau: the reports down
//    to tau, plus logits a slice did not report. A slice can hide such logits only if its last
//    report made the cut (is at least tau); there are at most keep / reports such "saturated"
//    slices, and their unreported logits at least as good as tau are gathered after the first
//    `keep` entries.
// 2. If any were gathered, sort again: the first top_k entries are now the row's exact top-k.
// 3. Warp 0 weighs them (fixed-point W = floor(e^(y - y_max) * 2^31), exact f32 steps), prefix-
//    sums the weights in exact 64-bit integers, applies top-p and min-p, and draws with Philox:
//    the first kept entry whose running mass exceeds floor(u * Z), Z the kept mass.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/ffai/sampling.hpp"
#include "sampling_mass.hpp"
#include "sampling_math.hpp"
#include "sampling_params.hpp"
#include "sampling_register_sort.hpp"

namespace mt::kernels::ffai::sampling {
namespace {

// Each slice's last (worst) report, and the one of slice thread_id(0) loaded at the start (so
// its latency hides behind the merge).
struct LastReports {
  Tensor keys, idx;
  Val slices;
  Val own_key, own_idx;
  LastReports(const Tensor& k, const Tensor& i, const Val& n, const Val& row)
      : keys(k), idx(i), slices(n), own_key(keys[own_at(row)]), own_idx(idx[own_at(row)]) {}
  Val at(const Val& row, const Val& s) const { return row * slices + s; }
  Val own_at(const Val& row) const {
    Val tid = thread_id(0);
    return at(row, select(tid < slices, tid, u32(0)));
  }
  // Slice s's report; s == thread_id(0) reads the loaded one.
  std::pair<Val, Val> of(const Val& row, const Val& s) const {
    Val own = s == thread_id(0);
    Var k = own_key, i = own_idx;
    if_(!own, [&] {
      k = keys[at(row, s)];
      i = idx[at(row, s)];
    });
    return {k, i};
  }
};

// Step 1's gathering: the unreported logits of saturated slices that rank at least as well as
// (tau_key, tau_idx), appended to (keys, idx) from entry `keep` on; returns how many.
Val gather_hidden(KernelBuilder& k, const RowInputs& in, const LastReports& c, const Val& row,
                  const ArrayRef& keys, const ArrayRef& idx, const Val& keep, const Val& tau_key,
                  const Val& tau_idx) {
  Val tid = thread_id(0), threads = threads_per_threadgroup(0);
  ArrayRef slot_of = k.threadgroup_array("slot_of", kU32, kMaxSlices);
  ArrayRef saturated = k.threadgroup_array("saturated", kU32, kMaxSaturated);
  ArrayRef counts = k.threadgroup_array("counts", kU32, 2);  // saturated slices, gathered logits
  ArrayRef bits = k.threadgroup_array("sat_penalty_bits", kU32, kMaxSaturated * kPerLane);
  if_(tid == 0u, [&] {
    counts[0] = u32(0);
    counts[1] = u32(0);
  });
  for (Val w : range(tid, u32(kMaxSaturated * kPerLane), threads)) bits[w] = u32(0);
  barrier();
  for (Val s : range(tid, c.slices, threads)) {
    auto [last_key, last_idx] = c.of(row, s);
    Val made_cut = !ranks_before(tau_key, tau_idx, last_key, last_idx) && last_idx != kNoIndex;
    Var slot = u32(kNoIndex);
    if_(made_cut, [&] {
      Val n = atomic_add(counts, u32(0), u32(1));
      if_(n < kMaxSaturated, [&] {
        saturated[n] = s;
        slot = n;
      });
    });
    slot_of[s] = slot;
  }
  barrier();
  Val n_saturated = min(Val(counts[0]), kMaxSaturated);
  for (Val p : range(tid, in.n_penalty, threads)) {
    Val id = in.penalty_ids[row * in.n_penalty + p];
    if_(id < in.vocab, [&] {
      Val slot = slot_of[id / kSlice];
      if_(slot != kNoIndex, [&] {
        Val local = id % kSlice;
        atomic_or(bits, slot * kPerLane + (local >> 5u), u32(1) << (local & 31u));
      });
    });
  }
  barrier();
  for (Val e : range(tid, n_saturated * kSlice, threads)) {
    Val slot = e / kSlice, local = e % kSlice;
    Val s = saturated[slot];
    Val i = s * kSlice + local;
    if_(i < in.vocab, [&] {
      Val x = in.logits[row * in.vocab + i].to(kF32);
      Val penalised = ((Val(bits[slot * kPerLane + (local >> 5u)]) >> (local & 31u)) & 1u) == 1u;
      Val key = order_key(sampling_logit(x, penalised, in.repetition_penalty, in.temperature));
      Val last_key = c.keys[c.at(row, s)];
      Val last_idx = c.idx[c.at(row, s)];
      Val hidden = ranks_before(last_key, last_idx, key, i);
      Val good = !ranks_before(tau_key, tau_idx, key, i);
      if_(hidden && good, [&] {
        Val n = atomic_add(counts, u32(1), u32(1));
        keys[keep + n] = key;
        idx[keep + n] = i;
      });
    });
  }
  barrier();
  return counts[1];
}

// Step 3, on warp 0: entries [0, k) of (keys, idx) are the top-k, best first. Lane l owns
// entries 4l..4l+3. Returns the drawn token on every lane of warp 0.
Val draw(const DrawScalars& d, const ArrayRef& keys, const ArrayRef& idx, const Val& k,
         const Val& random_word) {
  constexpr std::uint32_t kPer = kMaxKeep / 32;
  Val lane = lane_id();
  Val top_key = keys[0];
  // Running sums of per-entry fixed-point masses: each entry's inclusive prefix over [0, 4l + q].
  auto prefix_sums = [&](const std::vector<Val>& mass) {
    std::vector<Wide> running;
    Wide lane_sum = wide(u32(0));
    for (const Val& m : mass) {
      lane_sum = lane_sum + wide(m);
      running.push_back(lane_sum);
    }
    Tally own{u32(0), lane_sum};
    Tally before = warp_inclusive_scan(own) - own;
    for (Wide& r : running) r = before.mass + r;
    return running;
  };
  std::vector<Val> entry, weight, fixed;
  for (std::uint32_t q = 0; q < kPer; ++q) {
    Val j = lane * kPer + q;
    Val key = keys[select(j < k, j, u32(0))];
    Val w = select(j < k, relative_weight(key, top_key), 0.0f);
    entry.push_back(j);
    weight.push_back(w);
    fixed.push_back(fixed_weight(w));
  }
  // top-p: the first m_p entries, m_p = 1 + the entries whose running mass is below the target
  // ceil(ceil(top_p * 2^31) * Z_k / 2^31), Z_k the top-k's mass.
  std::vector<Wide> cum = prefix_sums(fixed);
  Wide z_k = warp_shuffle(Tally{u32(0), cum[kPer - 1]}, u32(31)).mass;
  Wide p_target = mul_shift(z_k, ceil(d.top_p * kWeightOne).to(kU32), 31, true);
  Var below_p = u32(0);
  for (std::uint32_t q = 0; q < kPer; ++q) {
    below_p += select(entry[q] < k && cum[q] < p_target, u32(1), u32(0));
  }
  Val m = min(k, select(d.top_p < 1.0f, warp_sum(below_p) + 1u, k));
  // min-p drops entries with w < min_p; the draw: the first kept entry whose running kept mass
  // exceeds floor(u * Z).
  std::vector<Val> kept;
  for (std::uint32_t q = 0; q < kPer; ++q) {
    kept.push_back(select(entry[q] < m && weight[q] >= d.min_p, fixed[q], u32(0)));
  }
  std::vector<Wide> kept_cum = prefix_sums(kept);
  Wide z = warp_shuffle(Tally{u32(0), kept_cum[kPer - 1]}, u32(31)).mass;
  Wide target = mul_shift(z, random_word >> 8u, 24, false);
  Var not_past = u32(0);
  for (std::uint32_t q = 0; q < kPer; ++q) {
    not_past += select(entry[q] < k && kept_cum[q] <= target, u32(1), u32(0));
  }
  return idx[warp_sum(not_past)];
}

// Step 1 in registers, for runs of at most 32 entries, keep <= 64 and at most two runs a warp:
// the best 64 entries of all runs, sorted, to entries [0, 64) of (keys, idx). A warp holds 64
// entries, two a lane (positions lane and 32 + lane). Warp w first merges runs 2w and 2w + 1
// (bitonic: entry i against the other run's entry 31 - i, then half-cleaners in each half);
// then, level by level, warp w + 2^(L-1) leaves its 64 in threadgroup memory and warp w keeps
// the best 64 of both (entry p against the partner's 63 - p, then half-cleaners from 32 down).
// One barrier a level, instead of one a stage. `while_loading` runs between the loads and their
// first use.
void merge_runs_in_registers(const CandidateLayout& c, const Tensor& cand_keys,
                             const Tensor& cand_idx, const Val& row, const ArrayRef& keys,
                             const ArrayRef& idx, const std::function<void()>& while_loading) {
  constexpr std::uint32_t kWarpEntries = 64;
  Val warp = warp_id(), lane = lane_id();
  Val entries = c.groups * c.run;
  auto load = [&](const Val& run) {
    Val real = run < c.groups && lane < c.run;
    Val at = row * entries + select(real, run * c.run + lane, u32(0));
    Val key = cand_keys[at], index = cand_idx[at];
    return Entry{select(real, key, u32(0)), select(real, index, u32(kNoIndex))};
  };
  Entry a = load(warp * 2u), b = load(warp * 2u + 1u);
  while_loading();
  Entry a_flipped{warp_shuffle_xor(a.key, 31u), warp_shuffle_xor(a.idx, 31u)};
  Entry b_flipped{warp_shuffle_xor(b.key, 31u), warp_shuffle_xor(b.idx, 31u)};
  auto clean_halves = [](Entry low, Entry high) {
    for (std::uint32_t half = 16; half >= 1; half /= 2) {
      low = exchange_with(low, half, half);
      high = exchange_with(high, half, half);
    }
    return std::pair{low, high};
  };
  auto [low0, high0] = clean_halves(better_of(a, b_flipped), worse_of(b, a_flipped));
  Var low_key = low0.key, low_idx = low0.idx, high_key = high0.key, high_idx = high0.idx;

  Val groups_log2 = ceil_log2(c.groups, 6);
  for (std::uint32_t level = 1; level < 6; ++level) {
    const std::uint32_t span = 1u << level;  // warps whose runs are merged after this level
    if_(u32(level) < groups_log2, [&] {
      Val place = warp & (span - 1u);
      if_(place == span / 2, [&] {
        Val base = warp * kWarpEntries;
        keys[base + lane] = Val(low_key);
        idx[base + lane] = Val(low_idx);
        keys[base + 32u + lane] = Val(high_key);
        idx[base + 32u + lane] = Val(high_idx);
      });
      barrier();
      if_(place == 0u, [&] {
        Val partner = (warp + span / 2) * kWarpEntries;
        Entry low_other{keys[partner + 63u - lane], idx[partner + 63u - lane]};
        Entry high_other{keys[partner + 31u - lane], idx[partner + 31u - lane]};
        Entry low = better_of(Entry{low_key, low_idx}, low_other);
        Entry high = better_of(Entry{high_key, high_idx}, high_other);
        auto [l, h] = clean_halves(better_of(low, high), worse_of(low, high));
        low_key = l.key;
        low_idx = l.idx;
        high_key = h.key;
        high_idx = h.idx;
      });
    });
  }
  // Warp 0's own entries of threadgroup memory were never a partner's, so no barrier first.
  if_(warp == 0u, [&] {
    keys[lane] = Val(low_key);
    idx[lane] = Val(low_idx);
    keys[32u + lane] = Val(high_key);
    idx[32u + lane] = Val(high_idx);
  });
  barrier();
}

void build_sample_pick(KernelBuilder& k, DType T) {
  auto tensors = declare_row_tensors(k, T);
  Tensor cand_keys = k.input("cand_keys", kU32), cand_idx = k.input("cand_idx", kU32);
  Tensor last_keys = k.input("last_keys", kU32), last_idx = k.input("last_idx", kU32);
  Tensor out = k.output("out", kU32);
  RowInputs in = declare_row_scalars(k, tensors);
  DrawScalars d = declare_draw_scalars(k);
  CandidateLayout c = declare_candidate_layout(k, in);
  Val keep = k.scalar_u32("keep");
  Val groups_log2 = ceil_log2(c.groups, 12);
  require_1d_launch(k);
  k.require_len(out, in.rows, "rows = len(logits)/vocab");
  require_candidate_lengths(k, in, c, cand_keys, cand_idx, last_keys, last_idx);
  k.require(c.slices <= kMaxSlices, "ceil(vocab / 256) <= 1024");
  k.require(keep <= kMaxKeep && (keep & (keep - 1u)) == 0u && c.reports <= keep,
            "keep is a power of two <= 128 and >= reports");
  k.require((u32(1) << groups_log2) * c.run <= kMaxEntries && c.slices * c.reports >= keep,
            "keep <= slices * reports, and the runs (padded to a power of two) <= 4096 entries");
  k.require(keep + keep / c.reports * (kSlice - c.reports) <= kMaxEntries,
            "keep + keep / reports * (256 - reports) <= 4096");
  k.require((d.top_k > 0u && min(d.top_k, in.vocab) <= keep) || in.temperature == 0.0f,
            "1 <= min(top_k, vocab) <= keep unless temperature = 0");

  Val row = threadgroup_id(0);
  Val tid = thread_id(0), threads = threads_per_threadgroup(0);
  if_(row < in.rows, [&] {
    ArrayRef keys = k.threadgroup_array("keys", kU32, kMaxEntries);
    ArrayRef idx = k.threadgroup_array("idx", kU32, kMaxEntries);
    // Loaded and computed while the runs' entries are on their way: the last reports (for
    // step 1's gathering) and, on warp 0, the draw's random word (Philox: a long dependent chain).
    LastReports last{last_keys, last_idx, c.slices, row};
    Var random_word = u32(0);
    auto while_loading = [&] {
      if_(warp_id() == 0u, [&] {
        random_word = philox4x32_10({d.offset, row, u32(0), u32(0)}, d.seed_lo, d.seed_hi)[0];
      });
    };
    Val in_registers = c.run <= 32u && keep <= 64u && c.groups <= (threads >> 5u) * 2u;
    if_(in_registers, [&] {
      merge_runs_in_registers(c, cand_keys, cand_idx, row, keys, idx, while_loading);
    }).else_([&] {
      // The groups' runs, padded with empty runs to a power of two, merged to the best `keep`.
      Val entries = c.groups * c.run;
      for (Val e : range(tid, (u32(1) << groups_log2) * c.run, threads)) {
        Val real = e < entries;
        Val at = row * entries + select(real, e, u32(0));
        Val ke = cand_keys[at], ie = cand_idx[at];
        keys[e] = select(real, ke, u32(0));
        idx[e] = select(real, ie, u32(kNoIndex));
      }
      while_loading();
      barrier();
      merge_runs(keys, idx, groups_log2, ceil_log2(c.run, 10), ceil_log2(keep, 7));
    });
    Val tau_key = keys[keep - 1u], tau_idx = idx[keep - 1u];
    barrier();  // everyone has read tau before the gathered logits overwrite the tail

    Val gathered = gather_hidden(k, in, last, row, keys, idx, keep, tau_key, tau_idx);
    if_(gathered > 0u, [&] {
      Val total = keep + gathered;
      Val log2_total = ceil_log2(total, 12);
      for (Val e : range(tid + total, u32(1) << log2_total, threads)) {
        keys[e] = u32(0);
        idx[e] = u32(kNoIndex);
      }
      barrier();
      bitonic_sort(keys, idx, log2_total);
    });

    // Greedy decoding (and a row of NaN) takes the first entry; else draw from the first k,
    // k = top_k clipped to the vocabulary.
    if_(warp_id() == 0u, [&] {
      Var token = Val(idx[0]);
      if_(in.temperature > 0.0f && Val(keys[0]) != 0u,
          [&] { token = draw(d, keys, idx, min(d.top_k, in.vocab), random_word); });
      if_(lane_id() == 0u, [&] { out[row] = token; });
    });
  });
}

}  // namespace

KernelInfo sample_pick::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_sample_pick,
      .doc = {.summary = "sampling, second pass: merge the slices' reports into the exact top-k, "
                         "filter and draw",
              .formula = "as `sample`, for top_k <= keep (or temperature 0)",
              .buffers = {{"logits", "[B, V] T"},
                          {"penalty_ids", "[B, P] u32"},
                          {"cand_keys", "[B, groups, run] u32: sample_candidates' runs"},
                          {"cand_idx", "[B, groups, run] u32"},
                          {"last_keys", "[B, slices] u32: sample_candidates' last reports"},
                          {"last_idx", "[B, slices] u32"},
                          {"out", "[B] u32: the drawn token of each row"}},
              .scalars = {{"vocab", "u32: V"},
                          {"temperature", "f32: >= 0 (0: the best entry)"},
                          {"top_k", "u32: min(top_k, V) in 1..keep (any when temperature = 0)"},
                          {"top_p", "f32: (0, 1]"},
                          {"min_p", "f32: [0, 1]"},
                          {"seed_lo", "u32: Philox key, low word"},
                          {"seed_hi", "u32: Philox key, high word"},
                          {"offset", "u32: Philox counter word 0 (the row is word 1)"},
                          {"n_penalty", "u32: P"},
                          {"repetition_penalty", "f32: > 0"},
                          {"reports", "u32: as sample_candidates"},
                          {"group_slices", "u32: as sample_candidates"},
                          {"keep", "u32: candidates kept, a power of two >= top_k, <= 128"}},
              .geometry = "one threadgroup per row, up to 1024 threads (a pair of the merge "
                          "or a rescanned logit per thread)"},
      .geometry =
          [](const LaunchShape& s) {
            const std::size_t vocab = s.u32("vocab");
            CandidatePlan p;
            p.keep = s.u32("keep");
            p.reports = std::max<std::uint32_t>(1, s.u32("reports"));
            p.slices = static_cast<std::uint32_t>(geometry::ceil_div(vocab, kSlice));
            p.group_slices = std::max<std::uint32_t>(1, s.u32("group_slices"));
            p.groups = static_cast<std::uint32_t>(geometry::ceil_div(p.slices, p.group_slices));
            p.run = p.group_slices * p.reports;
            return geometry::rows(vocab == 0 ? 0 : s.elements("logits") / vocab, pick_threads(p));
          },
      .bench = [](BenchScale s) { return candidate_cases(s, true); },
  };
}

}  // namespace mt::kernels::ffai::sampling
