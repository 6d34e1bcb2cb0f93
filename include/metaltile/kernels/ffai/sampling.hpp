// Token sampling (docs/kernels/sampling.md): one token per row of logits, generic over the
// logits' type T in {f32, f16, bf16}.
//
//  sample   logits [B, V], penalty_ids (u32) [B, P] -> out (u32) [B]
//           scalars vocab (V), temperature (f32; 0 = greedy argmax), top_k (u32; 0 = off),
//           top_p (f32; 1 = off), min_p (f32; 0 = off), seed_lo, seed_hi, offset (u32),
//           n_penalty (P; 0 = no penalty, penalty_ids empty), repetition_penalty (f32; 1 = off)
//
// Order: repetition penalty -> temperature -> top-k -> top-p (the smallest set reaching top_p of
// the top-k mass) -> min-p (drop below min_p times the top probability) -> renormalise -> draw
// with Philox4x32-10 keyed by (seed_lo, seed_hi), counter (offset, row, 0, 0). The same seed
// and offset give the same token on every backend.
//
// `sample` launched by name with 1 <= top_k <= 128 (or temperature 0) runs two kernels:
// sample_candidates (every 256 logits of a row report their best few) and sample_pick (one
// threadgroup per row merges the reports into the exact top-k and draws). Otherwise it takes
// the radix path: the cuts from histograms of the logits' order keys (three passes per cut) and
// exact integer masses, on one threadgroup per row (`sample`'s own kernel) or, for rows longer
// than a segment, over segments of each row: sample_top, sample_histogram (one launch a pass),
// sample_kept and sample_draw. Both give the same token.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
#define MT_FFAI_SAMPLING_KERNELS(X) \
  X(sample)                         \
  X(sample_candidates)              \
  X(sample_pick)                    \
  X(sample_top)                     \
  X(sample_histogram)               \
  X(sample_kept)                    \
  X(sample_draw)

namespace mt::kernels::ffai::sampling {

inline constexpr std::string_view kFamily = "ffai::sampling";
MT_FFAI_SAMPLING_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_FFAI_SAMPLING_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::ffai::sampling
