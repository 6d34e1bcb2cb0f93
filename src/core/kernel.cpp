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

std::string_view memory_space_name(MemorySpace space) {
  switch (space) {
    case MemorySpace::Threadgroup: return "threadgroup";
    case MemorySpace::Thread: return "thread";
  }
  return "?";
}

ArrayId Kernel::new_array(Array a) {
  arrays.push_back(std::move(a));
  return ArrayId{static_cast<std::uint32_t>(arrays.size() - 1)};
}

const Array& Kernel::array(ArrayId a) const {
  MT_ASSERT(a.valid() && a.index < arrays.size()) << "array " << a.index << " in " << name;
  return arrays[a.index];
}

AsyncBarrierId Kernel::new_async_barrier(AsyncBarrier b) {
  async_barriers.push_back(std::move(b));
  return AsyncBarrierId{static_cast<std::uint32_t>(async_barriers.size() - 1)};
}

TensorMapId Kernel::new_tensor_map(TensorMap m) {
  tensor_maps.push_back(std::move(m));
  return TensorMapId{static_cast<std::uint32_t>(tensor_maps.size() - 1)};
}

const AsyncBarrier& Kernel::async_barrier(AsyncBarrierId b) const {
  MT_ASSERT(b.valid() && b.index < async_barriers.size())
      << "async barrier " << b.index << " in " << name;
  return async_barriers[b.index];
}

const TensorMap& Kernel::tensor_map(TensorMapId m) const {
  MT_ASSERT(m.valid() && m.index < tensor_maps.size())
      << "tensor map " << m.index << " in " << name;
  return tensor_maps[m.index];
}

