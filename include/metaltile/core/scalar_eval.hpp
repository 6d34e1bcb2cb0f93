// The IR's arithmetic, stated once: constant folding, the interpreter and the op x dtype
// tests all call scalar_eval, so they cannot disagree.
#pragma once

#include <cstdint>
#include <span>

#include "metaltile/core/dtype.hpp"
#include "metaltile/core/ops.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt {

// Evaluates a unary, binary, comparison, Select, Cast or Bitcast op.
//  result:  the op's result dtype (Bool for comparisons; the target for Cast/Bitcast)
//  operand: the dtype of the value operands (for Select: of operands 1 and 2)
// Semantics are those documented on mt::Instr. Floats compute in f32 and round to `result`.
// Integer division or remainder by zero throws mt::Error("division by zero").
Scalar scalar_eval(OpKind op, DType result, DType operand, std::span<const Scalar> args);

// Whether scalar_eval(op, result, operand, args) wraps: the exact integer result of Add, Sub,
// Mul, Neg, Abs, Div (INT_MIN / -1), Shl or an integer Cast does not fit `result`. False for
// float and bool results and for ops that cannot wrap. Contracts treat a wrap as an error.
bool overflows(OpKind op, DType result, DType operand, std::span<const Scalar> args);

// Value conversion (the Cast op): floats to ints truncate toward zero and saturate (NaN -> 0);
// ints wrap to narrower ints; floats narrow with round-to-nearest-even (fp8 saturating);
// to bool is "!= 0".
Scalar convert(Scalar v, DType from, DType to);

// Canonical form of a value for its type: wraps integers, rounds floats (an E5M2 inf and an
// fp8 NaN's sign stay, as stored bytes hold them). Literals pass here.
Scalar normalise(Scalar v, DType t);

// Little-endian element bytes <-> Scalar.
Scalar read_element(const std::uint8_t* bytes, DType t);
void write_element(std::uint8_t* bytes, DType t, Scalar v);

}  // namespace mt
