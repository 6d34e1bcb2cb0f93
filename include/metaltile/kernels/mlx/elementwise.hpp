// Elementwise kernels (docs/kernels/elementwise.md), generated from one table of ops: every
// kernel maps each element of its inputs, read as f32, through one formula and rounds the result
// once to the output type, for any length, with 16-byte vector loads and stores and a scalar
// tail. Generic over T in {f32, f16, bf16}; no scalars (the length is len(out)).
//
//  unary_<op>      x [n] -> out [n]           op from MT_MLX_UNARY_OPS
//  binary_<op>     a [n], b [n] -> out [n]    op from MT_MLX_BINARY_OPS
//  swiglu          gate [n], up [n] -> out [n] = silu(gate) * up
//  geglu_tanh      gate [n], up [n] -> out [n] = gelu_tanh(gate) * up
//  cast_to_f32     x [n] T -> out [n] f32     (exact)
//  cast_from_f32   x [n] f32 -> out [n] T     (round to nearest even)
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/kernels/kernel_info.hpp"

// The op table: X(op, formula). Each op has PyTorch's semantics for the function of the same
// name (torch.<op>; relu, gelu, gelu_tanh, softplus, sigmoid and silu as in torch.nn.functional),
// computed in f32 and rounded once to T. The formula is what `tile inspect` shows.
#define MT_MLX_UNARY_OPS(X)                                         \
  X(abs, "|x|")                                                     \
  X(neg, "-x")                                                      \
  X(sign, "(x > 0) - (x < 0); 0 for NaN")                           \
  X(square, "x * x")                                                \
  X(sqrt, "sqrt(x)")                                                \
  X(rsqrt, "1 / sqrt(x)")                                           \
  X(recip, "1 / x")                                                 \
  X(exp, "e^x")                                                     \
  X(exp2, "2^x")                                                    \
  X(expm1, "e^x - 1, accurate near 0")                              \
  X(log, "ln x")                                                    \
  X(log2, "log2 x")                                                 \
  X(log1p, "ln(1 + x), accurate near 0")                            \
  X(sin, "sin x")                                                   \
  X(cos, "cos x")                                                   \
  X(tan, "tan x")                                                   \
  X(tanh, "tanh x")                                                 \
  X(sigmoid, "1 / (1 + e^-x)")                                      \
  X(silu, "x * sigmoid(x)")                                         \
  X(relu, "x < 0 ? 0 : x (NaN and -0 pass through)")                \
  X(gelu, "x/2 * (1 + erf(x / sqrt 2))")                            \
  X(gelu_tanh, "x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))") \
  X(softplus, "x > 20 ? x : ln(1 + e^x)")                           \
  X(erf, "erf x")                                                   \
  X(floor, "floor x")                                               \
  X(ceil, "ceil x")                                                 \
  X(round, "x rounded to the nearest integer, halves to even")
#define MT_MLX_BINARY_OPS(X)                    \
  X(add, "a + b")                               \
  X(sub, "a - b")                               \
  X(mul, "a * b")                               \
  X(div, "a / b")                               \
  X(maximum, "max(a, b); NaN if either is NaN") \
  X(minimum, "min(a, b); NaN if either is NaN") \
  X(pow, "a^b (C's powf special cases)")        \
  X(atan2, "the angle of (b, a) in [-pi, pi]")  \
  X(remainder, "a - b * floor(a / b): fmod(a, b), plus b when its sign differs from b's")
#define MT_MLX_GATED_OPS(X)    \
  X(swiglu, "silu(gate) * up") \
  X(geglu_tanh, "gelu_tanh(gate) * up")

namespace mt::kernels::mlx::elementwise {

inline constexpr std::string_view kFamily = "mlx::elementwise";

#define MT_MLX_DECLARE_UNARY(op, formula) MT_DECLARE_LIBRARY_KERNEL(unary_##op)
#define MT_MLX_DECLARE_BINARY(op, formula) MT_DECLARE_LIBRARY_KERNEL(binary_##op)
#define MT_MLX_DECLARE_GATED(op, formula) MT_DECLARE_LIBRARY_KERNEL(op)
MT_MLX_UNARY_OPS(MT_MLX_DECLARE_UNARY)
MT_MLX_BINARY_OPS(MT_MLX_DECLARE_BINARY)
MT_MLX_GATED_OPS(MT_MLX_DECLARE_GATED)
MT_DECLARE_LIBRARY_KERNEL(cast_to_f32)
MT_DECLARE_LIBRARY_KERNEL(cast_from_f32)
#undef MT_MLX_DECLARE_UNARY
#undef MT_MLX_DECLARE_BINARY
#undef MT_MLX_DECLARE_GATED

inline std::vector<KernelInfo> kernel_infos() {
#define MT_MLX_UNARY_ENTRY(op, formula) MT_LIBRARY_KERNEL_ENTRY(unary_##op)
#define MT_MLX_BINARY_ENTRY(op, formula) MT_LIBRARY_KERNEL_ENTRY(binary_##op)
#define MT_MLX_GATED_ENTRY(op, formula) MT_LIBRARY_KERNEL_ENTRY(op)
  return {MT_MLX_UNARY_OPS(MT_MLX_UNARY_ENTRY) MT_MLX_BINARY_OPS(MT_MLX_BINARY_ENTRY)
              MT_MLX_GATED_OPS(MT_MLX_GATED_ENTRY) MT_LIBRARY_KERNEL_ENTRY(cast_to_f32)
                  MT_LIBRARY_KERNEL_ENTRY(cast_from_f32)};
#undef MT_MLX_UNARY_ENTRY
#undef MT_MLX_BINARY_ENTRY
#undef MT_MLX_GATED_ENTRY
}

}  // namespace mt::kernels::mlx::elementwise
