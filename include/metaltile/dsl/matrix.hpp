// Tensor cores in the DSL: typed fragments (a warp's matrix operand spread over its lanes'
// registers), warp MMA, matrix loads from threadgroup memory, asynchronous global-to-threadgroup
// copies and the XOR swizzle that keeps matrix loads free of bank conflicts. Layouts and
// shapes: core/matrix.hpp. The tile layer (dsl/tile.hpp) builds on these.
#pragma once

#include <cstdint>
#include <string>

#include "metaltile/core/matrix.hpp"
#include "metaltile/dsl/array.hpp"
#include "metaltile/dsl/tensor.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

// One operand of a warp MMA: fragment_size(role, input) elements of a per-thread array from
// `offset`. Kernels never index lanes: element e of every lane together hold the matrix
// elements that row(e) and col(e) name.
class Fragment {
 public:
  Fragment(ArrayRef array, std::uint32_t offset, FragmentRole role, DType input)
      : array_(array), offset_(offset), role_(role), input_(input) {}
  const ArrayRef& array() const { return array_; }
  std::uint32_t offset() const { return offset_; }
  FragmentRole role() const { return role_; }
  DType input() const { return input_; }          // the multiplied type (f16, bf16, i8)
  DType dtype() const { return array_.dtype(); }  // the elements' type
  std::uint32_t size() const { return fragment_size(role_, input_); }
  FragmentRef ref() const { return FragmentRef{array_.id(), offset_}; }
  // Element e of this thread's part (a constant index: the array stays in registers).
  ArrayElement operator[](std::uint32_t e) const;
  // The row and column (u32, within the fragment's m x k, k x n or m x n matrix) that element
  // e of the calling lane holds.
  Val row(std::uint32_t e) const;
  Val col(std::uint32_t e) const;

 private:
  ArrayRef array_;
  std::uint32_t offset_;
  FragmentRole role_;
  DType input_;
};

// `count` fragments of one role in one per-thread array: an accumulator tile of a warp, or
// the A / B operands of one k step. f[i] is the i-th.
class Fragments {
 public:
  Fragments(ArrayRef array, FragmentRole role, DType input, std::uint32_t count)
      : array_(array), role_(role), input_(input), count_(count) {}
  Fragment operator[](std::uint32_t i) const;
  std::uint32_t count() const { return count_; }
  const ArrayRef& array() const { return array_; }
  // Sets every element (an accumulator's zero).
  void fill(const Val& v) const;

 private:
  ArrayRef array_;
  FragmentRole role_;
  DType input_;
  std::uint32_t count_;
};

// Declares `count` fragments of `role` for inputs of `input` (f16, bf16, i8): A and B hold
// the input type, accumulators f32 (i32 for i8).
Fragments fragments(std::string name, FragmentRole role, DType input, std::uint32_t count = 1);

// d = a * b + c over the calling warp (m16n8k16 for f16/bf16, m16n8k32 for i8). Every lane
// of the warp must call it together; d may be c.
void mma(const Fragment& d, const Fragment& a, const Fragment& b, const Fragment& c);

// Fills `dst` (an A or B fragment of 16-bit inputs, or one of i8) from threadgroup memory with
// one matrix load: 4 matrices of 8x8 for A, 2 for B. Lane l gives in `row_start` the element
// index where row l % 8 of matrix l / 8 begins (a multiple of 16 bytes). `transpose` loads
// each 8x8 matrix transposed (16-bit only): a B operand stored k-major.
void load_matrix(const Fragment& dst, const ArrayRef& shared, const Val& row_start,
                 bool transpose = false);
// The same for `count` consecutive fragments dst[first ..] in one load of up to 4 matrices
// (two B fragments of 16-bit inputs): matrix j fills the j-th 4 bytes of each lane's part.
void load_matrix(const Fragments& dst, std::uint32_t first, std::uint32_t count,
                 const ArrayRef& shared, const Val& row_start, bool transpose = false);

// Copies `elements` (4, 8 or 16 bytes' worth) of `src` from `src_index` to threadgroup
// `shared` at `dst_index`, asynchronously; zeros instead where `valid` is false (the source is
// then not read). The copy lands when copy_async_wait retires its group; reading it earlier
// is a race. Indices are multiples of `elements`.
void copy_async(const ArrayRef& shared, const Val& dst_index, const Tensor& src,
                const Val& src_index, std::uint32_t elements, const Val& valid);
// Closes the calling thread's open copies into a group.
void copy_async_commit();
// Waits until at most `pending` (0..7) of the thread's groups are in flight.
void copy_async_wait(std::uint32_t pending);

// The XOR swizzle of a row-major threadgroup tile whose rows are split into 16-byte chunks:
// chunk c of row r is stored at chunk c ^ (r % 8) (when rows hold at least 8 chunks), so that
// the 8 rows a matrix load reads fall in 8 different bank groups. Returns the element offset
// within the tile of element (row, col), for rows of `row_elements` elements of `t`.
Val swizzle(const Val& row, const Val& col, std::uint32_t row_elements, DType t);

}  // namespace mt
