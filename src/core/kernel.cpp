// Kernel tables and the checked instruction constructors.
#include "metaltile/core/kernel.hpp"

#include "metaltile/core/error.hpp"

namespace mt {

std::string_view mode_name(KernelMode mode) {
  switch (mode) {
    case KernelMode::Elementwise: return "Elementwise";
    case KernelMode::Reduction: return "Reduction";
    case KernelMode::Grid3D: return "Grid3D";
  }
  return "?";
}

std::string_view param_kind_name(ParamKind kind) {
  switch (kind) {
    case ParamKind::Input: return "input";
    case ParamKind::Output: return "output";
    case ParamKind::Scalar: return "scalar";
  }
  return "?";
}

ValueId Kernel::new_value(DType t) {
  value_types.push_back(t);
  return ValueId{static_cast<std::uint32_t>(value_types.size() - 1)};
}

LocalId Kernel::new_local(std::string local_name, DType t) {
  locals.push_back(Local{std::move(local_name), t});
  return LocalId{static_cast<std::uint32_t>(locals.size() - 1)};
}

DType Kernel::type_of(ValueId v) const {
  MT_ASSERT(v.valid() && v.index < value_types.size()) << "value %" << v.index << " in " << name;
  return value_types[v.index];
}

const Param& Kernel::param(ParamId p) const {
  MT_ASSERT(p.valid() && p.index < params.size()) << "param " << p.index << " in " << name;
  return params[p.index];
}

const Local& Kernel::local(LocalId l) const {
  MT_ASSERT(l.valid() && l.index < locals.size()) << "local " << l.index << " in " << name;
  return locals[l.index];
}

ParamId Kernel::find_param(std::string_view param_name) const {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].name == param_name) return ParamId{static_cast<std::uint32_t>(i)};
  }
  return ParamId{};
}

bool accepts_operand_type(OpKind op, DType t) {
  if (is_fp8(t)) return op == OpKind::Cast || op == OpKind::Bitcast || op == OpKind::Select;
  if (is_float_only(op)) return is_float(t);
  if (is_integer_only(op)) return is_integer(t);
  if (is_bitwise(op)) return is_integer(t) || t == DType::Bool;
  switch (op) {
    case OpKind::Neg: return is_float(t) || is_integer(t);
    case OpKind::Abs: return is_float(t) || is_integer(t);
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::Rem:
    case OpKind::Min:
    case OpKind::Max:
    case OpKind::Lt:
    case OpKind::Le:
    case OpKind::Gt:
    case OpKind::Ge: return is_arithmetic(t);
    default: return true;
  }
}

