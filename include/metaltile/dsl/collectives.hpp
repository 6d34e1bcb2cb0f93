// Threadgroup programming in the DSL: thread identity, barriers, warp and threadgroup
// collectives, and atomics. Collectives must be reached by every thread of the warp or
// threadgroup (the interpreter reports a barrier reached by only part of a group).
#pragma once

#include "metaltile/dsl/array.hpp"
#include "metaltile/dsl/tensor.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

// Thread identity (u32). Threads of a group are linearised x fastest; warps have 32 lanes.
Val thread_id(int axis);
Val threadgroup_id(int axis);
Val threads_per_threadgroup(int axis);
Val threadgroups_per_grid(int axis);
Val lane_id();
Val warp_id();

void barrier();       // threadgroup barrier (and threadgroup-memory fence)
void warp_barrier();  // warp barrier
// Orders this thread's device-memory accesses before the call against those after it, as every
// thread of the device sees them (no thread waits). A group publishes its writes to a later
// group with: its writes, device_fence(), barrier(), one thread's atomic; the group that sees
// the atomic's final count fences again before it reads them.
void device_fence();

// Warp collectives over the 32 lanes of the calling thread's warp (absent threads of a
// partial last warp take no part).
Val warp_sum(const Val& v);
Val warp_product(const Val& v);
Val warp_max(const Val& v);
Val warp_min(const Val& v);
Val warp_shuffle(const Val& v, const Val& lane);        // v of lane `lane`
Val warp_shuffle_xor(const Val& v, const Val& mask);    // v of lane ^ mask
Val warp_shuffle_up(const Val& v, const Val& delta);    // v of lane - delta (own v if < 0)
Val warp_shuffle_down(const Val& v, const Val& delta);  // v of lane + delta (own v if >= 32)
Val warp_broadcast(const Val& v, const Val& lane);
Val warp_prefix_sum(const Val& v);            // inclusive
Val warp_exclusive_prefix_sum(const Val& v);  // 0 for lane 0
template <Literal N>
Val warp_shuffle(const Val& v, N lane) {
  return warp_shuffle(v, u32(static_cast<std::uint32_t>(lane)));
}
template <Literal N>
Val warp_shuffle_xor(const Val& v, N m) {
  return warp_shuffle_xor(v, u32(static_cast<std::uint32_t>(m)));
}
template <Literal N>
Val warp_shuffle_up(const Val& v, N d) {
  return warp_shuffle_up(v, u32(static_cast<std::uint32_t>(d)));
}
template <Literal N>
Val warp_shuffle_down(const Val& v, N d) {
  return warp_shuffle_down(v, u32(static_cast<std::uint32_t>(d)));
}
template <Literal N>
Val warp_broadcast(const Val& v, N lane) {
  return warp_broadcast(v, u32(static_cast<std::uint32_t>(lane)));
}

// Threadgroup collectives, returned to every thread (any group size up to 1024).
Val threadgroup_sum(const Val& v);
Val threadgroup_max(const Val& v);
Val threadgroup_min(const Val& v);
struct ArgMax {
  Val value;  // the largest v of the group
  Val index;  // the `index` that came with it; the lowest index on ties
};
ArgMax threadgroup_argmax(const Val& v, const Val& index);

// Atomics: return the old value. i32/u32 for every op; f32 for add. Tensors must be outputs.
Val atomic_add(const Tensor& t, const Val& index, const Val& v);
Val atomic_max(const Tensor& t, const Val& index, const Val& v);
Val atomic_min(const Tensor& t, const Val& index, const Val& v);
Val atomic_and(const Tensor& t, const Val& index, const Val& v);
Val atomic_or(const Tensor& t, const Val& index, const Val& v);
Val atomic_xor(const Tensor& t, const Val& index, const Val& v);
Val atomic_add(const ArrayRef& a, const Val& index, const Val& v);
Val atomic_max(const ArrayRef& a, const Val& index, const Val& v);
Val atomic_min(const ArrayRef& a, const Val& index, const Val& v);
Val atomic_and(const ArrayRef& a, const Val& index, const Val& v);
Val atomic_or(const ArrayRef& a, const Val& index, const Val& v);
Val atomic_xor(const ArrayRef& a, const Val& index, const Val& v);

// Vector access: `lanes` (2 or more) consecutive elements starting at `index`, 4, 8 or 16 bytes
// in all.
// Contract, checked at run time: index is a multiple of lanes. Loads into a new per-thread
// array; stores from one (of the tensor's type, at least `lanes` long).
ArrayRef load_vector(const Tensor& t, const Val& index, std::uint32_t lanes);
void store_vector(const Tensor& t, const Val& index, const ArrayRef& values, std::uint32_t lanes);

}  // namespace mt
