// Free functions of the DSL: thread indices, constants, math, selection and conditionals.
#pragma once

#include <functional>

#include "metaltile/dsl/val.hpp"

namespace mt {

// The kernel mode decides what program_id means (see KernelMode). Result u32.
Val program_id(int axis);

// Typed constants in the current kernel.
Val constant(DType t, double value);
Val u32(std::uint32_t v);
Val i32(std::int32_t v);
Val f32(float v);

// Math: min, max (same types, or a literal adopting the other's type); the rest take floats
// and compute in f32, rounding to the value's type.
Val min(const Val& a, const Val& b);
Val max(const Val& a, const Val& b);
template <Literal N>
Val min(const Val& a, N b) {
  return min(a, a.literal(b));
}
template <Literal N>
Val max(const Val& a, N b) {
  return max(a, a.literal(b));
}
template <Literal N>
Val min(N a, const Val& b) {
  return min(b.literal(a), b);
}
template <Literal N>
Val max(N a, const Val& b) {
  return max(b.literal(a), b);
}
// One function per unary math op, X(function, OpKind): each takes the dtypes its op accepts
// (core/ops.hpp; abs also integers, the rest floats), computes in f32 and rounds to the
// value's type. round is half away from zero, round_even half to even; gelu is the exact form
// 0.5 x (1 + erf(x / sqrt 2)), gelu_tanh the tanh approximation
// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))); expm1 and log1p stay accurate near 0.
#define MT_FOR_EACH_DSL_MATH(X) \
  X(abs, Abs)                   \
  X(floor, Floor)               \
  X(ceil, Ceil)                 \
  X(round, Round)               \
  X(round_even, RoundEven)      \
  X(trunc, Trunc)               \
  X(exp, Exp)                   \
  X(exp2, Exp2)                 \
  X(expm1, Expm1)               \
  X(log, Log)                   \
  X(log2, Log2)                 \
  X(log1p, Log1p)               \
  X(sqrt, Sqrt)                 \
  X(rsqrt, Rsqrt)               \
  X(sin, Sin)                   \
  X(cos, Cos)                   \
  X(tan, Tan)                   \
  X(tanh, Tanh)                 \
  X(erf, Erf)                   \
  X(sigmoid, Sigmoid)           \
  X(silu, Silu)                 \
  X(gelu, Gelu)                 \
  X(gelu_tanh, GeluTanh)
#define MT_DSL_DECLARE_MATH(function, op) Val function(const Val& a);
MT_FOR_EACH_DSL_MATH(MT_DSL_DECLARE_MATH)
#undef MT_DSL_DECLARE_MATH
// One function per binary math op on floats, X(function, OpKind): operands of one float type,
// computed in f32 (C's powf and atan2f), rounded to that type.
#define MT_FOR_EACH_DSL_BINARY_MATH(X) \
  X(pow, Pow)                          \
  X(atan2, Atan2)
#define MT_DSL_DECLARE_BINARY_MATH(function, op) Val function(const Val& a, const Val& b);
MT_FOR_EACH_DSL_BINARY_MATH(MT_DSL_DECLARE_BINARY_MATH)
#undef MT_DSL_DECLARE_BINARY_MATH
Val clamp(const Val& x, const Val& lo, const Val& hi);
// a * b + c with one rounding (f32 fmaf), then rounded to the operands' float type. Kernels use
// it where a multiply-add must be one instruction: the GPU code is compiled without
// contracting a * b + c (so that every op rounds as the interpreter does).
Val fma(const Val& a, const Val& b, const Val& c);
template <Literal N>
Val fma(const Val& a, const Val& b, N c) {
  return fma(a, b, b.literal(c));
}
template <Literal N, Literal M>
Val clamp(const Val& x, N lo, M hi) {
  const Val low = x.literal(lo);  // sequenced: argument order would vary by compiler
  return clamp(x, low, x.literal(hi));
}

// cond ? a : b, per thread (both sides are computed).
Val select(const Val& cond, const Val& a, const Val& b);
template <Literal N>
Val select(const Val& c, const Val& a, N b) {
  return select(c, a, a.literal(b));
}
template <Literal N>
Val select(const Val& c, N a, const Val& b) {
  return select(c, b.literal(a), b);
}

// if_(cond, [&] { ... }).else_([&] { ... }): records both arms. else_ is optional.
class IfBuilder {
 public:
  // `instrs_after` is the size of the current block right after the If was appended: else_
  // must come before anything else is traced there.
  IfBuilder(KernelBuilder& builder, std::size_t instrs_after);
  void else_(const std::function<void()>& body);

 private:
  std::uint64_t trace_;
  std::size_t instrs_after_;
};
IfBuilder if_(const Val& cond, const std::function<void()>& then_body);

}  // namespace mt
