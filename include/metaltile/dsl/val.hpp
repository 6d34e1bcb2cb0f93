// mt::Val: a traced, typed SSA value. C++ operators on Vals record IR ops into the kernel
// being built. Literals adopt the other operand's type; mixing types needs an explicit .to().
// Operands are read left to right (mt::Operand), whatever order the C++ compiler evaluates them.
#pragma once

#include <concepts>
#include <cstdint>
#include <source_location>
#include <type_traits>

#include "metaltile/core/dtype.hpp"
#include "metaltile/core/ids.hpp"
#include "metaltile/core/ops.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt {

class KernelBuilder;

template <class N>
concept Literal = std::is_arithmetic_v<N> && !std::is_same_v<N, bool>;

// A Val belongs to the trace that made it. It holds that trace's serial number, not a pointer
// to its builder, and id() and builder() check it against the builder running now: a Val of
// another kernel, or one kept after its trace ended, is an mt::Error, never a wrong or dangling
// reference. (Tensor, ArrayRef and Var check the same way.)
class Val {
 public:
  Val(KernelBuilder& builder, ValueId id, DType dtype);
  Val(const Val&) = default;
  // Rebinding a Val is fine, except inside a loop to a Val made outside it: the loop body is
  // traced once, so the new value would not carry to the next iteration (the loop would reuse
  // the value from before it). That is an mt::Error suggesting a Var.
  Val& operator=(const Val& other);

  DType dtype() const { return dtype_; }
  ValueId id() const;
  KernelBuilder& builder() const;

  // Value conversion (Cast) and bit reinterpretation (Bitcast, same size).
  Val to(DType t, std::source_location where = std::source_location::current()) const;
  Val bitcast(DType t, std::source_location where = std::source_location::current()) const;

  // A constant of this value's type (an error if n does not fit the type's kind).
  template <Literal N>
  Val literal(N n) const;

 private:
  std::uint64_t trace_;
  ValueId id_;
  DType dtype_;
  std::uint32_t loop_;  // the innermost loop being traced when the value was made (0: none)
};

// An operand of a DSL operator or function: a Val, or something read into one (a tensor or
// array element, a Var). Reading is deferred to the operator's body, which reads its operands
// left to right: C++ leaves the order of evaluating a call's arguments to the compiler (g++
// and clang differ), and `x[i] * w[j]` must record its two loads in one order everywhere, or
// the printed IR and the compile cache key would depend on the compiler. An Operand points at
// its source, so it lives only as a parameter, never in a variable.
//
// What cannot be deferred: an operand that is itself a call (`(a + b) * (c + d)`) is recorded
// when C++ evaluates it, before the operator runs; with two such operands, name one first
// (`Val s = a + b; s * (c + d)`).
//
// An Operand also carries the kernel author's line (where the conversion happens), so a
// mistake in an operator is reported there (KernelBuilder::note_location).
class Operand {
 public:
  Operand(const Val& v,  // NOLINT: any Val is an operand
          std::source_location where = std::source_location::current())
      : value_(&v), where_(where) {}
  // Anything that reads into a Val is one too (NOLINT: implicit).
  template <class T>
  requires(!std::is_same_v<T, Val> && std::is_convertible_v<const T&, Val>)
      Operand(const T& source, std::source_location where = std::source_location::current())
      : source_(&source), read_(&read_source<T>), where_(where) {}
  // The value: reading the source here, once per call. Notes the operand's line first.
  Val get() const;
  const std::source_location& where() const { return where_; }

 private:
  template <class T>
  static Val read_source(const void* source) {
    return static_cast<Val>(*static_cast<const T*>(source));
  }
  const Val* value_ = nullptr;
  const void* source_ = nullptr;
  Val (*read_)(const void*) = nullptr;
  std::source_location where_;
};

namespace dsl_detail {
// KernelBuilder::note_location, for the headers that see KernelBuilder only declared.
void note_location(const std::source_location& where);
Val literal_int(const Val& like, std::int64_t n);
// An unsigned literal above int64's range: an error beside an integer, never a wrapped value.
Val literal_uint(const Val& like, std::uint64_t n);
Val literal_float(const Val& like, double x);
Val binary(OpKind op, const Val& a, const Val& b);
Val compare(OpKind op, const Val& a, const Val& b);
Val unary(OpKind op, const Val& a);
// &&, || and ! take bool operands only: on integers And/Or/Not are bitwise, and !x would not
// mean x == 0.
Val logical(OpKind op, const Val& a, const Val& b);
Val logical_not(const Val& a);
}  // namespace dsl_detail

