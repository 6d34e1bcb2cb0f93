// The quantised GEMV's one-row main loop (quantized_gemv.cpp: whole 32-code units, scale and
// bias folded out of the inner loop), shared by `qgemv_affine_m1` and the decoder's fused
// GEMVs over MLX affine weights (a norm on the way in, a residual or SwiGLU on the way out).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gemv_layout.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::mlx::quantized {

// The tensors and scalars of a GEMV over an affine-quantised weight. x is what the lanes read
// (x itself, or the row a fused kernel normalises on the way).
struct QgemvParams {
  Tensor x, wq, scales, biases, out;
  Val k, n, group_size, bits;
};

// How a kernel's weight is shaped around its x: x-rows at most, the weight's rows per output
// (2 for a stacked gate/up weight) and x's name in messages.
struct QgemvShape {
  std::uint32_t x_rows = 1;
  std::uint32_t weight_rows = 1;
  std::string x_name = "x";
};

// Declares wq, scales, biases, out, k, n, group_size and bits after x (and whatever the kernel
// declared before), with the contract every qgemv shares (format, lengths, whole groups).
QgemvParams declare_qgemv_weight(KernelBuilder& b, DType T, const Tensor& x,
                                 const QgemvShape& shape);

// The contract of a weight of `rows` rows (rows_text names them in messages): K in whole
// groups, and wq, scales and biases of exactly those rows. declare_qgemv_weight states it; a
// kernel that declares its weight another way states it too.
void require_weight_rows(KernelBuilder& b, const QgemvParams& p, const Val& rows,
                         const std::string& rows_text);

// The 32 f32 values of a unit of x from element `first`, and, for a reader that normalises,
// the unit's share of sum h^2 (added only for units inside the row).
struct UnitValues {
  std::vector<Val> x;
  std::optional<Val> squares;
};
using UnitReader = std::function<UnitValues(const Val& first)>;

// The plain reader: x's elements.
UnitReader read_units(const Tensor& x);

// The whole K loop of the warp's rows (p.load_rows; inside if_(p.active)) for one x-row:
// acc[r] += sum_k x[k] * (s q + b) of row r, and *squares (when given) += the reader's squares.
void accumulate_qgemv_m1(const QgemvParams& q, const GemvPlace& p, std::uint32_t rows_per_warp,
                         const UnitReader& read, std::vector<Var>& acc, Var* squares);

}  // namespace mt::kernels::mlx::quantized
