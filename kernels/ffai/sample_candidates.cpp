// sample_candidates: the first kernel of the two-kernel sampling path. Each warp owns a slice
// of kSlice consecutive logits of one row (8 per lane, read coalesced), ranks them by order key
// after the penalty and temperature, and writes the slice's `reports` best (key, index) pairs,
// best first, by repeated warp-wide selection: each lane sorts its 8 logits in registers, every
// round the lanes offer their best remaining one, the warp keeps the best offer, and its lane
// moves on to its next. The group's slices (group_slices, a warp each) then merge their reports
// into one run (in registers of one warp when the run is at most 32 long, else a bitonic sort in
// threadgroup memory), which sample_pick merges with the other groups' runs; each slice's last
// report goes out on its own too.
//
// The penalty: the group's slices share a bitmap in threadgroup memory (one word per
// 32 logits, bit = lane), filled from the row's penalty ids before the slices are ranked. An id
// >= vocab is reported in checked mode by a probe load of penalty_ids past its end (the same
// device as embedding's), and otherwise ignored.
#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/kernels/ffai/sampling.hpp"
#include "sampling_math.hpp"
#include "sampling_params.hpp"
#include "sampling_register_sort.hpp"

namespace mt::kernels::ffai::sampling {
namespace {

constexpr std::uint32_t kWarpsMax = kMaxGroupSlices;

// Sets the bit of each penalised logit in [first, first + count) of `row`; ids >= vocab fail the
// probe in checked mode. The caller puts a barrier before and after.
void fill_penalty_bits(const RowInputs& in, const Val& row, const ArrayRef& bits, const Val& first,
                       const Val& count) {
  for (Val p : range(thread_id(0), in.n_penalty, threads_per_threadgroup(0))) {
    Val id = in.penalty_ids[row * in.n_penalty + p];
    if_(id >= in.vocab, [&] { in.penalty_ids.load(max(id, in.penalty_ids.len())); });
    if_(id >= first && id - first < count && id < in.vocab, [&] {
      Val local = id - first;
      atomic_or(bits, local >> 5u, u32(1) << (local & 31u));
    });
  }
}

void build_sample_candidates(KernelBuilder& k, DType T) {
  auto tensors = declare_row_tensors(k, T);
  Tensor cand_keys = k.output("cand_keys", kU32), cand_idx = k.output("cand_idx", kU32);
  Tensor last_keys = k.output("last_keys", kU32), last_idx = k.output("last_idx", kU32);
  RowInputs in = declare_row_scalars(k, tensors);
  CandidateLayout c = declare_candidate_layout(k, in);
  // A warp per slice of the group, groups on grid axis 0 and rows on axis 1: fewer warps
  // would leave part of the run unwritten, and axes the kernel does not read would repeat it.
  k.require(threads_per_threadgroup(0) == c.group_slices * 32u &&
                threads_per_threadgroup(1) == 1u && threads_per_threadgroup(2) == 1u,
            "tpg = (32 * group_slices, 1, 1)");
  k.require(threadgroups_per_grid(2) == 1u, "a 2-D grid: grid = (x, y, 1)");
  require_candidate_lengths(k, in, c, cand_keys, cand_idx, last_keys, last_idx);
  Val row = threadgroup_id(1), group = threadgroup_id(0);
  Val warp = warp_id(), lane = lane_id();
  Val slice = group * c.group_slices + warp;
  Val group_first = group * c.group_slices * kSlice;

  ArrayRef bits = k.threadgroup_array("penalty_bits", kU32, kWarpsMax * kPerLane);
  ArrayRef run_keys = k.threadgroup_array("run_keys", kU32, kMaxRun);
  ArrayRef run_idx = k.threadgroup_array("run_idx", kU32, kMaxRun);
  for (Val w : range(thread_id(0), u32(kWarpsMax * kPerLane), threads_per_threadgroup(0))) {
    bits[w] = u32(0);
  }
  barrier();
  if_(row < in.rows,
      [&] { fill_penalty_bits(in, row, bits, group_first, c.group_slices * kSlice); });
  barrier();

  // Uniform over the warp: every lane takes part in the shuffles below.
  Val active = row < in.rows && slice < c.slices && warp < c.group_slices;
  if_(active, [&] {
    std::vector<Entry> lane_entries;
    for (std::uint32_t e = 0; e < kPerLane; ++e) {
      Val i = slice * kSlice + e * 32u + lane;
      Val valid = i < in.vocab;
      Val x = in.logits[row * in.vocab + select(valid, i, u32(0))].to(kF32);
      Val word = bits[warp * kPerLane + e];
      Val penalised = ((word >> lane) & 1u) == 1u;
      Val key = order_key(sampling_logit(x, penalised, in.repetition_penalty, in.temperature));
      lane_entries.push_back(Entry{select(valid, key, u32(0)), select(valid, i, u32(kNoIndex))});
    }
    // The lane's logits best first; each round the warp takes the best of the lanes' first
    // entries and the winning lane moves its next one up (spent entries rank below every logit).
    sort_lane_entries(lane_entries);
    std::vector<Var> keys, idx;
    keys.reserve(kPerLane);
    idx.reserve(kPerLane);
    for (const Entry& e : lane_entries) {
      keys.emplace_back(e.key);
      idx.emplace_back(e.idx);
    }
    for (Val r : range(c.reports)) {
      auto [top_key, top_idx] = warp_top(keys[0], idx[0]);
      if_(lane == 0u, [&] {
        run_keys[warp * c.reports + r] = top_key;
        run_idx[warp * c.reports + r] = top_idx;
        if_(r + 1u == c.reports, [&] {
          last_keys[row * c.slices + slice] = top_key;
          last_idx[row * c.slices + slice] = top_idx;
        });
      });
      Val won = Val(idx[0]) == top_idx && Val(keys[0]) == top_key;
      for (std::uint32_t e = 0; e + 1 < kPerLane; ++e) {
        keys[e] = select(won, Val(keys[e + 1]), Val(keys[e]));
        idx[e] = select(won, Val(idx[e + 1]), Val(idx[e]));
      }
      keys[kPerLane - 1] = select(won, u32(0), Val(keys[kPerLane - 1]));
      idx[kPerLane - 1] = select(won, u32(kNoIndex), Val(idx[kPerLane - 1]));
    }
  }).else_([&] {
    // A slice past the row's end reports nothing: entries that rank below every logit.
    if_(lane == 0u && warp < c.group_slices, [&] {
      for (Val r : range(c.reports)) {
        run_keys[warp * c.reports + r] = u32(0);
        run_idx[warp * c.reports + r] = u32(kNoIndex);
      }
    });
  });
  barrier();
  // The group's reports as one run, best first; a group past the row's groups (an
  // over-dispatched grid) stores nothing: its run would land in the next row's.
  Val stores = row < in.rows && group < c.groups;
  Val run_base = (row * c.groups + group) * c.run;
  if_(c.run <= 32u, [&] {
    // A run of one warp's width: warp 0 merges the slices' sorted reports in registers.
    if_(warp == 0u, [&] {
      Val mine = lane < c.run;
      Val at = select(mine, lane, u32(0));
      Entry own{select(mine, Val(run_keys[at]), u32(0)),
                select(mine, Val(run_idx[at]), u32(kNoIndex))};
      Entry sorted = warp_merge_sorted_runs(own, c.reports);
      if_(stores && mine, [&] {
        cand_keys[run_base + lane] = sorted.key;
        cand_idx[run_base + lane] = sorted.idx;
      });
    });
  }).else_([&] {
    bitonic_sort(run_keys, run_idx, ceil_log2(c.run, 10));
    if_(stores, [&] {
      for (Val e : range(thread_id(0), c.run, threads_per_threadgroup(0))) {
        Val key = run_keys[e], index = run_idx[e];
        cand_keys[run_base + e] = key;
        cand_idx[run_base + e] = index;
      }
    });
  });
}

}  // namespace

KernelInfo sample_candidates::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_sample_candidates,
      .doc = {.summary = "sampling, first pass: the best few logits of every 256 of a row",
              .formula = "y = penalised logit / temperature (the logit when temperature = 0); "
                         "for each slice of 256 logits, the `reports` largest (order key of y, "
                         "index), larger key then lower index first; each group of slices' "
                         "reports sorted into one run",
              .buffers = {{"logits", "[B, V] T"},
                          {"penalty_ids", "[B, P] u32: ids whose logit is penalised"},
                          {"cand_keys",
                           "[B, groups, group_slices * reports] u32: each group's "
                           "reports, order keys, best first"},
                          {"cand_idx", "[B, groups, group_slices * reports] u32: their token ids"},
                          {"last_keys", "[B, slices] u32: each slice's last (worst) report"},
                          {"last_idx", "[B, slices] u32: its token id"}},
              .scalars = {{"vocab", "u32: V"},
                          {"temperature", "f32: >= 0"},
                          {"n_penalty", "u32: P"},
                          {"repetition_penalty", "f32: > 0 (1 = off)"},
                          {"reports", "u32: pairs each slice reports (a power of two <= 256)"},
                          {"group_slices",
                           "u32: slices a group sorts into one run (1, 2, 4 "
                           "or 8; the launch gives the group as many warps)"}},
              .geometry = "Grid3D: one warp per slice of 256 logits, group_slices warps a group; "
                          "grid (ceil(slices / group_slices), B)"},
      .geometry =
          [](const LaunchShape& s) {
            const std::size_t vocab = s.u32("vocab"), group_slices = s.u32("group_slices");
            const std::size_t slices = geometry::ceil_div(vocab, kSlice);
            const std::size_t rows = vocab == 0 ? 0 : s.elements("logits") / vocab;
            LaunchStep step;
            step.grid = {std::max<std::size_t>(1, geometry::ceil_div(slices, group_slices)),
                         std::max<std::size_t>(1, rows), 1};
            step.tpg = {32 * group_slices, 1, 1};
            return LaunchPlan{{}, {step}};
          },
      .bench = [](BenchScale s) { return candidate_cases(s, false); },
  };
}

}  // namespace mt::kernels::ffai::sampling
