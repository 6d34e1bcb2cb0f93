// The geometry of the many-short-rows RMS norm, shared by its own registry entry and by
// mlx rms_norm, whose geometry rule hands rows of n <= kShortRowMax to it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <string>

#include "metaltile/kernels/launch_plan.hpp"

namespace mt::kernels::ffai::norms {

// Rows up to this length go to rms_norm_short_rows (Qwen3's per-head q/k norm: n = head_dim).
inline constexpr std::size_t kShortRowMax = 256;
// Threads per threadgroup of the short-rows kernel (it holds 256 / team rows).
inline constexpr std::size_t kShortRowThreads = 256;

// Lanes that share one row: one 16-byte vector (or one element, when n is not a multiple of
// the vector width) per lane, at most a warp. The kernel derives the same number from n.
inline std::size_t short_row_team(std::size_t n, DType t) {
  const std::size_t lanes = 16 / size_of(t);
  const std::size_t work = n % lanes == 0 ? n / lanes : n;
  return std::min<std::size_t>(std::bit_ceil(std::max<std::size_t>(work, 1)), 32);
}

// One launch of `kernel` (empty: the entry's own) over len(x) / n rows, kShortRowThreads / team
// rows a threadgroup.
inline LaunchPlan short_rows_plan(const LaunchShape& s, const std::string& kernel) {
  const std::size_t n = s.u32("n");
  const std::size_t rows = n == 0 ? 0 : s.elements("x") / n;
  const std::size_t rows_per_group = kShortRowThreads / short_row_team(n, s.dtype());
  LaunchStep step;
  step.kernel = kernel;
  step.grid = {std::max<std::size_t>(1, geometry::ceil_div(rows, rows_per_group)), 1, 1};
  step.tpg = {kShortRowThreads, 1, 1};
  return LaunchPlan{{}, {step}};
}

}  // namespace mt::kernels::ffai::norms
