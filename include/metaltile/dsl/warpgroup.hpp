// Hopper warpgroup MMA in the DSL: a warpgroup's f32 accumulator tile (D, 64 x n, spread over
// its 128 threads), operands in threadgroup memory described as the hardware's matrix
// descriptors, the MMA itself and the fences, commits and waits that order it. Shapes,
// layouts and addressing: core/warpgroup.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "metaltile/core/warpgroup.hpp"
#include "metaltile/dsl/array.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

// One warpgroup's 64 x n accumulator: n / 2 f32 elements of a per-thread array from `offset`.
// Element e of every thread together hold the elements that row(e) and col(e) name.
class WarpgroupAccumulator {
 public:
  WarpgroupAccumulator(ArrayRef array, std::uint32_t offset, std::uint32_t n)
      : array_(array), offset_(offset), n_(n) {}
  const ArrayRef& array() const { return array_; }
  std::uint32_t offset() const { return offset_; }
  std::uint32_t n() const { return n_; }
  std::uint32_t size() const { return warpgroup_accumulator_size(n_); }
  FragmentRef ref() const { return FragmentRef{array_.id(), offset_}; }
  // Element e of this thread's part (a constant index: the array stays in registers).
  ArrayElement operator[](std::uint32_t e) const;
  // The row (0..63) and column (0..n) of D that element e of the calling thread holds.
  Val row(std::uint32_t e) const;
  Val col(std::uint32_t e) const;
  // Sets every element (a zero before the first MMA; warpgroup_fence() must follow).
  void fill(const Val& v) const;

 private:
  ArrayRef array_;
  std::uint32_t offset_;
  std::uint32_t n_;
};

// Declares a 64 x n accumulator (n a multiple of 8 up to 256) in its own per-thread array.
WarpgroupAccumulator warpgroup_accumulator(std::string name, std::uint32_t n);

// A k-major operand of a warpgroup MMA: its 64 (A) or n (B) rows of 16 elements, starting at
// element `start` of threadgroup array `shared`, laid out as `swizzle`, `leading_bytes` and
// `stride_bytes` say (core/warpgroup.hpp: shared_matrix_byte).
struct MatrixDescriptor {
  ArrayRef shared;
  Val start;
  Swizzle swizzle = Swizzle::None;
  std::uint32_t leading_bytes = 0;
  std::uint32_t stride_bytes = 0;
};

// d += a * b over the calling warpgroup (its 128 threads together): a is 64 x 16, b 16 x n
// (stored k-major, n rows of 16), f16 or bf16. Asynchronous: d may be read only after the
// warpgroup_wait that retires the group warpgroup_commit closes around it; the threadgroup
// memory it reads must not be written before then.
void warpgroup_mma(const WarpgroupAccumulator& d, const MatrixDescriptor& a,
                   const MatrixDescriptor& b);
// Orders the warpgroup's earlier accesses of accumulators (and of the operands' memory) before
// its next warpgroup_mma: before the first MMA, and after any write of an accumulator.
void warpgroup_fence();
// Closes the warpgroup's MMAs issued since the last commit into one group.
void warpgroup_commit();
// Waits until at most `pending` (0..7) of the warpgroup's groups are in flight.
void warpgroup_wait(std::uint32_t pending);
// Makes the thread's earlier threadgroup-memory writes (stores and waited asynchronous
// copies) visible to later warpgroup MMAs; put it before the barrier that publishes them.
void fence_async_shared();

}  // namespace mt
