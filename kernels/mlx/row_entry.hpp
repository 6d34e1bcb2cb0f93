// What every row kernel's registry entry shares: one threadgroup per row with a group size
// chosen from the row length, and the benchmark shape of the family (32768 rows of 4096 bf16;
// smoke: 16 rows of 256 f32).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/kernels/kernel_info.hpp"

namespace mt::kernels::mlx::rows {

// Threads per row: enough for one 16-byte vector (or one element, when n is not a multiple of
// the vector width) per thread, between one warp and 128 threads (128-256 measured best on an
// H100; more threads per row lengthen the barrier waits of the reductions).
inline std::size_t row_threads(std::size_t n, DType t) {
  const std::size_t lanes = 16 / size_of(t);
  const std::size_t work = n % lanes == 0 ? n / lanes : n;
  return std::clamp<std::size_t>(std::bit_ceil(std::max<std::size_t>(work, 1)), 32, 128);
}

inline LaunchPlan row_geometry(const LaunchShape& s) {
  const std::size_t n = s.u32("n");
  return geometry::rows(n == 0 ? 0 : s.elements("x") / n, row_threads(n, s.dtype()));
}

inline const char* row_geometry_text() {
  return "one threadgroup per row (len(x) / n groups); 32-128 threads a group, one 16-byte "
         "vector or one element per thread per step";
}

// The benchmark case of a row kernel: x and every per-column vector in `columns` (weights,
// biases), `out` of n elements a row (out_per_row = n) or one (reductions), scalar n, and eps
// when the kernel has one.
inline std::vector<BenchCase> row_cases(BenchScale scale, const std::vector<std::string>& columns,
                                        bool one_out_per_row, bool has_eps, DType out_dtype) {
  const bool full = scale == BenchScale::Full;
  const std::size_t rows = full ? 32768 : 16, n = full ? 4096 : 256;
  const DType t = full ? DType::BF16 : DType::F32;
  BenchCase b{std::to_string(rows) + " x " + std::to_string(n), t, {}, {}, {}, 0.0, 0.0};
  b.elements = {{"x", rows * n}, {"out", one_out_per_row ? rows : rows * n}};
  for (const std::string& c : columns) b.elements[c] = n;
  b.scalars = {{"n", std::uint32_t(n)}};
  if (has_eps) b.scalars["eps"] = 1e-5f;
  const DType out_t = out_dtype == DType::Bool ? t : out_dtype;  // Bool: "the activation dtype"
  b.bytes = double(rows * n * size_of(t)) + double(columns.size() * n * size_of(t)) +
            double((one_out_per_row ? rows : rows * n) * size_of(out_t));
  return {b};
}

// A row kernel's entry: Reduction mode, the activation dtypes, the row geometry.
inline KernelInfo row_kernel_info(void (*body)(KernelBuilder&, DType), KernelDoc doc,
                                  BenchShapes bench) {
  doc.geometry = row_geometry_text();
  return KernelInfo{.default_mode = KernelMode::Reduction,
                    .dtypes = activation_dtypes(),
                    .body = body,
                    .doc = std::move(doc),
                    .geometry = row_geometry,
                    .bench = std::move(bench)};
}

inline const ParamDoc kRowX{"x", "[rows, n] T: the rows"};
inline const ParamDoc kRowN{"n", "u32: row length (> 0; len(x) is a whole number of rows)"};
inline const ParamDoc kRowEps{"eps", "f32: added to the mean square (variance) under the root"};

}  // namespace mt::kernels::mlx::rows
