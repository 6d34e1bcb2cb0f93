// The columns of MT_FOR_EACH_OP as functions, and the names of combines and shuffles.
#include "metaltile/core/ops.hpp"

namespace mt {

// Each function is one switch generated from the list: a row missing a column does not compile.
// (clang-format would read a `case` outside a switch as code to merge.)
// clang-format off
#define MT_OP_COLUMN(function, type, column) \
  type function(OpKind op) {                 \
    switch (op) { MT_FOR_EACH_OP(column) }   \
    return type{};                           \
  }
#define MT_OP_NAME(name, printed, ...) case OpKind::name: return printed;
#define MT_OP_SHAPE(name, printed, shape, ...) case OpKind::name: return OpShape::shape;
#define MT_OP_OPERANDS(name, printed, shape, operands, ...) \
  case OpKind::name: return OperandClass::operands;
#define MT_OP_ORDER(name, printed, shape, operands, order, ...) \
  case OpKind::name: return OperandOrder::order == OperandOrder::Commutative;
#define MT_OP_PURITY(name, printed, shape, operands, order, purity, ...) \
  case OpKind::name: return Purity::purity == Purity::Pure;
#define MT_OP_RESULT(name, printed, shape, operands, order, purity, result, ...) \
  case OpKind::name: return ResultKind::result;
#define MT_OP_ULPS(name, printed, shape, operands, order, purity, result, ulps) \
  case OpKind::name: return ulps;
// clang-format on

MT_OP_COLUMN(op_name, std::string_view, MT_OP_NAME)
MT_OP_COLUMN(op_shape, OpShape, MT_OP_SHAPE)
MT_OP_COLUMN(operand_class, OperandClass, MT_OP_OPERANDS)
MT_OP_COLUMN(is_commutative, bool, MT_OP_ORDER)
MT_OP_COLUMN(is_pure, bool, MT_OP_PURITY)
MT_OP_COLUMN(result_kind, ResultKind, MT_OP_RESULT)
MT_OP_COLUMN(op_ulps, int, MT_OP_ULPS)

#undef MT_OP_NAME
#undef MT_OP_SHAPE
#undef MT_OP_OPERANDS
#undef MT_OP_ORDER
#undef MT_OP_PURITY
#undef MT_OP_RESULT
#undef MT_OP_ULPS
#undef MT_OP_COLUMN

bool accepts_operand_type(OpKind op, DType t) {
  switch (operand_class(op)) {
    case OperandClass::Float: return is_float(t) && !is_fp8(t);
    case OperandClass::Integer: return is_integer(t);
    case OperandClass::Arithmetic: return is_arithmetic(t);
    case OperandClass::Bits: return is_integer(t) || t == DType::Bool;
    case OperandClass::Equality: return is_arithmetic(t) || t == DType::Bool;
    case OperandClass::Any: return true;
    case OperandClass::Own: return !is_fp8(t);
  }
  return false;
}

bool is_launch_uniform(OpKind op) {
  return op == OpKind::Const || op == OpKind::ScalarParam || op == OpKind::TensorLen ||
         op == OpKind::ThreadsPerThreadgroup || op == OpKind::ThreadgroupsPerGrid;
}

bool is_collective(OpKind op) {
  return op_shape(op) == OpShape::Collective || op == OpKind::Barrier ||
         op == OpKind::WarpBarrier || op == OpKind::Mma || op == OpKind::LoadMatrix ||
         op == OpKind::WarpgroupMma || op == OpKind::WarpgroupFence ||
         op == OpKind::WarpgroupCommit || op == OpKind::WarpgroupWait;
}

std::string_view combine_name(CombineOp c) {
  switch (c) {
    case CombineOp::Add: return "add";
    case CombineOp::Mul: return "mul";
    case CombineOp::Max: return "max";
    case CombineOp::Min: return "min";
    case CombineOp::And: return "and";
    case CombineOp::Or: return "or";
    case CombineOp::Xor: return "xor";
  }
  return "?";
}

std::string_view shuffle_name(ShuffleKind s) {
  switch (s) {
    case ShuffleKind::Index: return "index";
    case ShuffleKind::Xor: return "xor";
    case ShuffleKind::Up: return "up";
    case ShuffleKind::Down: return "down";
  }
  return "?";
}

}  // namespace mt
