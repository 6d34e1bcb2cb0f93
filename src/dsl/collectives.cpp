// DSL threadgroup programming: identity, barriers, collectives, atomics and vector access.
#include "metaltile/dsl/collectives.hpp"

#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {

Val identity(OpKind op, int axis) {
  KernelBuilder& k = KernelBuilder::current();
  if (axis < 0 || axis > 2)
    k.fail(std::string(op_name(op)) + ": axis " + std::to_string(axis) + " is not 0, 1 or 2");
  return k.append(make::thread_index(k.mutable_kernel(), op, axis));
}

void require_combine(KernelBuilder& k, OpKind op, CombineOp c, const Val& v) {
  if (accepts_combine(op, c, v.dtype())) return;
  k.fail(std::string(op_name(op)) + " " + std::string(combine_name(c)) + ": does not accept " +
         k.describe(v));
}

Val warp_reduce(CombineOp c, const Val& v) {
  KernelBuilder& k = v.builder();
  require_combine(k, OpKind::WarpReduce, c, v);
  return k.append(make::warp_reduce(k.mutable_kernel(), c, v.id()));
}

Val shuffle(ShuffleKind kind, const Val& v, const Val& lane) {
  KernelBuilder& k = v.builder();
  if (lane.dtype() != DType::U32) k.fail("warp_shuffle: lane " + k.describe(lane) + " must be u32");
  if (is_fp8(v.dtype())) k.fail("warp_shuffle: fp8 values are storage only: " + k.describe(v));
  return k.append(make::warp_shuffle(k.mutable_kernel(), kind, v.id(), lane.id()));
}

Val prefix_sum(bool inclusive, const Val& v) {
  KernelBuilder& k = v.builder();
  require_combine(k, OpKind::WarpPrefixSum, CombineOp::Add, v);
  return k.append(make::warp_prefix_sum(k.mutable_kernel(), inclusive, v.id()));
}

Val threadgroup_reduce(CombineOp c, const Val& v) {
  KernelBuilder& k = v.builder();
  require_combine(k, OpKind::ThreadgroupReduce, c, v);
  return k.append(make::threadgroup_reduce(k.mutable_kernel(), c, v.id()));
}

void require_atomic_index(KernelBuilder& k, const Val& index, const Val& v, DType element) {
  if (!is_index_type(index.dtype())) {
    k.fail("atomic: index " + k.describe(index) + " must be u32 or i32");
  }
  if (v.dtype() != element) {
    k.fail("atomic: value " + k.describe(v) + " differs from the element type " +
           std::string(name_of(element)));
  }
}

Val atomic_on_tensor(CombineOp c, const Tensor& t, const Val& index, const Val& v) {
  KernelBuilder& k = t.builder();
  const Param& p = k.kernel().param(t.param());
  if (p.kind != ParamKind::Output)
    k.fail("atomic: param '" + p.name + "' is an input; atomics need an output");
  require_atomic_index(k, index, v, t.dtype());
  require_combine(k, OpKind::AtomicGlobal, c, v);
  return k.append(make::atomic_global(k.mutable_kernel(), c, t.param(), index.id(), v.id()));
}

Val atomic_on_array(CombineOp c, const ArrayRef& a, const Val& index, const Val& v) {
  KernelBuilder& k = a.builder();
  if (a.space() != MemorySpace::Threadgroup) {
    k.fail("atomic: array '" + k.kernel().array(a.id()).name +
           "' is per-thread; atomics need threadgroup memory");
  }
  require_atomic_index(k, index, v, a.dtype());
  require_combine(k, OpKind::AtomicArray, c, v);
  return k.append(make::atomic_array(k.mutable_kernel(), c, a.id(), index.id(), v.id()));
}

void require_vector(KernelBuilder& k, const Tensor& t, const Val& index, std::uint32_t lanes) {
  const std::size_t bytes = lanes * size_of(t.dtype());
  if (lanes < 2 || (bytes != 4 && bytes != 8 && bytes != 16)) {
    k.fail("vector access to '" + k.kernel().param(t.param()).name + "': " + std::to_string(lanes) +
           " x " + std::string(name_of(t.dtype())) + " is " + std::to_string(bytes) +
           " bytes, not 2 or more lanes of 4, 8 or 16");
  }
  if (!is_index_type(index.dtype())) {
    k.fail("vector access: index " + k.describe(index) + " must be u32 or i32");
  }
}

// "src_vec", or "src_vec_1", "src_vec_2", ... when taken: each vector load gets its own array.
std::string fresh_array_name(const Kernel& k, const std::string& base) {
  auto taken = [&](const std::string& name) {
    for (const Array& a : k.arrays) {
      if (a.name == name) return true;
    }
    return false;
  };
  std::string name = base;
  for (int n = 1; taken(name); ++n) name = base + "_" + std::to_string(n);
  return name;
}

}  // namespace

