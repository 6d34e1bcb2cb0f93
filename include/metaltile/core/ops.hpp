// The IR's op kinds, listed once. The list generates OpKind, the printer's names and the
// op sets that passes ask about (is_binary, is_comparison, ...).
#pragma once

#include <string_view>

namespace mt {

// X(Name, printed_name, Shape). Shapes: Leaf (no value operands), Unary, Binary, Compare,
// Ternary, Memory, Local, Control, Statement. Semantics of each op are documented in
// core/kernel.hpp beside Instr and stated once, as arithmetic, in core/scalar_eval.cpp.
#define MT_FOR_EACH_OP(X)                \
  /* leaves */                           \
  X(Const, "const", Leaf)                \
  X(ProgramId, "program_id", Leaf)       \
  X(ScalarParam, "scalar", Leaf)         \
  X(TensorLen, "len", Leaf)              \
  /* memory */                           \
  X(Load, "load", Memory)                \
  X(Store, "store", Memory)              \
  /* mutable locals */                   \
  X(LocalRead, "read", Local)            \
  X(LocalWrite, "write", Local)          \
  /* unary arithmetic and math */        \
  X(Neg, "neg", Unary)                   \
  X(Not, "not", Unary)                   \
  X(Abs, "abs", Unary)                   \
  X(Floor, "floor", Unary)               \
  X(Ceil, "ceil", Unary)                 \
  X(Round, "round", Unary)               \
  X(Trunc, "trunc", Unary)               \
  X(Exp, "exp", Unary)                   \
  X(Exp2, "exp2", Unary)                 \
  X(Log, "log", Unary)                   \
  X(Log2, "log2", Unary)                 \
  X(Sqrt, "sqrt", Unary)                 \
  X(Rsqrt, "rsqrt", Unary)               \
  X(Sin, "sin", Unary)                   \
  X(Cos, "cos", Unary)                   \
  X(Tanh, "tanh", Unary)                 \
  X(Erf, "erf", Unary)                   \
  X(Sigmoid, "sigmoid", Unary)           \
  X(Silu, "silu", Unary)                 \
  X(Gelu, "gelu", Unary)                 \
  X(Cast, "cast", Unary)                 \
  X(Bitcast, "bitcast", Unary)           \
  /* binary arithmetic */                \
  X(Add, "add", Binary)                  \
  X(Sub, "sub", Binary)                  \
  X(Mul, "mul", Binary)                  \
  X(Div, "div", Binary)                  \
  X(Rem, "rem", Binary)                  \
  X(Min, "min", Binary)                  \
  X(Max, "max", Binary)                  \
  X(And, "and", Binary)                  \
  X(Or, "or", Binary)                    \
  X(Xor, "xor", Binary)                  \
  X(Shl, "shl", Binary)                  \
  X(Shr, "shr", Binary)                  \
  /* comparisons (result bool) */        \
  X(Eq, "eq", Compare)                   \
  X(Ne, "ne", Compare)                   \
  X(Lt, "lt", Compare)                   \
  X(Le, "le", Compare)                   \
  X(Gt, "gt", Compare)                   \
  X(Ge, "ge", Compare)                   \
  /* selection */                        \
  X(Select, "select", Ternary)           \
  /* structured control flow */          \
  X(For, "for", Control)                 \
  X(If, "if", Control)                   \
  /* host-side contract */               \
  X(Require, "require", Statement)

enum class OpKind {
#define MT_OP_ENUM(name, printed, shape) name,
  MT_FOR_EACH_OP(MT_OP_ENUM)
#undef MT_OP_ENUM
};

enum class OpShape { Leaf, Unary, Binary, Compare, Ternary, Memory, Local, Control, Statement };

std::string_view op_name(OpKind op);
OpShape op_shape(OpKind op);

bool is_unary(OpKind op);        // one value operand, result of the same type (Cast/Bitcast aside)
bool is_binary(OpKind op);       // two operands of one type, result of that type
bool is_comparison(OpKind op);   // two operands of one type, bool result
bool is_commutative(OpKind op);  // Add Mul Min Max And Or Xor Eq Ne
bool is_float_only(OpKind op);   // math functions: Floor..Gelu
bool is_integer_only(OpKind op); // Shl Shr
bool is_bitwise(OpKind op);      // Not And Or Xor (integers and bool)
// Ops whose result depends only on their operands: no memory, no thread identity, no effects.
bool is_pure(OpKind op);
// False for Store, LocalWrite, If and Require. For's result is its loop variable.
bool has_result(OpKind op);

}  // namespace mt
