// The dense GEMV's main loop, shared by `gemv` and the decoder's fused GEMVs (a norm or an
// activation on the way in, a residual or an activation on the way out):
//
//   acc[r * x_rows + m] += sum_k w[row_r, k] * xin(m, k)      (f32)
//
// where xin is what an XReader returns: x itself for a plain GEMV. Each lane issues R * U
// 16-byte loads of w before it uses any (the weight is streamed at the memory roofline); each
// x value is read once per lane and step and reused for the R weight rows. Rows whose length
// is not a multiple of the 16-byte lane count are read one element per lane instead.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "gemv_layout.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::mlx {

// The f32 values a lane multiplies by the weights: `lanes` consecutive elements (1 or a
// 16-byte vector's worth) of x-row m, from element `at` of the row.
using XReader =
    std::function<std::vector<Val>(std::uint32_t m, const Val& at, std::uint32_t lanes)>;

// The f32 values of `lanes` elements of t from `at` (one vector load when lanes > 1).
inline std::vector<Val> load_f32(const Tensor& t, const Val& at, std::uint32_t lanes) {
  if (lanes == 1) return {t[at].to(DType::F32)};
  const ArrayRef v = load_vector(t, at, lanes);
  std::vector<Val> out;
  for (std::uint32_t j = 0; j < lanes; ++j) out.push_back(v[j].to(DType::F32));
  return out;
}

// The plain reader: x-row m of x itself (row bases from place_gemv_warp).
inline XReader read_x_rows(const Tensor& x, const GemvPlace& p) {
  return [&x, &p](std::uint32_t m, const Val& at, std::uint32_t lanes) {
    return load_f32(x, p.x_row_base[m] + at, lanes);
  };
}

namespace detail {

// One step: `count` 16-byte vectors of each of the warp's weight rows, from vector `first` of
// the row and 32 vectors apart (consecutive lanes read consecutive vectors), each multiplied
// into every x-row's accumulator.
inline void accumulate_vectors(const Tensor& w, const std::vector<Val>& w_row_base,
                               const Val& first, std::uint32_t count, const GemvTiling& t,
                               const XReader& read_x, std::vector<Var>& acc) {
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(w.dtype()));
  // With fewer than four accumulators one chain of dependent fmas per accumulator would wait
  // on the fma latency: each vector then gets a chain of its own, added in at its end.
  const bool short_chains = t.rows_per_warp * t.x_rows < 4;
  std::vector<Val> offsets;  // element offset of each vector in its row
  for (std::uint32_t u = 0; u < count; ++u) {
    offsets.push_back((u == 0 ? first : first + 32u * u) * lanes);
  }
  // Every weight load first, so that all of them are in flight together.
  std::vector<ArrayRef> w_vectors;
  for (std::uint32_t u = 0; u < count; ++u) {
    for (std::uint32_t r = 0; r < t.rows_per_warp; ++r) {
      w_vectors.push_back(load_vector(w, w_row_base[r] + offsets[u], lanes));
    }
  }
  StepSums sums(acc);
  for (std::uint32_t u = 0; u < count; ++u) {
    std::vector<std::vector<Val>> weights(t.rows_per_warp);
    for (std::uint32_t r = 0; r < t.rows_per_warp; ++r) {
      for (std::uint32_t j = 0; j < lanes; ++j) {
        weights[r].push_back(w_vectors[u * t.rows_per_warp + r][j].to(DType::F32));
      }
    }
    for (std::uint32_t m = 0; m < t.x_rows; ++m) {
      const std::vector<Val> xs = read_x(m, offsets[u], lanes);
      for (std::uint32_t r = 0; r < t.rows_per_warp; ++r) {
        Val& a = sums[r * t.x_rows + m];
        if (!short_chains) {
          for (std::uint32_t j = 0; j < lanes; ++j) a = fma(weights[r][j], xs[j], a);
          continue;
        }
        Val partial = weights[r][0] * xs[0];
        for (std::uint32_t j = 1; j < lanes; ++j) partial = fma(weights[r][j], xs[j], partial);
        a = a + partial;
      }
    }
  }
  sums.write_back();
}

}  // namespace detail

// The whole K loop of the warp's rows (inside `if_(p.active)`): `unroll` 16-byte vectors per
// weight row in flight per lane, then the remaining vectors one at a time; K not a multiple of
// the vector width: one element per lane and step.
inline void accumulate_dense_gemv(const Tensor& w, const Val& k, const GemvPlace& p,
                                  const GemvTiling& t, std::uint32_t unroll, const XReader& read_x,
                                  std::vector<Var>& acc) {
  std::vector<Val> w_row_base;
  for (const Val& row : p.load_rows) w_row_base.push_back(row * k);
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(w.dtype()));
  if_(k % lanes == 0u, [&] {
    const Val vectors = k / lanes;  // per row
    if (unroll == 1) {
      for (Val v : range(p.lane, vectors, 32u)) {
        detail::accumulate_vectors(w, w_row_base, v, 1, t, read_x, acc);
      }
    } else {
      const std::uint32_t step = 32 * unroll;
      const Val unrolled = vectors / step * step;
      for (Val v : range(p.lane, unrolled, step)) {
        detail::accumulate_vectors(w, w_row_base, v, unroll, t, read_x, acc);
      }
      for (Val v : range(unrolled + p.lane, vectors, 32u)) {
        detail::accumulate_vectors(w, w_row_base, v, 1, t, read_x, acc);
      }
    }
  }).else_([&] {
    // Rows not 16-byte aligned: one element per lane and step.
    for (Val i : range(p.lane, k, 32u)) {
      std::vector<Val> weights;
      for (const Val& base : w_row_base) weights.push_back(w[base + i].to(DType::F32));
      StepSums sums(acc);
      for (std::uint32_t m = 0; m < t.x_rows; ++m) {
        const Val xi = read_x(m, i, 1).front();
        for (std::uint32_t r = 0; r < t.rows_per_warp; ++r) {
          Val& a = sums[r * t.x_rows + m];
          a = fma(weights[r], xi, a);
        }
      }
      sums.write_back();
    }
  });
}

}  // namespace mt::kernels::mlx
