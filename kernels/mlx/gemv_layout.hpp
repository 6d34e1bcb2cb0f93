// What the dense and the quantised GEMV share: how warps map to weight rows, how the M rows of
// x are addressed, how the per-lane sums leave the warp, the launch rule and the benchmark
// shapes (the projections of an 8B model and its LM head).
//
// Layout: KernelMode::Reduction, kGemvWarps warps a threadgroup. Warp w of group g owns weight
// rows (g * kGemvWarps + w) * R + r for r < R; its 32 lanes split each row along K, and every
// lane keeps one f32 sum per (row r, x-row m). x-rows m >= M read row M - 1 (so every load
// stays in bounds without a branch) and are never stored; weight rows past N likewise re-read
// row N - 1 and are never stored.
#pragma once

#include <bit>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/kernel_info.hpp"

namespace mt::kernels::mlx {

inline constexpr std::uint32_t kGemvWarps = 4;
inline constexpr std::uint32_t kGemvThreads = 32 * kGemvWarps;

// A variant's trace-time shape: x-rows per pass (the accumulators of one weight row) and
// weight rows per warp (how often each x load is reused).
struct GemvTiling {
  std::uint32_t x_rows = 1;
  std::uint32_t rows_per_warp = 1;
};

// Where this warp works and what it reads.
struct GemvPlace {
  Val lane;
  Val m_count;                  // M = len(x) / k
  Val first_row;                // the warp's first weight row
  std::vector<Val> load_rows;   // min(first_row + r, n - 1): rows past n are never stored
  std::vector<Val> x_row_base;  // min(m, M - 1) * k
  Val active;                   // first_row < n (uniform over the warp)
};

// Requires the launch the warp layout is written for (1-D, kGemvThreads threads a group: warp
// w of group g owns rows from (g * kGemvWarps + w) * R, so a smaller group would skip rows and
// a larger one repeat them) and the x and out lengths of a GEMV with `x_rows` rows at most:
// len(x) = M * k with 1 <= M <= x_rows, len(out) = M * n. Contract products cannot wrap (a
// product past u32 is an error), so every index below is bounded by the buffer it indexes.
inline void require_gemv_rows(KernelBuilder& b, const Tensor& x, const Tensor& out, const Val& k,
                              const Val& n, std::uint32_t x_rows, const std::string& x_name = "x") {
  require_1d_launch(b);
  b.require(threads_per_threadgroup(0) == kGemvThreads,
            "tpg = (" + std::to_string(kGemvThreads) + ", 1, 1): " + std::to_string(kGemvWarps) +
                " warps a group");
  b.require(k > 0u, "k > 0");
  b.require(n > 0u, "n > 0");
  b.require_len_multiple(x, k, "k (whole rows of " + x_name + ")");
  const std::string most = std::to_string(x_rows);
  b.require(x.len() >= k && x.len() / k <= x_rows,
            "1 <= len(" + x_name + ") / k <= " + most + " (rows of " + x_name + ")");
  b.require_len(out, x.len() / k * n, "M*n, M = len(" + x_name + ")/k");
}

inline GemvPlace place_gemv_warp(const Tensor& x, const Val& k, const Val& n, const GemvTiling& t) {
  const Val first_row = (program_id(0) * kGemvWarps + warp_id()) * t.rows_per_warp;
  GemvPlace p{lane_id(), x.len() / k, first_row, {}, {}, first_row < n};
  const Val last_row = n - 1u;
  for (std::uint32_t r = 0; r < t.rows_per_warp; ++r) {
    p.load_rows.push_back(min(r == 0 ? first_row : first_row + r, last_row));
  }
  const Val last_x_row = p.m_count - 1u;
  for (std::uint32_t m = 0; m < t.x_rows; ++m) {
    p.x_row_base.push_back(m == 0 ? u32(0) : min(u32(m), last_x_row) * k);
  }
  return p;
}

// Rows [first, first + rows) of a weight whose rows are `row_elements` elements of `w`.
struct WeightRows {
  const Tensor& w;
  Val first;
  Val rows;
  Val row_elements;
};

// The first weight row of this group, its warps owning rows_per_warp rows each.
inline Val group_first_row(std::uint32_t rows_per_warp) {
  return program_id(0) * (kGemvWarps * rows_per_warp);
}

// The start of a GEMV that overlaps the kernel before it in the stream (dsl/kernel_overlap.hpp):
// thread 0 of the group asks for the group's weight rows in L2 (weights are never written by
// the kernels before), every thread waits for the prior kernel, and the next kernel may then
// start and do the same. Must come before the body reads any tensor.
inline void overlap_prior_kernel(const std::vector<WeightRows>& weights) {
  if_(thread_id(0) == 0u, [&] {
    for (const WeightRows& r : weights) {
      prefetch_l2(r.w, r.first * r.row_elements, r.rows * r.row_elements);
    }
  });
  wait_for_prior_kernel();
  release_next_kernel();
}

// One f32 sum per (weight row r, x-row m), at index r * x_rows + m. Reserved up front: a Var
// copy is a new local, so the vector must never reallocate.
inline std::vector<Var> gemv_accumulators(const GemvTiling& t) {
  std::vector<Var> acc;
  acc.reserve(std::size_t{t.rows_per_warp} * t.x_rows);
  for (std::uint32_t r = 0; r < t.rows_per_warp; ++r) {
    for (std::uint32_t m = 0; m < t.x_rows; ++m) {
      acc.emplace_back(f32(0.0f), "acc_" + std::to_string(r) + "_" + std::to_string(m));
    }
  }
  return acc;
}

// The accumulators through one step of a loop: read once at its start, updated as values (each
// update one fma, no local traffic), written back once at its end.
class StepSums {
 public:
  explicit StepSums(std::vector<Var>& acc) : acc_(acc) {
    for (const Var& a : acc) values_.push_back(a);
  }
  Val& operator[](std::size_t i) { return values_[i]; }
  std::size_t size() const { return values_.size(); }
  void write_back() {
    for (std::size_t i = 0; i < values_.size(); ++i) acc_[i] = values_[i];
  }