namespace make {
namespace {
Instr with_result(Kernel& k, OpKind op, DType t, std::vector<ValueId> operands) {
  Instr in;
  in.op = op;
  in.dtype = t;
  in.operands = std::move(operands);
  in.result = k.new_value(t);
  return in;
}
Instr statement(OpKind op, std::vector<ValueId> operands) {
  Instr in;
  in.op = op;
  in.operands = std::move(operands);
  return in;
}
bool is_index_type(DType t) { return t == DType::U32 || t == DType::I32; }
}  // namespace

Instr constant(Kernel& k, DType t, Scalar literal) {
  Instr in = with_result(k, OpKind::Const, t, {});
  in.literal = literal;
  return in;
}

Instr program_id(Kernel& k, int axis) {
  MT_ASSERT(axis >= 0 && axis < 3) << "program_id axis " << axis;
  Instr in = with_result(k, OpKind::ProgramId, DType::U32, {});
  in.axis = axis;
  return in;
}

Instr scalar_param(Kernel& k, ParamId p) {
  MT_ASSERT(k.param(p).kind == ParamKind::Scalar) << k.param(p).name << " is not a scalar";
  Instr in = with_result(k, OpKind::ScalarParam, k.param(p).dtype, {});
  in.param = p;
  return in;
}

Instr tensor_len(Kernel& k, ParamId p) {
  MT_ASSERT(k.param(p).is_tensor()) << k.param(p).name << " is not a tensor";
  Instr in = with_result(k, OpKind::TensorLen, DType::U32, {});
  in.param = p;
  return in;
}

Instr load(Kernel& k, ParamId p, ValueId index) {
  MT_ASSERT(k.param(p).is_tensor()) << k.param(p).name << " is not a tensor";
  MT_ASSERT(is_index_type(k.type_of(index))) << "index type " << name_of(k.type_of(index));
  Instr in = with_result(k, OpKind::Load, k.param(p).dtype, {index});
  in.param = p;
  return in;
}

Instr store(const Kernel& k, ParamId p, ValueId index, ValueId value) {
  MT_ASSERT(k.param(p).kind == ParamKind::Output) << k.param(p).name << " is not an output";
  MT_ASSERT(is_index_type(k.type_of(index))) << "index type " << name_of(k.type_of(index));
  MT_ASSERT(k.type_of(value) == k.param(p).dtype) << "stored " << name_of(k.type_of(value));
  Instr in = statement(OpKind::Store, {index, value});
  in.param = p;
  return in;
}

Instr local_read(Kernel& k, LocalId l) {
  Instr in = with_result(k, OpKind::LocalRead, k.local(l).dtype, {});
  in.local = l;
  return in;
}

Instr local_write(const Kernel& k, LocalId l, ValueId value) {
  MT_ASSERT(k.type_of(value) == k.local(l).dtype) << "local " << k.local(l).name;
  Instr in = statement(OpKind::LocalWrite, {value});
  in.local = l;
  return in;
}

Instr unary(Kernel& k, OpKind op, ValueId a) {
  MT_ASSERT(is_unary(op) && op != OpKind::Cast && op != OpKind::Bitcast) << op_name(op);
  MT_ASSERT(accepts_operand_type(op, k.type_of(a))) << op_name(op) << " " << name_of(k.type_of(a));
  return with_result(k, op, k.type_of(a), {a});
}

Instr cast(Kernel& k, DType to, ValueId a) { return with_result(k, OpKind::Cast, to, {a}); }

Instr bitcast(Kernel& k, DType to, ValueId a) {
  MT_ASSERT(size_of(to) == size_of(k.type_of(a)) && to != DType::Bool &&
            k.type_of(a) != DType::Bool)
      << "bitcast " << name_of(k.type_of(a)) << " to " << name_of(to);
  return with_result(k, OpKind::Bitcast, to, {a});
}

Instr binary(Kernel& k, OpKind op, ValueId a, ValueId b) {
  MT_ASSERT(is_binary(op)) << op_name(op);
  MT_ASSERT(k.type_of(a) == k.type_of(b)) << op_name(op) << " mixes types";
  MT_ASSERT(accepts_operand_type(op, k.type_of(a))) << op_name(op) << " " << name_of(k.type_of(a));
  return with_result(k, op, k.type_of(a), {a, b});
}

Instr compare(Kernel& k, OpKind op, ValueId a, ValueId b) {
  MT_ASSERT(is_comparison(op)) << op_name(op);
  MT_ASSERT(k.type_of(a) == k.type_of(b)) << op_name(op) << " mixes types";
  MT_ASSERT(accepts_operand_type(op, k.type_of(a))) << op_name(op) << " " << name_of(k.type_of(a));
  return with_result(k, op, DType::Bool, {a, b});
}

Instr select(Kernel& k, ValueId cond, ValueId a, ValueId b) {
  MT_ASSERT(k.type_of(cond) == DType::Bool) << "select condition";
  MT_ASSERT(k.type_of(a) == k.type_of(b)) << "select mixes types";
  return with_result(k, OpKind::Select, k.type_of(a), {cond, a, b});
}

Instr for_loop(Kernel& k, ValueId lo, ValueId hi, ValueId step) {
  DType t = k.type_of(lo);
  MT_ASSERT(is_index_type(t) && k.type_of(hi) == t && k.type_of(step) == t) << "loop bounds";
  Instr in = with_result(k, OpKind::For, t, {lo, hi, step});
  in.blocks.resize(1);
  return in;
}

Instr if_then_else(const Kernel& k, ValueId cond) {
  MT_ASSERT(k.type_of(cond) == DType::Bool) << "if condition";
  Instr in = statement(OpKind::If, {cond});
  in.blocks.resize(2);
  return in;
}

Instr require(const Kernel& k, ValueId cond, std::string message) {
  MT_ASSERT(k.type_of(cond) == DType::Bool) << "require condition";
  Instr in = statement(OpKind::Require, {cond});
  in.message = std::move(message);
  return in;
}

}  // namespace make
}  // namespace mt
