// The generator's values: leaves (constants, loads, scalars, thread identity, locals, array
// elements), arithmetic, comparisons, selects, casts, bitcasts and collectives, each built on
// operands of the right types and tracked with its uniformity.
#include <limits>

#include "fuzz/generator_state.hpp"
#include "fuzz/sample.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar_eval.hpp"

namespace mt::fuzz {

bool is_approximate(OpKind op) { return op_ulps(op) != 0; }

namespace detail {

// Every unary and binary op of the list, so a new one is fuzzed without a change here.
const std::vector<OpKind>& ops_of_shape(OpShape wanted) {
  static const auto all = [] {
    std::vector<std::pair<OpShape, OpKind>> ops;
#define MT_LIST_OP(name, printed, shape, ...) ops.push_back({OpShape::shape, OpKind::name});
    MT_FOR_EACH_OP(MT_LIST_OP)
#undef MT_LIST_OP
    return ops;
  }();
  static const auto unary = [] {
    std::vector<OpKind> ops;
    for (const auto& [shape, op] : all) {
      if (shape == OpShape::Unary) ops.push_back(op);
    }
    return ops;
  }();
  static const auto binary = [] {
    std::vector<OpKind> ops;
    for (const auto& [shape, op] : all) {
      if (shape == OpShape::Binary) ops.push_back(op);
    }
    return ops;
  }();
  MT_ASSERT(wanted == OpShape::Unary || wanted == OpShape::Binary) << "ops_of_shape";
  return wanted == OpShape::Unary ? unary : binary;
}
constexpr OpKind kCompareOps[] = {OpKind::Eq, OpKind::Ne, OpKind::Lt,
                                  OpKind::Le, OpKind::Gt, OpKind::Ge};

namespace {

bool is_reduction_type(DType t) {
  return t == DType::I32 || t == DType::U32 || t == DType::F32 || t == DType::F16 ||
         t == DType::BF16;
}

}  // namespace

// --- emission ------------------------------------------------------------------------------
// Every emission counts one use of each operand, so a value's use count is exact.

ValueId Generator::emit_value(Instr in, Uniformity u, bool pooled) {
  for (ValueId v : in.operands) ++uses_[v.index];
  const ValueId r = in.result;
  block_->instrs.push_back(std::move(in));
  ++emitted_;
  uni_.resize(k_.value_types.size(), Uniformity::Thread);
  uses_.resize(k_.value_types.size(), 0);
  uni_[r.index] = u;
  if (is_pure(block_->instrs.back().op)) pure_defs_[r] = block_->instrs.back();
  if (pooled) {
    scopes_.back().push_back(r);
  } else {
    uses_[r.index] = 1;  // an effect (an atomic) or a value its caller consumes at once
  }
  return r;
}

ValueId Generator::emit_op(Instr in) {
  Uniformity u = Uniformity::Launch;
  for (ValueId v : in.operands) u = widest(u, uniformity(v));
  return emit_value(std::move(in), u);
}

void Generator::emit_statement(Instr in) {
  for (ValueId v : in.operands) ++uses_[v.index];
  block_->instrs.push_back(std::move(in));
  ++emitted_;
}

ValueId Generator::binary(OpKind op, ValueId a, ValueId b) {
  return emit_op(make::binary(k_, op, a, b));
}

ValueId Generator::constant(DType t, Scalar v) {
  return emit_value(make::constant(k_, t, normalise(v, t)), Uniformity::Launch);
}

ValueId Generator::random_constant(DType t) { return constant(t, random_scalar(rng_, t)); }

// --- choosing and building values ----------------------------------------------------------

ValueId Generator::value(DType t, int depth) {
  if (rng_.percent(35)) {
    if (const ValueId v = reuse(t); v.valid()) return v;
  }
  return build(t, depth);
}

ValueId Generator::value_within(DType t, int depth, Uniformity limit) {
  const Uniformity saved = limit_;
  limit_ = limit < limit_ ? limit : limit_;
  const ValueId v = value(t, depth);
  limit_ = saved;
  return v;
}

ValueId Generator::reuse(DType t) {
  std::vector<ValueId> candidates;
  for (const std::vector<ValueId>& scope : scopes_) {
    for (ValueId v : scope) {
      if (k_.type_of(v) == t && uniformity(v) <= limit_) candidates.push_back(v);
    }
  }
  if (candidates.empty()) return ValueId{};
  // Recent values more often: they are the ones the surrounding code is about.
  const auto n = static_cast<std::uint32_t>(candidates.size());
  const std::uint32_t back =
      rng_.percent(50) ? rng_.below(std::min<std::uint32_t>(n, 4)) : rng_.below(n);
  return candidates[n - 1 - back];
}

ValueId Generator::build(DType t, int depth) {
  if (depth <= 0) return leaf(t);
  const bool fp8 = is_fp8(t);
  const std::vector<int> weights = {
      3,                                             // leaf
      fp8 ? 0 : 2,                                   // unary
      fp8 ? 0 : 5,                                   // arithmetic
      t == DType::Bool ? 5 : 0,                      // comparison
      1,                                             // select
      2,                                             // cast
      t != DType::Bool ? 1 : 0,                      // bitcast
      !fp8 && control_ <= Uniformity::Warp ? 1 : 0,  // collective
      accepts_operand_type(OpKind::Fma, t) ? 1 : 0,  // fused multiply-add
  };
  switch (rng_.weighted(weights)) {
    case 0: return leaf(t);
    case 1: return unary(t, depth);
    case 2: return arithmetic(t, depth);
    case 3: return comparison(depth);
    case 4: return select(t, depth);
    case 5: return cast(t, depth);
    case 6: return bitcast(t, depth);
    case 7: return collective(t, depth);
    default: {
      const ValueId a = value(t, depth - 1), b = value(t, depth - 1);
      return emit_op(make::fma(k_, a, b, value(t, depth - 1)));
    }
  }
}

ValueId Generator::leaf(DType t) {
  const bool varying = limit_ == Uniformity::Thread;
  const bool scalar_type = t == DType::U32 || t == DType::I32 || t == DType::F32;
  bool readable = false;
  for (const ReadableArray& r : readable_) readable |= k_.array(r.array).dtype == t;
  const std::vector<int> weights = {
      3,                            // constant
      3,                            // load
      scalar_type ? 1 : 0,          // scalar parameter
      t == DType::U32 ? 2 : 0,      // thread identity
      varying ? 1 : 0,              // local
      varying ? 1 : 0,              // per-thread array
      varying && readable ? 3 : 0,  // threadgroup array being read
  };
  switch (rng_.weighted(weights)) {
    case 0: return random_constant(t);
    case 1: return load_input(t);
    case 2: return scalar(t);
    case 3: return identity();
    case 4: return local_read(t);
    case 5: return thread_array_read(t);
    default: return group_array_read(t);
  }
}

ValueId Generator::index_source() {
  std::vector<ValueId> candidates;
  for (const std::vector<ValueId>& scope : scopes_) {
    for (ValueId v : scope) {
      if (!is_fp8(k_.type_of(v)) && uniformity(v) <= limit_) candidates.push_back(v);
    }
  }
  if (!candidates.empty() && rng_.percent(70)) {
    const auto n = static_cast<std::uint32_t>(candidates.size());
    return candidates[n - 1 - rng_.below(std::min<std::uint32_t>(n, 8))];
  }
  return rng_.percent(60) ? identity() : random_constant(DType::U32);
}

ValueId Generator::index_below(std::uint32_t size, OpKind size_op, ParamId size_of) {
  ValueId x = index_source();
  if (k_.type_of(x) != DType::U32) x = emit_op(make::cast(k_, DType::U32, x));
  if ((size & (size - 1)) == 0 && rng_.percent(30)) {
    return binary(OpKind::And, x, u32_const(size - 1));
  }
  ValueId modulus;
  if (size_op == OpKind::TensorLen && rng_.percent(50)) {
    modulus = emit_value(make::tensor_len(k_, size_of), Uniformity::Launch);
  } else if (size_op == OpKind::ScalarParam && rng_.percent(50)) {
    modulus = emit_value(make::scalar_param(k_, size_of), Uniformity::Launch);
  } else {
    modulus = u32_const(size);
  }
  return binary(OpKind::Rem, x, modulus);
}

ValueId Generator::any_index_below(std::uint32_t size, OpKind size_op, ParamId size_of) {
  const ValueId i = index_below(size, size_op, size_of);
  if (!rng_.percent(25)) return i;
  return emit_op(make::cast(k_, DType::I32, i));
}

// --- leaves --------------------------------------------------------------------------------

ValueId Generator::load_input(DType t) {
  const ParamId p = input(t);
  const auto len =
      static_cast<std::uint32_t>(program_.tensors[k_.param(p).name].size() / size_of(t));
  const ValueId i = any_index_below(len, OpKind::TensorLen, p);
  return emit_op(make::load(k_, p, i));
}

ValueId Generator::scalar(DType t) {
  std::vector<ParamId>& known = scalars_[t];
  const bool fresh = known.empty() || (known.size() < 2 && rng_.percent(50));
  const ParamId p = fresh ? new_scalar(t, false) : rng_.pick(known);
  return emit_value(make::scalar_param(k_, p), Uniformity::Launch);
}

ValueId Generator::identity() {
  struct Leaf {
    OpKind op;
    Uniformity u;
  };
  const Uniformity program_id =
      k_.mode == KernelMode::Reduction ? Uniformity::Group : Uniformity::Thread;
  std::vector<Leaf> leaves = {{OpKind::ThreadsPerThreadgroup, Uniformity::Group},
                              {OpKind::ThreadgroupsPerGrid, Uniformity::Group},
                              {OpKind::ThreadgroupId, Uniformity::Group},
                              {OpKind::ProgramId, program_id},
                              {OpKind::WarpId, Uniformity::Warp},
                              {OpKind::LaneId, Uniformity::Thread},
                              {OpKind::ThreadId, Uniformity::Thread}};
  std::erase_if(leaves, [&](const Leaf& l) { return l.u > limit_; });
  if (leaves.empty() || rng_.percent(10)) {
    if (!inputs_.empty() && rng_.percent(50)) {
      return emit_value(make::tensor_len(k_, inputs_.begin()->second), Uniformity::Launch);
    }
    return random_constant(DType::U32);
  }
  const Leaf l = rng_.pick(leaves);
  const int axis = rng_.range(0, 2);
  Instr in =
      l.op == OpKind::ProgramId ? make::program_id(k_, axis) : make::thread_index(k_, l.op, axis);
  return emit_value(std::move(in), l.u);
}

ValueId Generator::local_read(DType t) {
  return emit_value(make::local_read(k_, local(t)), Uniformity::Thread);
}

ValueId Generator::thread_array_read(DType t) {
  const ArrayId a = thread_array(t, 1);
  const ValueId i = any_index_below(k_.array(a).size);
  return emit_value(make::array_load(k_, a, i), Uniformity::Thread);
}

// A read of an array the current region may read: any element after a group phase; after a
// warp phase only one of the reader's own warp, min((tl & ~31) | (x % 32), threads - 1).
ValueId Generator::group_array_read(DType t) {
  std::vector<ReadableArray> arrays;
  for (const ReadableArray& r : readable_) {
    if (k_.array(r.array).dtype == t) arrays.push_back(r);
  }
  const ReadableArray r = rng_.pick(arrays);
  ValueId i;
  if (r.warp_local) {
    const ValueId base = binary(OpKind::And, thread_in_group_, u32_const(~31u));
    const ValueId wanted = binary(OpKind::Or, base, index_below(32));
    i = binary(OpKind::Min, wanted, u32_const(threads_per_group_ - 1));
  } else if (const auto sized = array_size_params_.find(r.array);
             sized != array_size_params_.end()) {
    const auto size = static_cast<std::uint32_t>(program_.scalars[k_.param(sized->second).name].i);
    i = index_below(size, OpKind::ScalarParam, sized->second);
  } else {
    i = index_below(k_.array(r.array).size);
  }
  return emit_value(make::array_load(k_, r.array, i), Uniformity::Thread);
}

// --- operations ------------------------------------------------------------------------------

ValueId Generator::unary(DType t, int depth) {
  std::vector<OpKind> ops;
  for (OpKind op : ops_of_shape(OpShape::Unary)) {
    if (!accepts_operand_type(op, t)) continue;
    if (!exact() && is_approximate(op)) continue;  // the Gpu profile stores those directly
    ops.push_back(op);
  }
  if (ops.empty()) return arithmetic(t, depth);
  const OpKind op = rng_.pick(ops);
  return emit_op(make::unary(k_, op, value(t, depth - 1)));
}

ValueId Generator::arithmetic(DType t, int depth) {
  std::vector<OpKind> ops;
  for (OpKind op : ops_of_shape(OpShape::Binary)) {
    if (!accepts_operand_type(op, t)) continue;
    if (!exact() && is_approximate(op)) continue;  // the Gpu profile stores those directly
    ops.push_back(op);
  }
  if (ops.empty()) return select(t, depth);
  const OpKind op = rng_.pick(ops);
  ValueId a = value(t, depth - 1);
  ValueId b = value(t, depth - 1);
  if (!is_float(t) && rng_.percent(15)) {
    // Identities the folder applies (x + 0, x * 1, x & ~0, x << 0, x * 0, ...), either side.
    const std::int64_t identities[] = {0, 1, -1, 2};
    b = constant(t, Scalar::of_int(rng_.pick(identities)));
    if (rng_.percent(30)) std::swap(a, b);
  }
  if ((op == OpKind::Div || op == OpKind::Rem) && !is_float(t)) {
    // Never divide by zero: b | 1, or a nonzero constant.
    const std::int64_t divisors[] = {1, 2, 3, 7, -1, -2, 0x7fffffff, -0x7fffffff - 1};
    const Scalar d = normalise(Scalar::of_int(rng_.pick(divisors)), t);
    b = rng_.percent(70) ? binary(OpKind::Or, b, constant(t, Scalar::of_int(1)))
                         : constant(t, d.i != 0 ? d : Scalar::of_int(1));
  }
  return binary(op, a, b);
}

ValueId Generator::comparison(int depth) {
  DType u = random_dtype();
  while (is_fp8(u)) u = random_dtype();
  std::vector<OpKind> ops;
  for (OpKind op : kCompareOps) {
    if (accepts_operand_type(op, u)) ops.push_back(op);
  }
  const OpKind op = rng_.pick(ops);
  const ValueId a = value(u, depth - 1);
  return emit_op(make::compare(k_, op, a, value(u, depth - 1)));
}

ValueId Generator::select(DType t, int depth) {
  const ValueId c = value(DType::Bool, depth - 1);
  const ValueId a = value(t, depth - 1);
  return emit_op(make::select(k_, c, a, value(t, depth - 1)));
}

ValueId Generator::cast(DType t, int depth) {
  DType from = random_dtype();
  if (from == t) from = t == DType::F32 ? DType::I32 : DType::F32;
  return emit_op(make::cast(k_, t, value(from, depth - 1)));
}

ValueId Generator::bitcast(DType t, int depth) {
  std::vector<DType> froms;
  for (DType u : kAllDTypes) {
    if (u != t && u != DType::Bool && size_of(u) == size_of(t)) froms.push_back(u);
  }
  if (froms.empty()) return cast(t, depth);
  const DType from = rng_.pick(froms);
  ValueId x = value(from, depth - 1);
  if (is_float(from)) x = canonical_nan(x);
  return emit_op(make::bitcast(k_, t, x));
}

// x, or the canonical quiet NaN of its type when x is a NaN: the bits of a NaN are
// unspecified (they differ between a CPU and a GPU, and with operand order), and only a
// bitcast can observe them.
ValueId Generator::canonical_nan(ValueId x) {
  const DType t = k_.type_of(x);
  const ValueId wide = is_fp8(t) ? emit_op(make::cast(k_, DType::F32, x)) : x;
  const ValueId is_nan = emit_op(make::compare(k_, OpKind::Ne, wide, wide));
  const ValueId nan = constant(t, Scalar::of_float(std::numeric_limits<double>::quiet_NaN()));
  return emit_op(make::select(k_, is_nan, nan, x));
}

// An f32 holding an integer in [-16, 15]: sums of these are exact in any order.
ValueId Generator::small_int_f32() {
  const ValueId x = value(DType::I32, 1);
  const ValueId m = binary(OpKind::And, x, constant(DType::I32, Scalar::of_int(31)));
  const ValueId s = binary(OpKind::Sub, m, constant(DType::I32, Scalar::of_int(16)));
  return emit_op(make::cast(k_, DType::F32, s));
}

ValueId Generator::collective(DType t, int depth) {
  enum Kind { WarpReduce, WarpShuffle, WarpPrefixSum, GroupReduce, GroupArgmax };
  std::vector<Kind> kinds;
  const bool warp = control_ <= Uniformity::Warp;
  const bool group = control_ <= Uniformity::Group;
  const bool any = limit_ == Uniformity::Thread;
  const bool exact_sum = t == DType::I32 || t == DType::U32 || exact();
  if (warp && is_reduction_type(t) && limit_ >= Uniformity::Warp) kinds.push_back(WarpReduce);
  if (warp && any) kinds.push_back(WarpShuffle);
  if (warp && is_reduction_type(t) && exact_sum && any) kinds.push_back(WarpPrefixSum);
  if (group && is_reduction_type(t) && limit_ >= Uniformity::Group) kinds.push_back(GroupReduce);
  if (group && t == DType::U32 && limit_ >= Uniformity::Group) kinds.push_back(GroupArgmax);
  if (kinds.empty()) return arithmetic(t, depth);

  const CombineOp reduce_ops[] = {CombineOp::Add, CombineOp::Mul, CombineOp::Max, CombineOp::Min};
  const CombineOp group_ops[] = {CombineOp::Add, CombineOp::Max, CombineOp::Min};
  const ShuffleKind shuffles[] = {ShuffleKind::Index, ShuffleKind::Xor, ShuffleKind::Up,
                                  ShuffleKind::Down};
  const DType argmax_types[] = {DType::I32, DType::U32, DType::F32, DType::F16, DType::BF16};
  const Uniformity saved = limit_;
  limit_ = Uniformity::Thread;  // operands may differ between threads
  ValueId r;
  switch (rng_.pick(kinds)) {
    case WarpReduce: {
      const CombineOp op = rng_.pick(reduce_ops);
      r = emit_value(make::warp_reduce(k_, op, value(t, depth - 1)), Uniformity::Warp);
      break;
    }
    case WarpShuffle: {
      const ValueId x = value(t, depth - 1);
      const ValueId lane =
          rng_.percent(50) ? index_below(rng_.percent(80) ? 32 : 64) : value(DType::U32, depth - 1);
      const ShuffleKind kind = rng_.pick(shuffles);
      r = emit_value(make::warp_shuffle(k_, kind, x, lane), Uniformity::Thread);
      break;
    }
    case WarpPrefixSum: {
      const bool inclusive = rng_.percent(50);
      r = emit_value(make::warp_prefix_sum(k_, inclusive, value(t, depth - 1)), Uniformity::Thread);
      break;
    }
    case GroupReduce: {
      const CombineOp op = rng_.pick(group_ops);
      r = emit_value(make::threadgroup_reduce(k_, op, value(t, depth - 1)), Uniformity::Group);
      break;
    }
    case GroupArgmax: {
      const ValueId x = value(rng_.pick(argmax_types), depth - 1);
      const ValueId i = rng_.percent(60) ? thread_in_group_ : value(DType::U32, depth - 1);
      r = emit_value(make::threadgroup_argmax(k_, x, i), Uniformity::Group);
      break;
    }
  }
  limit_ = saved;
  return r;
}

}  // namespace detail
}  // namespace mt::fuzz
