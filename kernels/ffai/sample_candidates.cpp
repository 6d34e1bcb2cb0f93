// sample_candidates: the first kernel of the two-kernel sampling path. Each warp owns a slice
// of kSlice consecutive logits of one row (8 per lane, read coalesced), ranks them by order key
// after the penalty and temperature, and writes the slice's `reports` best (key, index) pairs,
// best first, by repeated warp-wide selection: every lane offers its best remaining logit, the
// warp keeps the best offer, and its lane drops that logit. Sample_pick merges the reports.
//
// The penalty: the threadgroup's 8 slices share a bitmap in threadgroup memory (one word per
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

namespace mt::kernels::ffai::sampling {
namespace {

constexpr std::uint32_t kWarpsMax = 32;

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
  RowInputs in = declare_row_scalars(k, tensors);
  Val reports = k.scalar_u32("reports");
  Val slices = (in.vocab + (kSlice - 1)) / kSlice;
  k.require(reports > 0u && reports <= kSlice, "0 < reports <= 256");
  k.require(cand_keys.len() == in.rows * slices * reports,
            "len(cand_keys) == len(logits) / vocab * ceil(vocab / 256) * reports");
  k.require(cand_idx.len() == cand_keys.len(), "len(cand_idx) == len(cand_keys)");

  Val row = threadgroup_id(1);
  Val warps = threads_per_threadgroup(0) >> 5u;
  Val slice = threadgroup_id(0) * warps + warp_id();
  Val group_first = threadgroup_id(0) * warps * kSlice;

  ArrayRef bits = k.threadgroup_array("penalty_bits", kU32, kWarpsMax * kPerLane);
  for (Val w : range(thread_id(0), u32(kWarpsMax * kPerLane), threads_per_threadgroup(0))) {
    bits[w] = u32(0);
  }
  barrier();
  if_(row < in.rows, [&] { fill_penalty_bits(in, row, bits, group_first, warps * kSlice); });
  barrier();

  // Uniform over the warp: every lane takes part in the shuffles below.
  if_(row < in.rows && slice < slices, [&] {
    Val lane = lane_id();
    ArrayRef keys = k.thread_array("keys", kU32, kPerLane);
    ArrayRef idx = k.thread_array("idx", kU32, kPerLane);
    for (std::uint32_t e = 0; e < kPerLane; ++e) {
      Val i = slice * kSlice + e * 32u + lane;
      Val valid = i < in.vocab;
      Val x = in.logits[row * in.vocab + select(valid, i, u32(0))].to(kF32);
      Val word = bits[warp_id() * kPerLane + e];
      Val penalised = ((word >> lane) & 1u) == 1u;
      Val key = order_key(sampling_logit(x, penalised, in.repetition_penalty, in.temperature));
      keys[e] = select(valid, key, u32(0));
      idx[e] = select(valid, i, u32(kNoIndex));
    }
    Val out_first = (row * slices + slice) * reports;
    for (Val r : range(reports)) {
      // This lane's best remaining logit (its 8 are unrolled, so they stay in registers).
      Var best_key = Val(keys[0]), best_idx = Val(idx[0]), best_at = u32(0);
      for (std::uint32_t e = 1; e < kPerLane; ++e) {
        Val ke = keys[e], ie = idx[e];
        Val better = ranks_before(ke, ie, best_key, best_idx);
        best_key = select(better, ke, best_key);
        best_idx = select(better, ie, best_idx);
        best_at = select(better, u32(e), best_at);
      }
      auto [top_key, top_idx] = warp_top(best_key, best_idx);
      if_(lane == 0u, [&] {
        cand_keys[out_first + r] = top_key;
        cand_idx[out_first + r] = top_idx;
      });
      // The winning lane drops its logit (spent entries rank below every logit).
      Val won = best_idx == top_idx && best_key == top_key;
      for (std::uint32_t e = 0; e < kPerLane; ++e) {
        Val drop = won && Val(best_at) == e;
        keys[e] = select(drop, u32(0), keys[e]);
        idx[e] = select(drop, u32(kNoIndex), idx[e]);
      }
    }
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
                         "for each slice s of 256 logits, the `reports` largest (order key of y, "
                         "index), larger key then lower index first",
              .buffers = {{"logits", "[B, V] T"},
                          {"penalty_ids", "[B, P] u32: ids whose logit is penalised"},
                          {"cand_keys", "[B, ceil(V / 256), reports] u32: order keys, best first"},
                          {"cand_idx", "[B, ceil(V / 256), reports] u32: their token ids"}},
              .scalars = {{"vocab", "u32: V"},
                          {"temperature", "f32: >= 0"},
                          {"n_penalty", "u32: P"},
                          {"repetition_penalty", "f32: > 0 (1 = off)"},
                          {"reports", "u32: pairs each slice reports (1..256)"}},
              .geometry = "Grid3D: one warp per slice of 256 logits, up to 8 warps a group; "
                          "grid (ceil(slices / warps), B)"},
      .geometry =
          [](const LaunchShape& s) {
            const std::size_t vocab = s.u32("vocab");
            const std::size_t slices = geometry::ceil_div(vocab, kSlice);
            const std::size_t rows = vocab == 0 ? 0 : s.elements("logits") / vocab;
            const std::size_t warps = candidate_threads(slices) / 32;
            LaunchStep step;
            step.grid = {std::max<std::size_t>(1, geometry::ceil_div(slices, warps)),
                         std::max<std::size_t>(1, rows), 1};
            step.tpg = {warps * 32, 1, 1};
            return LaunchPlan{{}, {step}};
          },
      .bench = [](BenchScale s) { return std::vector<BenchCase>{candidate_case(s, false)}; },
  };
}

}  // namespace mt::kernels::ffai::sampling
