// The generator's statements: computations, stores, locals, if/else, loops, threadgroup and
// warp array phases, per-thread arrays, vector access, atomics, barriers and math functions.
#include <algorithm>

#include "fuzz/generator.hpp"
#include "fuzz/generator_state.hpp"

namespace mt::fuzz::detail {
namespace {

constexpr int kMaxDepth = 3;   // nesting of if/for
constexpr int kMaxTrips = 48;  // product of the trip counts of nested loops

constexpr DType kArrayTypes[] = {DType::I32,  DType::U32, DType::F32, DType::F16,
                                 DType::BF16, DType::I8,  DType::U8};

}  // namespace

void Generator::statements(int count) {
  for (int i = 0; i < count && emitted_ < budget_; ++i) statement();
}

void Generator::statement() {
  enum Kind {
    Compute,
    Store,
    Write,
    If,
    For,
    GroupPhase,
    WarpPhase,
    ThreadArray,
    VectorLoad,
    VectorStore,
    GlobalAtomic,
    Barrier,
    Approx,
    Duplicate,
    GuardedDivision,
    Dead
  };
  const bool nest = depth_ < kMaxDepth;
  const std::vector<int> weights = {
      8,                                        // Compute
      2,                                        // Store
      3,                                        // Write
      nest ? 3 : 0,                             // If
      nest && trips_ * 2 <= kMaxTrips ? 3 : 0,  // For
      can_group_sync() && nest ? 2 : 0,         // GroupPhase
      can_warp_sync() && nest ? 1 : 0,          // WarpPhase
      1,                                        // ThreadArray
      1,                                        // VectorLoad
      1,                                        // VectorStore
      1,                                        // GlobalAtomic
      can_warp_sync() ? 1 : 0,                  // Barrier
      exact() ? 0 : 2,                          // Approx
      2,                                        // Duplicate
      nest ? 1 : 0,                             // GuardedDivision
      1,                                        // Dead
  };
  switch (static_cast<Kind>(rng_.weighted(weights))) {
    case Compute: build(random_dtype(), rng_.range(1, 3)); return;
    case Store: sink(value(random_dtype(), rng_.range(0, 2))); return;
    case Write: {
      const DType t = random_dtype();
      const LocalId l = local(t);
      emit_statement(make::local_write(k_, l, value(t, 2)));
      return;
    }
    case If: return if_else();
    case For: return for_loop();
    case GroupPhase: return group_phase();
    case WarpPhase: return warp_phase();
    case ThreadArray: return thread_array_store();
    case VectorLoad: return vector_load();
    case VectorStore: return vector_store();
    case GlobalAtomic: return global_atomic();
    case Barrier:
      emit_statement(make::barrier(can_group_sync() && rng_.percent(60) ? OpKind::Barrier
                                                                        : OpKind::WarpBarrier));
      return;
    case Approx: return approx_math();
    case Duplicate: return duplicate();
    case GuardedDivision: return guarded_division();
    case Dead: return dead_code();
  }
}

// Runs `body` with `block` as the current block and a new scope, nested one level deeper.
template <class Body>
void Generator::nested(Block& block, Body body) {
  Block* saved = block_;
  block_ = &block;
  scopes_.emplace_back();
  ++depth_;
  body();
  close_scope();
  --depth_;
  block_ = saved;
}

void Generator::if_else() {
  // Sometimes a condition uniform over the group or warp, so collectives may run inside.
  const Uniformity wanted = can_group_sync() ? Uniformity::Group : Uniformity::Warp;
  const ValueId cond =
      rng_.percent(35) ? value_within(DType::Bool, 2, wanted) : value(DType::Bool, 2);
  Instr in = make::if_then_else(k_, cond);
  const Uniformity saved = control_;
  control_ = widest(control_, uniformity(cond));
  nested(in.blocks[0], [&] { statements(rng_.range(1, 4)); });
  if (rng_.percent(60)) nested(in.blocks[1], [&] { statements(rng_.range(1, 3)); });
  control_ = saved;
  emit_statement(std::move(in));
}

// Constant bounds (unrollable when short), or bounds computed at run time from data, thread
// identity or a small scalar; i32 or u32. Trip counts stay small and bounds far from a wrap.
void Generator::for_loop() {
  const DType t = rng_.percent(70) ? DType::U32 : DType::I32;
  const auto lit = [&](int v) { return constant(t, Scalar::of_int(v)); };
  const int room = kMaxTrips / trips_;
  ValueId lo, hi, step;
  int trips = 0;
  if (rng_.percent(55)) {
    const int lo_v = t == DType::U32 ? rng_.range(0, 4) : rng_.range(-3, 4);
    const int steps[] = {1, 1, 1, 2, 3};
    const int step_v = rng_.pick(steps);
    trips = rng_.percent(10) ? rng_.range(6, 18) : rng_.range(0, 5);
    trips = std::min(trips, room);
    int hi_v = lo_v + trips * step_v - (step_v > 1 ? rng_.range(0, step_v - 1) : 0);
    if (t == DType::U32) hi_v = std::max(hi_v, 0);  // -1 would be 2^32 - 1 trips
    lo = lit(lo_v);
    hi = lit(hi_v);
    step = lit(step_v);
  } else {
    const int span = std::clamp(room, 1, 6);
    lo = rng_.percent(50) ? lit(rng_.range(0, 3)) : [&] {
      const ValueId x = value(t, 1);
      return binary(OpKind::And, x, lit(3));
    }();
    ValueId extra;
    if (rng_.percent(30)) {
      const ParamId n = small_scalars_.empty() || rng_.percent(30) ? new_scalar(DType::U32, true)
                                                                   : rng_.pick(small_scalars_);
      extra = emit_value(make::scalar_param(k_, n), Uniformity::Launch);
      extra = binary(OpKind::Rem, extra, u32_const(static_cast<std::uint32_t>(span + 1)));
      if (t == DType::I32) extra = emit_op(make::cast(k_, DType::I32, extra));
    } else {
      const ValueId x = value(t, 1);
      extra = binary(OpKind::Rem, x, lit(span + 1));  // negative for some i32
    }
    hi = binary(OpKind::Add, lo, extra);
    if (rng_.percent(70)) {
      step = lit(1);
    } else {
      const ValueId x = value(t, 1);
      const ValueId bit = binary(OpKind::And, x, lit(1));
      step = binary(OpKind::Add, bit, lit(1));  // 1 or 2
    }
    trips = span;
  }
  // hi - lo is nonzero wherever the body runs: a division by it inside is safe there, and
  // only there (hoisting it out of a loop that may not run would divide by zero).
  const ValueId span = rng_.percent(30) ? binary(OpKind::Sub, hi, lo) : ValueId{};
  Instr in = make::for_loop(k_, lo, hi, step);
  uni_.resize(k_.value_types.size(), Uniformity::Thread);
  uses_.resize(k_.value_types.size(), 0);
  const Uniformity bounds = widest(uniformity(lo), widest(uniformity(hi), uniformity(step)));
  uni_[in.result.index] = bounds;
  const Uniformity saved = control_;
  control_ = widest(control_, bounds);
  const int saved_trips = trips_;
  trips_ *= std::max(trips, 1);
  ++in_loop_;
  nested(in.blocks[0], [&] {
    scopes_.back().push_back(in.result);  // the loop variable
    if (span.valid()) {
      const ValueId x = value(t, 1);
      binary(rng_.percent(50) ? OpKind::Div : OpKind::Rem, x, span);
    }
    statements(rng_.range(1, 4));
  });
  --in_loop_;
  trips_ = saved_trips;
  control_ = saved;
  emit_statement(std::move(in));
}

// Every thread writes its own elements (tl + m * threads), a barrier, optionally atomics and a
// barrier, then a region that may read any element, and a barrier before anything writes again.
void Generator::group_phase() {
  const DType t = rng_.pick(kArrayTypes);
  const ArrayId a = group_array(t);
  const std::uint32_t size = group_sizes_[a];
  const std::uint32_t copies = size / threads_per_group_;
  if (copies > 1 && rng_.percent(30)) {
    Instr loop = make::for_loop(k_, u32_const(0), u32_const(copies), u32_const(1));
    uni_.resize(k_.value_types.size(), Uniformity::Thread);
    uses_.resize(k_.value_types.size(), 0);
    uni_[loop.result.index] = Uniformity::Launch;
    ++uses_[loop.result.index];
    nested(loop.blocks[0], [&] {
      const ValueId offset = binary(OpKind::Mul, loop.result, u32_const(threads_per_group_));
      const ValueId i = binary(OpKind::Add, thread_in_group_, offset);
      emit_statement(make::array_store(k_, a, i, value(t, 2)));
    });
    emit_statement(std::move(loop));
  } else {
    for (std::uint32_t m = 0; m < copies; ++m) {
      const ValueId i = binary(OpKind::Add, thread_in_group_, u32_const(m * threads_per_group_));
      emit_statement(make::array_store(k_, a, i, value(t, 2)));
    }
  }
  emit_statement(make::barrier(OpKind::Barrier));
  if (accepts_combine(OpKind::AtomicArray, CombineOp::Add, t) && (t != DType::F32 || exact()) &&
      rng_.percent(35)) {
    group_atomics(a);
  }
  readable_.push_back({a, false});
  sink(emit_value(make::array_load(k_, a, index_below(size)), Uniformity::Thread));
  region();
  readable_.pop_back();
  emit_statement(make::barrier(OpKind::Barrier));
}

void Generator::group_atomics(ArrayId a) {
  const DType t = k_.array(a).dtype;
  const CombineOp ops[] = {CombineOp::Add, CombineOp::Max, CombineOp::Min,
                           CombineOp::And, CombineOp::Or,  CombineOp::Xor};
  // One combine a phase: atomics of one kind commute, two kinds on one element (an `or` and
  // an `xor`, an `add` and a `max`) give a result that depends on the threads' order.
  CombineOp op = rng_.pick(ops);
  if (!accepts_combine(OpKind::AtomicArray, op, t)) op = CombineOp::Add;
  for (int n = rng_.range(1, 3); n > 0; --n) {
    const ValueId i = any_index_below(group_sizes_[a]);
    // Old values depend on the order threads arrive in: only the Exact profile uses them.
    emit_value(make::atomic_array(k_, op, a, i, value(t, 1)), Uniformity::Thread, exact());
  }
  emit_statement(make::barrier(OpKind::Barrier));
}

// Each thread writes element tl, a warp barrier, a region reading elements of its own warp,
// and a warp barrier before anything writes again.
void Generator::warp_phase() {
  const DType t = rng_.pick(kArrayTypes);
  const ArrayId a = group_array(t);
  emit_statement(make::array_store(k_, a, thread_in_group_, value(t, 2)));
  emit_statement(make::barrier(OpKind::WarpBarrier));
  readable_.push_back({a, true});
  sink(group_array_read(t));
  region();
  readable_.pop_back();
  emit_statement(make::barrier(OpKind::WarpBarrier));
}

// A few statements in the current block that may read the arrays in readable_.
void Generator::region() { statements(rng_.range(1, 3)); }

void Generator::thread_array_store() {
  const DType t = random_dtype();
  const ArrayId a = thread_array(t, 1);
  const ValueId i = any_index_below(k_.array(a).size);
  emit_statement(make::array_store(k_, a, i, value(t, 2)));
}

// A vector of 4 (types of 1 or 2 bytes: at least two lanes), 8 or 16 bytes of t.
std::uint32_t Generator::vector_lanes(DType t) {
  const std::size_t size = size_of(t);
  const bool four = size <= 2 && rng_.percent(30);
  return static_cast<std::uint32_t>((four ? 4 : rng_.percent(50) ? 8 : 16) / size);
}

// 4, 8 or 16 bytes from an input at a multiple of the lane count, into a per-thread array.
void Generator::vector_load() {
  const DType t = random_dtype();
  const std::uint32_t lanes = vector_lanes(t);
  const ParamId p = input(t);
  const auto len =
      static_cast<std::uint32_t>(program_.tensors[k_.param(p).name].size() / size_of(t));
  const ArrayId a = thread_array(t, lanes);
  const ValueId slot = index_below(len / lanes);
  ValueId i = binary(OpKind::Mul, slot, u32_const(lanes));
  if (rng_.percent(20)) i = emit_op(make::cast(k_, DType::I32, i));
  emit_statement(make::load_vector(k_, p, i, a, lanes));
}

// A per-thread array to the thread's own `lanes` elements of a vector output.
void Generator::vector_store() {
  const DType t = random_dtype();
  const std::uint32_t lanes = vector_lanes(t);
  const ArrayId a = thread_array(t, lanes);
  const ParamId out = output("vout" + std::to_string(vector_outputs_++), t);
  fixed_lengths_[out] = std::size_t{threads_} * lanes;
  const ValueId i = binary(OpKind::Mul, global_thread_, u32_const(lanes));
  emit_statement(make::store_vector(k_, out, i, a, lanes));
}

// An atomic on one of 16 elements every thread may touch. Integer combines of one kind give
// the same result in any order, so each output takes one kind (its name says which): two kinds
// on one element would depend on the threads' order. f32 adds small integers, whose sums are
// exact.
void Generator::global_atomic() {
  const DType types[] = {DType::I32, DType::U32, DType::F32};
  const DType t = rng_.pick(types);
  CombineOp op = CombineOp::Add;
  if (t != DType::F32) {
    const CombineOp ops[] = {CombineOp::Add, CombineOp::Max, CombineOp::Min,
                             CombineOp::And, CombineOp::Or,  CombineOp::Xor};
    op = rng_.pick(ops);
  }
  const ParamId out =
      output("atomic_" + std::string(combine_name(op)) + "_" + std::string(name_of(t)), t);
  fixed_lengths_[out] = 16;
  const ValueId i = any_index_below(16);
  ValueId v;
  if (t == DType::F32) {
    v = exact() && rng_.percent(50) ? value(t, 2) : small_int_f32();
  } else {
    v = value(t, 2);
  }
  // The fence before a global atomic, as a group publishing its writes does (it draws nothing
  // from the generator's stream: every seed keeps its program).
  emit_statement(make::barrier(OpKind::DeviceFence));
  emit_value(make::atomic_global(k_, op, out, i, v), Uniformity::Thread, exact());
}

// Gpu profile: a math function whose result goes straight to an approx_* output.
void Generator::approx_math() {
  const DType types[] = {DType::F32, DType::F32, DType::F16, DType::BF16};
  const DType t = rng_.pick(types);
  std::vector<OpKind> ops;
  for (OpShape shape : {OpShape::Unary, OpShape::Binary}) {
    for (OpKind op : ops_of_shape(shape)) {
      if (is_approximate(op)) ops.push_back(op);
    }
  }
  const OpKind op = rng_.pick(ops);
  const ValueId x = value(t, 2);
  const ValueId y =
      is_binary(op) ? emit_value(make::binary(k_, op, x, value(t, 2)), Uniformity::Thread, false)
                    : emit_value(make::unary(k_, op, x), Uniformity::Thread, false);
  store_approx(y, op);
}

// A copy of an earlier pure instruction (a new result), sometimes with its two operands
// swapped: work for the CSE pass, here or in a nested block.
void Generator::duplicate() {
  // Ops with operands mostly: copies of leaves exercise little.
  const bool leaves = rng_.percent(20);
  std::vector<ValueId> candidates;
  for (const std::vector<ValueId>& scope : scopes_) {
    for (ValueId v : scope) {
      const auto def = pure_defs_.find(v);
      if (def == pure_defs_.end() || uniformity(v) > limit_) continue;
      if (leaves == def->second.operands.empty()) candidates.push_back(v);
    }
  }
  if (candidates.empty()) return statement();
  const ValueId original = rng_.pick(candidates);
  Instr copy = pure_defs_.at(original);
  copy.result = k_.new_value(copy.dtype);
  // Swapped operands: the same value for commutative ops, another one for the rest.
  // (Not a division: its divisor is the one operand known to be nonzero.)
  const bool division = copy.op == OpKind::Div || copy.op == OpKind::Rem;
  if (copy.operands.size() == 2 && !division && rng_.percent(50)) {
    std::swap(copy.operands[0], copy.operands[1]);
  }
  emit_value(std::move(copy), uniformity(original));
}

// if (d != 0) { ... x / d ... }: the division is safe only under its guard, which no pass may
// move it out of.
void Generator::guarded_division() {
  const DType types[] = {DType::I32, DType::U32, DType::I8, DType::U8};
  const DType t = rng_.pick(types);
  const ValueId d = value(t, 1);
  const ValueId zero = constant(t, Scalar::of_int(0));
  const ValueId nonzero = emit_op(make::compare(k_, OpKind::Ne, d, zero));
  Instr in = make::if_then_else(k_, nonzero);
  const Uniformity saved = control_;
  control_ = widest(control_, uniformity(nonzero));
  nested(in.blocks[0], [&] {
    const ValueId x = value(t, 1);
    binary(rng_.percent(50) ? OpKind::Div : OpKind::Rem, x, d);
    statements(rng_.range(0, 2));
  });
  control_ = saved;
  emit_statement(std::move(in));
}

// Work nothing observes, for eliminate_dead_code: a pure value counted as used but never
// stored, and a local that is written but never read.
void Generator::dead_code() {
  const DType t = random_dtype();
  const ValueId v = build(t, rng_.range(0, 2));
  ++uses_[v.index];
  if (rng_.percent(50)) {
    const LocalId dead = k_.new_local("dead" + std::to_string(k_.locals.size()), t);
    emit_statement(make::local_write(k_, dead, v));
  }
}

}  // namespace mt::fuzz::detail
