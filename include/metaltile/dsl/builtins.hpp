// Free functions of the DSL: thread indices, constants, math, selection and conditionals.
#pragma once

#include <functional>
#include <source_location>

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
// and compute in f32, rounding to the value's type. Like the operators, the functions of more
// than one operand read them left to right (Operand, val.hpp).
Val min(Operand a, Operand b);
Val max(Operand a, Operand b);
template <Literal N>
Val min(Operand a, N b) {
  const Val left = a.get();
  return min(left, left.literal(b));
}
template <Literal N>
Val max(Operand a, N b) {
  const Val left = a.get();
  return max(left, left.literal(b));
}
template <Literal N>
Val min(N a, Operand b) {
  const Val right = b.get();
  return min(right.literal(a), right);
}
template <Literal N>
Val max(N a, Operand b) {
  const Val right = b.get();
  return max(right.literal(a), right);
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
#define MT_DSL_DECLARE_BINARY_MATH(function, op) Val function(Operand a, Operand b);
MT_FOR_EACH_DSL_BINARY_MATH(MT_DSL_DECLARE_BINARY_MATH)
#undef MT_DSL_DECLARE_BINARY_MATH
Val clamp(Operand x, Operand lo, Operand hi);
// a * b + c with one rounding (f32 fmaf), then rounded to the operands' float type. Kernels use
// it where a multiply-add must be one instruction: the GPU code is compiled without
// contracting a * b + c (so that every op rounds as the interpreter does).
Val fma(Operand a, Operand b, Operand c);
template <Literal N>
Val fma(Operand a, Operand b, N c) {
  const Val first = a.get();
  const Val second = b.get();
  return fma(first, second, second.literal(c));
}
template <Literal N, Literal M>
Val clamp(Operand x, N lo, M hi) {
  const Val value = x.get();
  const Val low = value.literal(lo);  // sequenced: argument order would vary by compiler
  return clamp(value, low, value.literal(hi));
}

// cond ? a : b, per thread (both sides are computed).
Val select(Operand cond, Operand a, Operand b);
template <Literal N>
Val select(Operand c, Operand a, N b) {
  const Val condition = c.get();
  const Val value = a.get();
  return select(condition, value, value.literal(b));
}
template <Literal N>
Val select(Operand c, N a, Operand b) {
  const Val condition = c.get();
  const Val value = b.get();
  return select(condition, value.literal(a), value);
}

// if_(cond, [&] { ... }).else_([&] { ... }): records both arms. else_ is optional.
class IfBuilder {
 public:
  // `instrs_after` is the size of the current block right after the If was appended: else_
  // must come before anything else is traced there.
  IfBuilder(KernelBuilder& builder, std::size_t instrs_after);
  void else_(const std::function<void()>& body,
             std::source_location where = std::source_location::current());

 private:
  std::uint64_t trace_;
  std::size_t instrs_after_;
};
IfBuilder if_(const Val& cond, const std::function<void()>& then_body,
              std::source_location where = std::source_location::current());

}  // namespace mt
