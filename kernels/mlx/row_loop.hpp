// Shared shape of the row kernels: which row this threadgroup owns, where it starts, and the
// strided loop of this thread over the row's elements.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "../launch_shape.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::mlx {

inline constexpr float kInfinity = std::numeric_limits<float>::infinity();

// Float order keys: a u32 whose unsigned order is the order of the f32 values, with NaN (every
// NaN, made one quiet NaN first) above +inf. A u32 max or argmax over keys then treats NaN as
// the largest value, as PyTorch and MLX's max do, where the float collectives skip NaN.
inline constexpr std::uint32_t kNaNOrderKey = 0xFFC00000u;  // the key of the quiet NaN 0x7FC00000
inline Val order_key(const Val& v) {
  Val bits = select(v != v, u32(0x7FC00000u), v.bitcast(DType::U32));
  return select((bits >> 31u) == 1u, ~bits, bits | 0x80000000u);
}
inline Val from_order_key(const Val& key) {
  return select((key >> 31u) == 1u, key & 0x7FFFFFFFu, ~key).bitcast(DType::F32);
}

struct RowLoop {
  Val row;       // the row of this threadgroup
  Val base;      // index of the row's first element
  Val first;     // this thread's first element in the row
  Val stride;    // threads per threadgroup
  Val n;         // row length
  Val rows;      // len(x) / n
  Val in_range;  // row < rows (threadgroups past the last row do nothing)

  // for (Val i : loop.elements()) visits first, first + stride, ... < n.
  Range elements() const { return range(first, n, stride); }
};

// Declares the row-length scalar `n`, requires len(x) to be a whole number of rows and the
// launch to be 1-D (the loop strides by thread_id(0) and the reductions combine the whole
// group), and places this threadgroup on its row. Every index the helpers below compute is
// below len(x) (row < rows, element < n), so none wraps.
inline RowLoop row_loop(KernelBuilder& k, const Tensor& x) {
  Val n = k.scalar_u32("n");
  require_1d_launch(k);
  k.require(n > 0u, "n > 0");
  k.require_len_multiple(x, n, "n (whole rows)");
  Val row = program_id(0);
  Val rows = x.len() / n;
  return RowLoop{row, row * n, thread_id(0), threads_per_threadgroup(0), n, rows, row < rows};
}

// out holds one value per element of x ([rows, n]), or one per row ([rows]).
inline void require_out_per_element(KernelBuilder& k, const Tensor& out, const Tensor& x) {
  k.require_len(out, x.len(), "rows*n = len(x)");
}
inline void require_out_per_row(KernelBuilder& k, const Tensor& out, const RowLoop& r) {
  k.require_len(out, r.rows, "rows = len(x)/n");
}

// Calls visit(values, first) for each run of consecutive elements this thread owns: `values`
// are x[row, first + j] as f32. When n is a multiple of the 16-byte lane count the row is read
// with 16-byte vector loads, a run being one vector (its lanes unrolled at trace time);
// otherwise one element at a time.
template <class Visit>
void for_each_chunk(const RowLoop& r, const Tensor& x, Visit visit) {
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(x.dtype()));
  if_(r.n % lanes == 0u, [&] {
    for (Val chunk : range(r.first, r.n / lanes, r.stride)) {
      ArrayRef v = load_vector(x, r.base + chunk * lanes, lanes);
      std::vector<Val> values;
      for (std::uint32_t j = 0; j < lanes; ++j) values.push_back(v[j].to(DType::F32));
      visit(values, chunk * lanes);
    }
  }).else_([&] {
    for (Val i : r.elements()) visit(std::vector<Val>{x[r.base + i].to(DType::F32)}, i);
  });
}

// Calls visit(value as f32, index in the row) once for each element this thread owns, in
// increasing index order; vectorised like for_each_chunk.
template <class Visit>
void for_each_element(const RowLoop& r, const Tensor& x, Visit visit) {
  for_each_chunk(r, x, [&](const std::vector<Val>& values, const Val& first) {
    for (std::size_t j = 0; j < values.size(); ++j) {
      visit(values[j], j == 0 ? first : first + static_cast<std::uint32_t>(j));
    }
  });
}

// out[row, i] = f(x[row, i], {p[i] for p in per_column}) for each element this thread owns:
// x and the per-column vectors (weights, biases: one value per column, shared by every row)
// are read as f32, and the result is converted to out's type. Vectorised like
// for_each_chunk, the per-column vectors too.
template <class F>
void map_elements(const RowLoop& r, const Tensor& x, const std::vector<Tensor>& per_column,
                  const Tensor& out, F f) {
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(x.dtype()));
  KernelBuilder& k = x.builder();
  if_(r.n % lanes == 0u, [&] {
    for (Val chunk : range(r.first, r.n / lanes, r.stride)) {
      ArrayRef v = load_vector(x, r.base + chunk * lanes, lanes);
      std::vector<ArrayRef> columns;
      for (const Tensor& c : per_column) columns.push_back(load_vector(c, chunk * lanes, lanes));
      ArrayRef o = k.thread_array("out_vec", out.dtype(), lanes);
      for (std::uint32_t j = 0; j < lanes; ++j) {
        std::vector<Val> column_values;
        for (const ArrayRef& c : columns) column_values.push_back(c[j].to(DType::F32));
        o[j] = f(v[j].to(DType::F32), column_values).to(out.dtype());
      }
      store_vector(out, r.base + chunk * lanes, o, lanes);
    }
  }).else_([&] {
    for (Val i : r.elements()) {
      std::vector<Val> column_values;
      for (const Tensor& c : per_column) column_values.push_back(c[i].to(DType::F32));
      out[r.base + i] = f(x[r.base + i].to(DType::F32), column_values).to(out.dtype());
    }
  });
}

}  // namespace mt::kernels::mlx