bool accepts_combine(OpKind op, CombineOp combine, DType t) {
  const bool integer32 = t == DType::I32 || t == DType::U32;
  const bool bitwise =
      combine == CombineOp::And || combine == CombineOp::Or || combine == CombineOp::Xor;
  if (op == OpKind::AtomicGlobal || op == OpKind::AtomicArray) {
    if (combine == CombineOp::Mul) return false;
    return integer32 || (t == DType::F32 && combine == CombineOp::Add);
  }
  if (bitwise) return false;
  if (op == OpKind::ThreadgroupReduce && combine == CombineOp::Mul) return false;
  return integer32 || t == DType::F32 || t == DType::F16 || t == DType::BF16;
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

Instr prefetch_l2(const Kernel& k, ParamId p, ValueId first, ValueId count) {
  MT_ASSERT(k.param(p).is_tensor()) << k.param(p).name << " is not a tensor";
  MT_ASSERT(k.type_of(first) == DType::U32 && k.type_of(count) == DType::U32)
      << "prefetch_l2 range of " << name_of(k.type_of(first)) << ", " << name_of(k.type_of(count));
  Instr in = statement(OpKind::PrefetchL2, {first, count});
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
  MT_ASSERT(is_unary(op)) << op_name(op);
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

Instr fma(Kernel& k, ValueId a, ValueId b, ValueId c) {
  MT_ASSERT(k.type_of(a) == k.type_of(b) && k.type_of(a) == k.type_of(c)) << "fma mixes types";
  MT_ASSERT(accepts_operand_type(OpKind::Fma, k.type_of(a))) << "fma " << name_of(k.type_of(a));
  return with_result(k, OpKind::Fma, k.type_of(a), {a, b, c});
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

Instr require_len(const Kernel& k, ParamId p, ValueId count, bool multiple, std::string formula) {
  MT_ASSERT(k.param(p).is_tensor()) << "require_len of scalar " << k.param(p).name;
  MT_ASSERT(k.type_of(count) == DType::U32) << "require_len count";
  Instr in = statement(multiple ? OpKind::RequireLenMultiple : OpKind::RequireLen, {count});
  in.param = p;
  in.message = std::move(formula);
  return in;
}

Instr thread_index(Kernel& k, OpKind op, int axis) {
  MT_ASSERT(op == OpKind::ThreadId || op == OpKind::ThreadgroupId ||
            op == OpKind::ThreadsPerThreadgroup || op == OpKind::ThreadgroupsPerGrid ||
            op == OpKind::LaneId || op == OpKind::WarpId)
      << op_name(op) << " is not a thread index";
  MT_ASSERT(axis >= 0 && axis < 3) << op_name(op) << " axis " << axis;
  Instr in = with_result(k, op, DType::U32, {});
  in.axis = (op == OpKind::LaneId || op == OpKind::WarpId) ? 0 : axis;
  return in;
}

namespace {
Instr vector_access(const Kernel& k, OpKind op, ParamId p, ValueId index, ArrayId a,
                    std::uint32_t lanes) {
  const Param& param = k.param(p);
  const Array& array = k.array(a);
  MT_ASSERT(param.is_tensor() && array.space == MemorySpace::Thread && array.dtype == param.dtype)
      << op_name(op) << " " << param.name << " / " << array.name;
  const std::size_t bytes = lanes * size_of(param.dtype);
  MT_ASSERT(lanes >= 2 && (bytes == 4 || bytes == 8 || bytes == 16))
      << op_name(op) << " of " << lanes << " " << name_of(param.dtype);
  MT_ASSERT(array.size >= lanes || array.size_param.valid()) << op_name(op) << " array too small";
  MT_ASSERT(is_index_type(k.type_of(index))) << "index type " << name_of(k.type_of(index));
  Instr in = statement(op, {index});
  in.param = p;
  in.array = a;
  in.lanes = lanes;
  return in;
}
}  // namespace

Instr load_vector(const Kernel& k, ParamId p, ValueId index, ArrayId dst, std::uint32_t lanes) {
  return vector_access(k, OpKind::LoadVector, p, index, dst, lanes);
}

Instr store_vector(const Kernel& k, ParamId p, ValueId index, ArrayId src, std::uint32_t lanes) {
  MT_ASSERT(k.param(p).kind == ParamKind::Output) << k.param(p).name << " is not an output";
  return vector_access(k, OpKind::StoreVector, p, index, src, lanes);
}

Instr atomic_global(Kernel& k, CombineOp combine, ParamId p, ValueId index, ValueId value) {
  MT_ASSERT(k.param(p).kind == ParamKind::Output) << k.param(p).name << " is not an output";
  MT_ASSERT(is_index_type(k.type_of(index))) << "index type " << name_of(k.type_of(index));
  MT_ASSERT(k.type_of(value) == k.param(p).dtype) << "atomic value " << name_of(k.type_of(value));
  MT_ASSERT(accepts_combine(OpKind::AtomicGlobal, combine, k.type_of(value)))
      << "atomic " << combine_name(combine) << " on " << name_of(k.type_of(value));
  Instr in = with_result(k, OpKind::AtomicGlobal, k.type_of(value), {index, value});
  in.param = p;
  in.combine = combine;
  return in;
}

Instr array_load(Kernel& k, ArrayId a, ValueId index) {
  MT_ASSERT(is_index_type(k.type_of(index))) << "index type " << name_of(k.type_of(index));
  Instr in = with_result(k, OpKind::ArrayLoad, k.array(a).dtype, {index});
  in.array = a;
  return in;
}

Instr array_store(const Kernel& k, ArrayId a, ValueId index, ValueId value) {
  MT_ASSERT(is_index_type(k.type_of(index))) << "index type " << name_of(k.type_of(index));
  MT_ASSERT(k.type_of(value) == k.array(a).dtype) << "stored " << name_of(k.type_of(value));
  Instr in = statement(OpKind::ArrayStore, {index, value});
  in.array = a;
  return in;
}

Instr atomic_array(Kernel& k, CombineOp combine, ArrayId a, ValueId index, ValueId value) {
  MT_ASSERT(k.array(a).space == MemorySpace::Threadgroup) << "atomic on a per-thread array";
  MT_ASSERT(is_index_type(k.type_of(index))) << "index type " << name_of(k.type_of(index));
  MT_ASSERT(k.type_of(value) == k.array(a).dtype) << "atomic value " << name_of(k.type_of(value));
  MT_ASSERT(accepts_combine(OpKind::AtomicArray, combine, k.type_of(value)))
      << "atomic " << combine_name(combine) << " on " << name_of(k.type_of(value));
  Instr in = with_result(k, OpKind::AtomicArray, k.type_of(value), {index, value});
  in.array = a;
  in.combine = combine;
  return in;
}

Instr barrier(OpKind op) {
  MT_ASSERT(op == OpKind::Barrier || op == OpKind::WarpBarrier || op == OpKind::DeviceFence)
      << op_name(op);
  return statement(op, {});
}

Instr kernel_overlap(OpKind op) {
  MT_ASSERT(op == OpKind::WaitPriorKernel || op == OpKind::ReleaseNextKernel) << op_name(op);
  return statement(op, {});
}

Instr warp_reduce(Kernel& k, CombineOp combine, ValueId value) {
  MT_ASSERT(accepts_combine(OpKind::WarpReduce, combine, k.type_of(value)))
      << "warp_reduce " << combine_name(combine) << " on " << name_of(k.type_of(value));
  Instr in = with_result(k, OpKind::WarpReduce, k.type_of(value), {value});
  in.combine = combine;
  return in;
}

Instr warp_shuffle(Kernel& k, ShuffleKind kind, ValueId value, ValueId lane) {
  MT_ASSERT(k.type_of(lane) == DType::U32) << "shuffle lane " << name_of(k.type_of(lane));
  MT_ASSERT(!is_fp8(k.type_of(value))) << "shuffle of fp8";
  Instr in = with_result(k, OpKind::WarpShuffle, k.type_of(value), {value, lane});
  in.shuffle = kind;
  return in;
}

Instr warp_prefix_sum(Kernel& k, bool inclusive, ValueId value) {
  MT_ASSERT(accepts_combine(OpKind::WarpPrefixSum, CombineOp::Add, k.type_of(value)))
      << "warp_prefix_sum on " << name_of(k.type_of(value));
  Instr in = with_result(k, OpKind::WarpPrefixSum, k.type_of(value), {value});
  in.inclusive = inclusive;
  return in;
}

Instr threadgroup_reduce(Kernel& k, CombineOp combine, ValueId value) {
  MT_ASSERT(accepts_combine(OpKind::ThreadgroupReduce, combine, k.type_of(value)))
      << "threadgroup_reduce " << combine_name(combine) << " on " << name_of(k.type_of(value));
  Instr in = with_result(k, OpKind::ThreadgroupReduce, k.type_of(value), {value});
  in.combine = combine;
  return in;
}

Instr threadgroup_argmax(Kernel& k, ValueId value, ValueId index) {
  MT_ASSERT(accepts_combine(OpKind::ThreadgroupArgmax, CombineOp::Max, k.type_of(value)))
      << "threadgroup_argmax on " << name_of(k.type_of(value));
  MT_ASSERT(k.type_of(index) == DType::U32) << "argmax index " << name_of(k.type_of(index));
  return with_result(k, OpKind::ThreadgroupArgmax, DType::U32, {value, index});
}

}  // namespace make
}  // namespace mt