template <Literal N>
Val Val::literal(N n) const {
  if constexpr (std::is_floating_point_v<N>) {
    return dsl_detail::literal_float(*this, static_cast<double>(n));
  } else if constexpr (std::is_unsigned_v<N>) {
    return dsl_detail::literal_uint(*this, static_cast<std::uint64_t>(n));
  } else {
    return dsl_detail::literal_int(*this, static_cast<std::int64_t>(n));
  }
}

// Binary operators: Val op Val, Val op literal, literal op Val (operands read left to right).
#define MT_DSL_BINARY(sym, kind)                      \
  inline Val operator sym(Operand a, Operand b) {     \
    const Val left = a.get();                         \
    return dsl_detail::kind(left, b.get());           \
  }                                                   \
  template <Literal N>                                \
  Val operator sym(Operand a, N b) {                  \
    const Val left = a.get();                         \
    return dsl_detail::kind(left, left.literal(b));   \
  }                                                   \
  template <Literal N>                                \
  Val operator sym(N a, Operand b) {                  \
    const Val right = b.get();                        \
    return dsl_detail::kind(right.literal(a), right); \
  }

#define MT_DSL_ARITH(sym, op) MT_DSL_BINARY(sym, binary_##op)
namespace dsl_detail {
#define MT_DSL_OP_FN(op) \
  inline Val binary_##op(const Val& a, const Val& b) { return binary(OpKind::op, a, b); }
MT_DSL_OP_FN(Add)
MT_DSL_OP_FN(Sub)
MT_DSL_OP_FN(Mul)
MT_DSL_OP_FN(Div)
MT_DSL_OP_FN(Rem)
MT_DSL_OP_FN(And)
MT_DSL_OP_FN(Or)
MT_DSL_OP_FN(Xor)
MT_DSL_OP_FN(Shl)
MT_DSL_OP_FN(Shr)
#undef MT_DSL_OP_FN
#define MT_DSL_CMP_FN(op) \
  inline Val binary_##op(const Val& a, const Val& b) { return compare(OpKind::op, a, b); }
MT_DSL_CMP_FN(Eq)
MT_DSL_CMP_FN(Ne)
MT_DSL_CMP_FN(Lt)
MT_DSL_CMP_FN(Le)
MT_DSL_CMP_FN(Gt)
MT_DSL_CMP_FN(Ge)
#undef MT_DSL_CMP_FN
}  // namespace dsl_detail

MT_DSL_ARITH(+, Add)
MT_DSL_ARITH(-, Sub)
MT_DSL_ARITH(*, Mul)
MT_DSL_ARITH(/, Div)
MT_DSL_ARITH(%, Rem)
MT_DSL_ARITH(&, And)
MT_DSL_ARITH(|, Or)
MT_DSL_ARITH(^, Xor)
MT_DSL_ARITH(<<, Shl)
MT_DSL_ARITH(>>, Shr)
MT_DSL_ARITH(==, Eq)
MT_DSL_ARITH(!=, Ne)
MT_DSL_ARITH(<, Lt)
MT_DSL_ARITH(<=, Le)
MT_DSL_ARITH(>, Gt)
MT_DSL_ARITH(>=, Ge)
#undef MT_DSL_ARITH
#undef MT_DSL_BINARY

// Logical and/or on bool values (both sides are always evaluated).
inline Val operator&&(Operand a, Operand b) {
  const Val left = a.get();
  return dsl_detail::logical(OpKind::And, left, b.get());
}
inline Val operator||(Operand a, Operand b) {
  const Val left = a.get();
  return dsl_detail::logical(OpKind::Or, left, b.get());
}
inline Val operator-(const Val& a) { return dsl_detail::unary(OpKind::Neg, a); }
inline Val operator~(const Val& a) { return dsl_detail::unary(OpKind::Not, a); }
inline Val operator!(const Val& a) { return dsl_detail::logical_not(a); }

}  // namespace mt
