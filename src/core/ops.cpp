// Names and op sets generated from MT_FOR_EACH_OP.
#include "metaltile/core/ops.hpp"

namespace mt {

std::string_view op_name(OpKind op) {
  switch (op) {
#define MT_OP_NAME(name, printed, shape) \
  case OpKind::name: return printed;
    MT_FOR_EACH_OP(MT_OP_NAME)
#undef MT_OP_NAME
  }
  return "?";
}

OpShape op_shape(OpKind op) {
  switch (op) {
#define MT_OP_SHAPE(name, printed, shape) \
  case OpKind::name: return OpShape::shape;
    MT_FOR_EACH_OP(MT_OP_SHAPE)
#undef MT_OP_SHAPE
  }
  return OpShape::Statement;
}

bool is_unary(OpKind op) { return op_shape(op) == OpShape::Unary; }
bool is_binary(OpKind op) { return op_shape(op) == OpShape::Binary; }
bool is_comparison(OpKind op) { return op_shape(op) == OpShape::Compare; }

bool is_commutative(OpKind op) {
  switch (op) {
    case OpKind::Add:
    case OpKind::Mul:
    case OpKind::Min:
    case OpKind::Max:
    case OpKind::And:
    case OpKind::Or:
    case OpKind::Xor:
    case OpKind::Eq:
    case OpKind::Ne: return true;
    default: return false;
  }
}

bool is_float_only(OpKind op) {
  switch (op) {
    case OpKind::Floor:
    case OpKind::Ceil:
    case OpKind::Round:
    case OpKind::Trunc:
    case OpKind::Exp:
    case OpKind::Exp2:
    case OpKind::Log:
    case OpKind::Log2:
    case OpKind::Sqrt:
    case OpKind::Rsqrt:
    case OpKind::Sin:
    case OpKind::Cos:
    case OpKind::Tanh:
    case OpKind::Erf:
    case OpKind::Sigmoid:
    case OpKind::Silu:
    case OpKind::Gelu:
    case OpKind::Fma: return true;
    default: return false;
  }
}

bool is_integer_only(OpKind op) { return op == OpKind::Shl || op == OpKind::Shr; }

bool is_bitwise(OpKind op) {
  return op == OpKind::Not || op == OpKind::And || op == OpKind::Or || op == OpKind::Xor;
}

bool is_pure(OpKind op) {
  switch (op_shape(op)) {
    case OpShape::Unary:
    case OpShape::Binary:
    case OpShape::Compare:
    case OpShape::Ternary: return true;
    case OpShape::Leaf:
      // A scalar parameter is uniform over the launch; program_id differs by thread but is
      // still a pure function of the thread, so CSE may merge two reads of it.
      return true;
    case OpShape::Memory:
    case OpShape::Local:
    case OpShape::Array:
    case OpShape::Control:
    case OpShape::Sync:
    case OpShape::Collective:
    case OpShape::Matrix:
    case OpShape::Statement: return false;
  }
  return false;
}

bool is_launch_uniform(OpKind op) {
  return op == OpKind::Const || op == OpKind::ScalarParam || op == OpKind::TensorLen ||
         op == OpKind::ThreadsPerThreadgroup || op == OpKind::ThreadgroupsPerGrid;
}

bool is_collective(OpKind op) {
  return op_shape(op) == OpShape::Collective || op == OpKind::Barrier ||
         op == OpKind::WarpBarrier || op == OpKind::Mma || op == OpKind::LoadMatrix;
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

bool has_result(OpKind op) {
  switch (op) {
    case OpKind::Store:
    case OpKind::LocalWrite:
    case OpKind::If:
    case OpKind::Require:
    case OpKind::RequireLen:
    case OpKind::RequireLenMultiple:
    case OpKind::LoadVector:
    case OpKind::StoreVector:
    case OpKind::ArrayStore:
    case OpKind::Barrier:
    case OpKind::WarpBarrier: return false;
    default: return op_shape(op) != OpShape::Matrix;
  }
}

}  // namespace mt
