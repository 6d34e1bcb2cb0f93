// Patterns for kernel authors: the launch shape a kernel states in its contract, and the row
// loop that the library's row kernels share (one threadgroup a row, each thread striding over
// the row's elements, 16-byte vector access when the row length allows it).
//
//   trace("scale_rows", KernelMode::Reduction, [](KernelBuilder& k) {
//     Tensor x = k.input("x", DType::F32), out = k.output("out", DType::F32);
//     RowLoop r = row_loop(k, x);  // scalar n; contract: len(x) = rows * n, a 1-D launch
//     require_out_per_element(k, out, x);
//     if_(r.in_range, [&] {
//       map_elements(r, x, {}, out, [](Val v, const std::vector<Val>&) { return v * 2.0f; });
//     });
//   });
#pragma once

#include <cstdint>
#include <vector>

#include "metaltile/dsl/dsl.hpp"

namespace mt {

// A kernel that reads only axis 0 of the thread identity (program_id(0), thread_id(0),
// threads_per_threadgroup(0)) would repeat or garble its work under a 2-D or 3-D threadgroup or
// grid, so it states the shape it was written for.

// A threadgroup of axis 0 only, for a kernel whose grid axes 1 and 2 carry work of their own.
inline void require_1d_threadgroup(KernelBuilder& k) {
  k.require(threads_per_threadgroup(1) == 1u && threads_per_threadgroup(2) == 1u,
            "a 1-D threadgroup: tpg = (x, 1, 1)");
}

// A threadgroup and a grid of axis 0 only.
inline void require_1d_launch(KernelBuilder& k) {
  require_1d_threadgroup(k);
  k.require(threadgroups_per_grid(1) == 1u && threadgroups_per_grid(2) == 1u,
            "a 1-D grid: grid = (x, 1, 1)");
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

}  // namespace mt
