// What the sampling kernels share: their common buffers, scalars and contracts, the sizes of
// the two-kernel path (sample_candidates + sample_pick) and the rule that chooses it, and the
// sizes of the radix path (sample's own kernel, or sample_top, sample_histogram, sample_kept and
// sample_draw over segments of a row).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/bench_case.hpp"
#include "metaltile/kernels/launch_plan.hpp"

namespace mt::kernels::ffai::sampling {

inline constexpr std::uint32_t kSlice = 256;  // logits a warp ranks (8 per lane)
inline constexpr std::uint32_t kPerLane = kSlice / 32;
inline constexpr std::uint32_t kMaxKeep = 128;       // the largest top_k of the two-kernel path
inline constexpr std::uint32_t kMaxEntries = 4096;   // (key, index) pairs sample_pick can sort
inline constexpr std::uint32_t kMaxSlices = 1024;    // slices a row may have there (V <= 262144)
inline constexpr std::uint32_t kMaxSaturated = 32;   // slices whose unreported logits it rescans
inline constexpr std::uint32_t kMaxGroupSlices = 8;  // slices (warps) of a sample_candidates group
inline constexpr std::uint32_t kMaxRun = 1024;       // entries of a group's sorted run
inline constexpr std::uint32_t kCandidateThreads = 32 * kMaxGroupSlices;
inline constexpr std::uint32_t kPickThreads = 1024;

// The logits and the repetition penalty, which every sampling kernel reads.
struct RowInputs {
  Tensor logits, penalty_ids;
  Val vocab, temperature, n_penalty, repetition_penalty;
  Val rows;  // len(logits) / vocab
};

// Declares logits (T) and penalty_ids (u32) and the scalars that go with them. Call first, then
// the kernel's outputs, then declare_row_scalars: parameters are listed in declaration order.
inline std::pair<Tensor, Tensor> declare_row_tensors(KernelBuilder& k, DType t) {
  return {k.input("logits", t), k.input("penalty_ids", DType::U32)};
}

inline RowInputs declare_row_scalars(KernelBuilder& k, std::pair<Tensor, Tensor> tensors) {
  Val vocab = k.scalar_u32("vocab"), temperature = k.scalar_f32("temperature");
  Val n_penalty = k.scalar_u32("n_penalty"), penalty = k.scalar_f32("repetition_penalty");
  RowInputs in{tensors.first,
               tensors.second,
               vocab,
               temperature,
               n_penalty,
               penalty,
               tensors.first.len() / vocab};
  k.require(vocab > 0u, "vocab > 0");
  k.require_len_multiple(in.logits, vocab, "vocab (whole rows)");
  k.require_len(in.penalty_ids, in.rows * in.n_penalty, "rows*n_penalty, rows = len(logits)/vocab");
  k.require(in.temperature >= 0.0f, "temperature >= 0");
  k.require(in.repetition_penalty > 0.0f, "repetition_penalty > 0");
  return in;
}

// The scalars of the filters and the draw.
struct DrawScalars {
  Val top_k, top_p, min_p, seed_lo, seed_hi, offset;
};

inline DrawScalars declare_draw_scalars(KernelBuilder& k) {
  DrawScalars d{k.scalar_u32("top_k"),   k.scalar_f32("top_p"),   k.scalar_f32("min_p"),
                k.scalar_u32("seed_lo"), k.scalar_u32("seed_hi"), k.scalar_u32("offset")};
  k.require(d.top_p > 0.0f && d.top_p <= 1.0f, "0 < top_p <= 1");
  k.require(d.min_p >= 0.0f && d.min_p <= 1.0f, "0 <= min_p <= 1");
  return d;
}

// The layout of the reports between the two kernels of the path (scalars reports and
// group_slices), with its contracts.
struct CandidateLayout {
  Val reports, group_slices;
  Val slices, groups, run;  // slices of 256, groups of group_slices slices, entries a run
};

inline CandidateLayout declare_candidate_layout(KernelBuilder& k, const RowInputs& in) {
  Val reports = k.scalar_u32("reports"), group_slices = k.scalar_u32("group_slices");
  Val slices = (in.vocab + (kSlice - 1)) / kSlice;
  k.require(reports > 0u && reports <= kSlice && (reports & (reports - 1u)) == 0u,
            "reports is a power of two <= 256");
  k.require(group_slices > 0u && group_slices <= kMaxGroupSlices &&
                (group_slices & (group_slices - 1u)) == 0u,
            "group_slices is 1, 2, 4 or 8");
  k.require(reports * group_slices <= kMaxRun, "reports * group_slices <= 1024");
  return CandidateLayout{reports, group_slices, slices, (slices + group_slices - 1u) / group_slices,
                         reports * group_slices};
}

// The reports between the two kernels: cand_* [rows, groups, run], last_* [rows, slices].
// Contract products cannot wrap, so every index (row*groups + group)*run + e and
// row*slices + slice of a row < rows, group < groups, slice < slices is below these lengths.
inline void require_candidate_lengths(KernelBuilder& k, const RowInputs& in,
                                      const CandidateLayout& c, const Tensor& cand_keys,
                                      const Tensor& cand_idx, const Tensor& last_keys,
                                      const Tensor& last_idx) {
  const std::string runs =
      "rows*groups*group_slices*reports, rows = len(logits)/vocab, groups = "
      "ceil(ceil(vocab/256)/group_slices)";
  k.require_len(cand_keys, in.rows * c.groups * c.run, runs);
  k.require_len(cand_idx, in.rows * c.groups * c.run, runs);
  const std::string lasts = "rows*ceil(vocab/256), rows = len(logits)/vocab";
  k.require_len(last_keys, in.rows * c.slices, lasts);
  k.require_len(last_idx, in.rows * c.slices, lasts);
}

// The sizes of the two-kernel path for one request. Each slice of kSlice logits reports its
// `reports` best (key, index) pairs; a group of `group_slices` slices (a warp each) sorts its
// reports into one run of `run` = group_slices * reports entries; sample_pick merges the runs
// and keeps the best `keep` (top_k rounded up to a power of two). It fits when the runs (padded
// to a power of two) fit its 4096-entry buffer, and so do the logits it may have to rescan:
// the slices whose every report made the cut, at most keep / reports of them. The fewest
// reports that allow it are keep / 16 (V = 128256, keep 64: 4 a slice, runs of 32).
struct CandidatePlan {
  std::uint32_t keep = 0, reports = 0, slices = 0, group_slices = 0, groups = 0, run = 0;
  bool fits = false;
};

inline CandidatePlan candidate_plan(std::size_t vocab, std::uint32_t top_k, float temperature) {
  CandidatePlan p;
  const std::size_t k = top_k == 0 ? vocab : std::min<std::size_t>(top_k, vocab);
  const bool greedy = temperature == 0.0f;
  if (vocab == 0 || (!greedy && (top_k == 0 || k > kMaxKeep))) return p;
  p.keep = greedy ? 1u : static_cast<std::uint32_t>(std::bit_ceil(k));
  p.slices = static_cast<std::uint32_t>(geometry::ceil_div(vocab, kSlice));
  p.reports = std::max<std::uint32_t>(1, p.keep / (kMaxEntries / kSlice));
  if (std::size_t{p.slices} * p.reports < p.keep) {
    p.reports = static_cast<std::uint32_t>(std::bit_ceil(geometry::ceil_div(p.keep, p.slices)));
  }
  p.group_slices = std::min<std::uint32_t>(kMaxGroupSlices, std::bit_ceil(p.slices));
  p.groups = static_cast<std::uint32_t>(geometry::ceil_div(p.slices, p.group_slices));
  p.run = p.group_slices * p.reports;
  const std::size_t merged = std::bit_ceil(std::size_t{p.groups}) * p.run;
  const std::size_t rescanned = std::size_t{p.keep / p.reports} * (kSlice - p.reports);
  p.fits = p.slices <= kMaxSlices && p.run <= kMaxRun && merged <= kMaxEntries &&
           p.keep + rescanned <= kMaxEntries;
  return p;
}

// A benchmark case of the two kernels of the path (`rows` rows of V logits, top_k 50, top-p
// 0.9): `pick` adds sample_pick's tensors and scalars.
inline BenchCase candidate_case(BenchScale scale, std::size_t rows, bool pick) {
  const bool full = scale == BenchScale::Full;
  const std::size_t vocab = full ? 128256 : 1000;
  const CandidatePlan p = candidate_plan(vocab, 50, 1.0f);
  const std::size_t entries = rows * p.groups * p.run, lasts = rows * p.slices;
  BenchCase b{
      "B" + std::to_string(rows) + " V" + std::to_string(vocab) + " keep " + std::to_string(p.keep),
      DType::F32,
      {},
      {},
      {},
      0.0,
      0.0};
  b.elements = {{"logits", rows * vocab}, {"penalty_ids", rows}, {"cand_keys", entries},
                {"cand_idx", entries},    {"last_keys", lasts},  {"last_idx", lasts}};
  b.scalars = {{"vocab", std::uint32_t(vocab)},
               {"temperature", 1.0f},
               {"n_penalty", 1u},  // tile bench cannot bind an empty tensor
               {"repetition_penalty", 1.0f},
               {"reports", p.reports},
               {"group_slices", p.group_slices}};
  b.fills = {{"logits", BenchFill::uniform(-8.0, 8.0)},
             {"penalty_ids", BenchFill::below(std::uint32_t(vocab))}};
  b.bytes = double(rows * vocab * 4) + 8.0 * double(entries + lasts);
  if (pick) {
    b.elements["out"] = rows;
    b.scalars.insert({{"top_k", 50u},
                      {"top_p", 0.9f},
                      {"min_p", 0.0f},
                      {"seed_lo", 1u},
                      {"seed_hi", 2u},
                      {"offset", 3u},
                      {"keep", p.keep}});
    b.bytes = 8.0 * double(entries + lasts) + 4.0 * double(rows);
  }
  return b;
}

// The cases of either kernel: `sample`'s B 1 and B 64 (two rows at smoke scale).
inline std::vector<BenchCase> candidate_cases(BenchScale scale, bool pick) {
  if (scale != BenchScale::Full) return {candidate_case(scale, 2, pick)};
  return {candidate_case(scale, 1, pick), candidate_case(scale, 64, pick)};
}

// Threads of a sample_pick group: enough for the merges (a pair per thread per stage) and
// the rescans, at least a warp; the largest rows get kPickThreads.
inline std::size_t pick_threads(const CandidatePlan& p) {
  const std::size_t merged = std::bit_ceil(std::size_t{std::max(p.groups, 1u)}) * p.run;
  const std::size_t rescanned = std::size_t{p.keep / std::max(p.reports, 1u)} * kSlice;
  return std::clamp<std::size_t>(
      std::bit_ceil(std::max<std::size_t>(std::max(merged, rescanned) / 2, 1)), 32, kPickThreads);
}

// ---- the radix path ------------------------------------------------------------------------

inline constexpr std::uint32_t kThreads = 256;              // threads of a group
inline constexpr std::uint32_t kUnroll = 8;                 // logits of a thread in a tile
inline constexpr std::uint32_t kTile = kThreads * kUnroll;  // 2048: the unit of kept tallies
inline constexpr std::uint32_t kChunk = 32768;              // logits per penalty bitmap (4 KiB)
inline constexpr std::uint32_t kBuckets = 2048;             // digits of a level (11 bits)
inline constexpr std::uint32_t kCoarse = kBuckets / 32;     // sums of 32 neighbouring digits
// A row's histogram in global memory: per digit (and coarse sum) a count and the mass in three
// limbs (bits 0-15, 16-31, 32 and up) that the segments add without carries.
inline constexpr std::uint32_t kHistWords = 4 * (kBuckets + kCoarse);
inline constexpr std::uint32_t kMaxSegments = 65535;            // limb sums stay below 2^32
inline constexpr std::uint32_t kSelectLevels = 3;               // digits of a key
inline constexpr std::uint32_t kMaxPasses = 2 * kSelectLevels;  // top-k, then top-p
inline constexpr std::uint32_t kStateWords = 8;                 // a stored state or cut
inline constexpr std::uint32_t kCutSlot = kMaxPasses;  // state slots: one a pass, then the cut
inline constexpr std::uint32_t kStateSlots = kMaxPasses + 1;
// Groups a launch of the segment kernels aims at (about a wave on an H100: 132 SMs, 7 groups of
// 30 KiB threadgroup memory each).
inline constexpr std::size_t kTargetGroups = 1024;

// How the radix path splits a request: rows of `segments` segments of `segment` logits (a
// multiple of kTile, at most kChunk), one group each (1: sample's own kernel, a group a row); the
// histogram passes its cuts need (three for top-k when 0 < top_k < V, three for top-p when top_p <
// 1; none when greedy).
struct SegmentPlan {
  std::uint32_t segment = 0, segments = 0, tiles = 0, passes = 0;
};

inline SegmentPlan segment_plan(std::size_t vocab, std::size_t rows, std::uint32_t top_k,
                                float top_p, float temperature) {
  SegmentPlan p;
  if (vocab == 0) return p;
  const std::size_t tiles = geometry::ceil_div(vocab, kTile);
  const std::size_t wanted = geometry::ceil_div(kTargetGroups, std::max<std::size_t>(rows, 1));
  const std::size_t fewest = geometry::ceil_div(tiles, kChunk / kTile);
  const std::size_t segments = std::clamp(wanted, fewest, std::max<std::size_t>(tiles, 1));
  p.segment = static_cast<std::uint32_t>(geometry::ceil_div(tiles, segments) * kTile);
  p.segments = static_cast<std::uint32_t>(geometry::ceil_div(vocab, p.segment));
  // Rows of more than 65535 segments (V > 2^31) go to sample's own kernel, a group per row.
  if (p.segments > kMaxSegments) p.segments = 1;
  p.tiles = static_cast<std::uint32_t>(tiles);
  const bool sampled = temperature > 0.0f;
  p.passes = (sampled && top_k > 0 && top_k < vocab ? kSelectLevels : 0) +
             (sampled && top_p < 1.0f ? kSelectLevels : 0);
  return p;
}

}  // namespace mt::kernels::ffai::sampling
