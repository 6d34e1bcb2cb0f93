// Bulk tile copies and asynchronous barriers in the DSL: a tensor map declared on a tensor
// (its extent is launch-uniform, evaluated on the host), sets of barriers in threadgroup
// memory with their init, arrivals, expected bytes and phase waits, and the copy of one box
// into threadgroup memory. Semantics: core/async_barrier.hpp and core/tensor_map.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "metaltile/core/tensor_map.hpp"
#include "metaltile/dsl/array.hpp"
#include "metaltile/dsl/tensor.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

// A tensor map of the running kernel. Like a Val it belongs to its trace.
class TensorMapRef {
 public:
  TensorMapRef(KernelBuilder& builder, TensorMapId id, const TensorMap& map, DType dtype);
  TensorMapId id() const;
  KernelBuilder& builder() const;
  const std::string& name() const { return map_.name; }
  std::uint32_t box_rows() const { return map_.box_rows; }
  std::uint32_t box_cols() const { return map_.box_cols; }
  Swizzle swizzle() const { return map_.swizzle; }
  DType dtype() const { return dtype_; }
  // Bytes one copy delivers (the whole box, out-of-bounds zeros included).
  std::uint32_t box_bytes() const;

 private:
  std::uint64_t trace_;
  TensorMapId id_;
  TensorMap map_;
  DType dtype_;
};

// Declares a tensor map over `t`: rows x cols elements, row r starting at element
// r * row_stride (u32 values computed from constants, scalars and lengths only: the host
// evaluates them before each launch, where a tensor too short for them, or a row stride that
// is not a multiple of 16 bytes, is an error naming the tensor), copied in boxes of
// box_rows x box_cols elements laid out with `swizzle` (a swizzled box row is exactly the
// swizzle's width). Call it at the top level of the kernel.
TensorMapRef tensor_map(std::string name, const Tensor& t, const Val& rows, const Val& cols,
                        const Val& row_stride, std::uint32_t box_rows, std::uint32_t box_cols,
                        Swizzle swizzle);

// `size` asynchronous barriers in threadgroup memory. Each must be initialised (init, by one
// thread, then a barrier() before any other thread uses it); a phase completes when its
// arrivals and its transaction bytes have both come in, and wait(index, parity) returns once
// the phase of that parity has completed (phase p has parity p % 2).
class AsyncBarriers {
 public:
  AsyncBarriers(std::string name, std::uint32_t size);
  AsyncBarrierId id() const;
  std::uint32_t size() const { return size_; }
  KernelBuilder& builder() const;

  // Barrier `index` (u32) expects `arrivals` arrivals a phase.
  void init(const Val& index, std::uint32_t arrivals) const;
  // One arrival of the calling thread.
  void arrive(const Val& index) const;
  // Adds `bytes` (u32) of bulk copies to the current phase, then arrives.
  void arrive_expect(const Val& index, const Val& bytes) const;
  // Waits until the phase of `parity` (u32, 0 or 1) has completed.
  void wait(const Val& index, const Val& parity) const;

 private:
  std::uint64_t trace_;
  AsyncBarrierId id_;
  std::uint32_t size_;
};

// dst[dst_index ..) <- the box of `map` whose corner is (row, col) (i32; may lie partly or
// wholly outside the tensor: those elements are zeros), swizzled as the map says; its bytes
// count on barriers[barrier]. Asynchronous: read dst only after a wait on that phase. One
// thread issues it; dst_index * element size must be a multiple of
// tensor_map_destination_alignment(map.swizzle()), and col * element size a multiple of 16 (the
// engine starts each box row on a 16-byte boundary; the GPU stops otherwise).
void bulk_tensor_load(const ArrayRef& dst, const Val& dst_index, const TensorMapRef& map,
                      const Val& row, const Val& col, const AsyncBarriers& barriers,
                      const Val& barrier);

}  // namespace mt