 private:
  std::vector<Var>& acc_;
  std::vector<Val> values_;
};

// What a GEMV stores for x-row m and weight row `row` (both in range), given the row's f32
// total: the total itself when empty; a fused GEMV's epilogue otherwise (a residual added, a
// scale applied). The result is rounded to out's type once.
using GemvFinish = std::function<Val(const Val& total, const Val& m, const Val& row)>;

// Sums each accumulator over the warp's lanes and stores the rows that exist: out[m * n + row]
// = finish(total) for m < M and row < n, rounded to out's type once.
//
// The V = R * M sums leave the warp by halving rather than one warp sum each: at each of the
// five shuffle distances h, a lane keeps half of its values (the upper half if its lane bit h
// is set) and adds its partner's copy of that half, so V/2 + V/4 + ... shuffles in all instead
// of 5 V. A lane then holds the totals of max(1, V/32) consecutive slots; when V < 32 the
// halving stops at one value and the remaining distances sum it whole, so 32/V lanes hold each
// total and the lowest of them stores it.
inline void store_gemv_results(const Tensor& out, const GemvPlace& p, const Val& n,
                               const std::vector<Var>& acc, const GemvTiling& t,
                               const GemvFinish& finish = {}) {
  std::vector<Val> v(acc.begin(), acc.end());  // slot r * x_rows + m
  const std::size_t slots = v.size();
  MT_ASSERT(std::has_single_bit(slots)) << "gemv sums must be a power of two, not " << slots;
  Val first_slot = u32(0);     // of the values this lane ends with
  std::uint32_t replicas = 1;  // lanes that end with the same totals
  for (std::uint32_t h = 16; h >= 1; h /= 2) {
    if (v.size() == 1) {
      v[0] = v[0] + warp_shuffle_xor(v[0], h);
      replicas *= 2;
      continue;
    }
    const std::size_t half = v.size() / 2;
    const Val upper = (p.lane & h) != 0u;
    std::vector<Val> kept;
    for (std::size_t i = 0; i < half; ++i) {
      const Val keep = select(upper, v[half + i], v[i]);
      const Val give = select(upper, v[i], v[half + i]);
      kept.push_back(keep + warp_shuffle_xor(give, h));
    }
    first_slot = first_slot + select(upper, u32(static_cast<std::uint32_t>(half)), u32(0));
    v = std::move(kept);
  }
  const std::uint32_t m_bits = static_cast<std::uint32_t>(std::countr_zero(t.x_rows));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const Val slot = i == 0 ? first_slot : first_slot + static_cast<std::uint32_t>(i);
    const Val m = slot & (t.x_rows - 1), row = p.first_row + (slot >> m_bits);
    Val stored = m < p.m_count && row < n;
    if (replicas > 1) stored = stored && (p.lane & (replicas - 1)) == 0u;
    if_(stored, [&] { out[m * n + row] = (finish ? finish(v[i], m, row) : v[i]).to(out.dtype()); });
  }
}

// One launch of `kernel` (empty: the entry's own): one warp per `rows_per_warp` weight rows.
inline LaunchPlan gemv_launch(std::size_t n, std::uint32_t rows_per_warp, std::string kernel) {
  LaunchPlan plan =
      geometry::rows(geometry::ceil_div(n, std::size_t{kGemvWarps} * rows_per_warp), kGemvThreads);
  plan.steps.front().kernel = std::move(kernel);
  return plan;
}

// The benchmark weight shapes (N x K): an 8B model's attention and MLP projections and its
// LM head; smoke: small odd shapes for the interpreter.
struct GemvShape {
  std::size_t n, k;
  std::string label(std::size_t m) const {
    return std::to_string(n) + " x " + std::to_string(k) + " M" + std::to_string(m);
  }
};
inline std::vector<GemvShape> gemv_shapes(BenchScale scale) {
  if (scale == BenchScale::Smoke) return {{48, 256}};
  return {{4096, 4096}, {14336, 4096}, {4096, 14336}, {128256, 4096}};
}

}  // namespace mt::kernels::mlx