Val thread_id(int axis) { return identity(OpKind::ThreadId, axis); }
Val threadgroup_id(int axis) { return identity(OpKind::ThreadgroupId, axis); }
Val threads_per_threadgroup(int axis) { return identity(OpKind::ThreadsPerThreadgroup, axis); }
Val threadgroups_per_grid(int axis) { return identity(OpKind::ThreadgroupsPerGrid, axis); }
Val lane_id() { return identity(OpKind::LaneId, 0); }
Val warp_id() { return identity(OpKind::WarpId, 0); }

void barrier() { KernelBuilder::current().append_statement(make::barrier(OpKind::Barrier)); }
void warp_barrier() {
  KernelBuilder::current().append_statement(make::barrier(OpKind::WarpBarrier));
}
void device_fence() {
  KernelBuilder::current().append_statement(make::barrier(OpKind::DeviceFence));
}

Val warp_sum(const Val& v) { return warp_reduce(CombineOp::Add, v); }
Val warp_product(const Val& v) { return warp_reduce(CombineOp::Mul, v); }
Val warp_max(const Val& v) { return warp_reduce(CombineOp::Max, v); }
Val warp_min(const Val& v) { return warp_reduce(CombineOp::Min, v); }
Val warp_shuffle(const Val& v, const Val& lane) { return shuffle(ShuffleKind::Index, v, lane); }
Val warp_shuffle_xor(const Val& v, const Val& mask) { return shuffle(ShuffleKind::Xor, v, mask); }
Val warp_shuffle_up(const Val& v, const Val& delta) { return shuffle(ShuffleKind::Up, v, delta); }
Val warp_shuffle_down(const Val& v, const Val& delta) {
  return shuffle(ShuffleKind::Down, v, delta);
}
Val warp_broadcast(const Val& v, const Val& lane) { return shuffle(ShuffleKind::Index, v, lane); }
Val warp_prefix_sum(const Val& v) { return prefix_sum(true, v); }
Val warp_exclusive_prefix_sum(const Val& v) { return prefix_sum(false, v); }

Val threadgroup_sum(const Val& v) { return threadgroup_reduce(CombineOp::Add, v); }
Val threadgroup_max(const Val& v) { return threadgroup_reduce(CombineOp::Max, v); }
Val threadgroup_min(const Val& v) { return threadgroup_reduce(CombineOp::Min, v); }

ArgMax threadgroup_argmax(const Val& v, const Val& index) {
  KernelBuilder& k = v.builder();
  require_combine(k, OpKind::ThreadgroupArgmax, CombineOp::Max, v);
  if (index.dtype() != DType::U32)
    k.fail("threadgroup_argmax: index " + k.describe(index) + " must be u32");
  Val best = k.append(make::threadgroup_argmax(k.mutable_kernel(), v.id(), index.id()));
  return ArgMax{threadgroup_max(v), best};
}

#define MT_DSL_ATOMIC(fn, combine)                            \
  Val fn(const Tensor& t, const Val& index, const Val& v) {   \
    return atomic_on_tensor(CombineOp::combine, t, index, v); \
  }                                                           \
  Val fn(const ArrayRef& a, const Val& index, const Val& v) { \
    return atomic_on_array(CombineOp::combine, a, index, v);  \
  }
MT_DSL_ATOMIC(atomic_add, Add)
MT_DSL_ATOMIC(atomic_max, Max)
MT_DSL_ATOMIC(atomic_min, Min)
MT_DSL_ATOMIC(atomic_and, And)
MT_DSL_ATOMIC(atomic_or, Or)
MT_DSL_ATOMIC(atomic_xor, Xor)
#undef MT_DSL_ATOMIC

ArrayRef load_vector(const Tensor& t, const Val& index, std::uint32_t lanes) {
  KernelBuilder& k = t.builder();
  require_vector(k, t, index, lanes);
  const std::string name = fresh_array_name(k.kernel(), k.kernel().param(t.param()).name + "_vec");
  ArrayRef dst = k.thread_array(name, t.dtype(), lanes);
  k.append_statement(make::load_vector(k.kernel(), t.param(), index.id(), dst.id(), lanes));
  return dst;
}

void store_vector(const Tensor& t, const Val& index, const ArrayRef& values, std::uint32_t lanes) {
  KernelBuilder& k = t.builder();
  require_vector(k, t, index, lanes);
  const Param& p = k.kernel().param(t.param());
  if (p.kind != ParamKind::Output) k.fail("store_vector: param '" + p.name + "' is an input");
  const Array& a = k.kernel().array(values.id());
  if (a.space != MemorySpace::Thread || a.dtype != t.dtype() || a.size < lanes) {
    k.fail("store_vector: array '" + a.name + "' must be a per-thread " +
           std::string(name_of(t.dtype())) + " array of at least " + std::to_string(lanes) +
           " elements");
  }
  k.append_statement(make::store_vector(k.kernel(), t.param(), index.id(), values.id(), lanes));
}

}  // namespace mt
