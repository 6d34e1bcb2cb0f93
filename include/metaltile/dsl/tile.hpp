// The tile layer: 2-D views of flat tensors with masked tails, rings of swizzled threadgroup
// tiles filled by asynchronous tile copies, and warp accumulator tiles that multiply shared
// tiles on the tensor cores, map elementwise and store masked. A pipelined GEMM reads like
// its math (kernels/mlx/gemm.cpp); everything lowers to dsl/matrix.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "metaltile/dsl/matrix.hpp"

namespace mt {

// A row-major matrix inside a flat tensor: rows x cols elements, row r starting at r * stride.
// Reads outside it give zeros and writes outside it are skipped.
struct MatrixView {
  Tensor tensor;
  Val rows, cols, stride;
};
MatrixView matrix_view(const Tensor& t, const Val& rows, const Val& cols);

// `stages` threadgroup tiles of rows x cols elements each (a ring for a copy pipeline), each
// stored row-major with swizzle() applied, so matrix loads read them free of bank conflicts.
// A row holds a power-of-two number of 16-byte chunks. The swizzle reads only a row's low three
// bits, so at(s, row + 8j, col) = at(0, row, col) + s * rows * cols + 8j * cols: an offset
// computed once per lane serves every stage and every eighth row.
class SharedTiles {
 public:
  SharedTiles(std::string name, DType t, std::uint32_t rows, std::uint32_t cols,
              std::uint32_t stages);
  // Element (row, col) of tile `stage`, as an index into array().
  Val at(const Val& stage, const Val& row, const Val& col) const;
  const ArrayRef& array() const { return array_; }
  DType dtype() const { return array_.dtype(); }
  std::uint32_t rows() const { return rows_; }
  std::uint32_t cols() const { return cols_; }
  std::uint32_t stages() const { return stages_; }

 private:
  ArrayRef array_;
  std::uint32_t rows_, cols_, stages_;
};

// Copies the tiles().rows() x tiles().cols() block of `view` whose corner is (row0, col0) into
// tile `stage`, the group's `threads` threads (thread_id(0) < threads) splitting it into
// 16-byte chunks, round-robin: asynchronous copies (copy_async; commit and wait as for any copy),
// elements outside the view zero. `aligned` promises that view.cols and view.stride are multiples
// of 16 bytes, so every chunk lies wholly inside or outside the view; without it each element is
// loaded on its own, at once (a wait is then a no-op), for any shape.
void copy_tile_async(const SharedTiles& tiles, const Val& stage, const MatrixView& view,
                     const Val& row0, const Val& col0, std::uint32_t threads, bool aligned);

class MmaOperands;

// One warp's rows x cols accumulator (multiples of 16 x 8) for inputs of `input`: f32 (i32 for
// i8) elements in the tensor cores' fragment layout, zero at first.
class AccumulatorTile {
 public:
  AccumulatorTile(std::string name, DType input, std::uint32_t rows, std::uint32_t cols);

  // acc += A * Bᵀ over the whole k extent of one stage: A is rows x k of `a`'s tile `stage`
  // from row a_row0, B is cols x k of `b`'s tile from row b_row0 (both k-contiguous, as a
  // linear layer's x and w are). The calling warp's lanes must all call it.
  void mma(const SharedTiles& a, const Val& stage, const Val& a_row0, const SharedTiles& b,
           const Val& b_row0) {
    mma(a, stage, a_row0, b, stage, b_row0);
  }
  // The same with A and B from tiles of different stages (a block of queries held once, keys
  // streaming through a ring): the k extent is a.cols(), which must equal b.cols().
  void mma(const SharedTiles& a, const Val& a_stage, const Val& a_row0, const SharedTiles& b,
           const Val& b_stage, const Val& b_row0);
  // acc += A * Bᵀ over one k step: the fragments that `operands` loaded into `buffer`.
  void mma(const MmaOperands& operands, std::uint32_t buffer);
  // acc += P * B, the second product of attention (P = softmax(Q Kᵀ), B = V): P is `p`, another
  // accumulator tile of this warp (rows() x p.cols()), rounded to the input type and used as
  // the A operand straight from its registers (two accumulator fragments side by side hold an
  // A fragment's elements); B is the p.cols() x cols() block of `b`'s tile `stage` from row
  // b_row0, stored row-major with n contiguous (as a V cache is), loaded transposed. b.cols()
  // must equal cols(). The calling warp's lanes must all call it.
  void mma(const AccumulatorTile& p, const SharedTiles& b, const Val& stage, const Val& b_row0);
  // Every element v at (row, col) of the tile becomes f(v, row, col).
  void apply(const std::function<Val(const Val& v, const Val& row, const Val& col)>& f);
  // The same with the row named by its place among the lane's rows, as row_reduce numbers its
  // results (i = 0 .. rows() / 8 - 1), so per-row values (a running maximum, a causal limit)
  // index a vector instead of comparing rows: v at (row, col) becomes f(v, i, col).
  void apply_by_row(const std::function<Val(const Val& v, std::uint32_t i, const Val& col)>& f);
  // Reduces each row of the tile (Add, Max or Min over its cols elements, f32 for float
  // inputs) across the 4 lanes that hold it: result[i] is row (i / 2) * 16 + i % 2 * 8 +
  // lane_id() / 4's value, for i < rows() / 8; every lane of the quad gets it.
  std::vector<Val> row_reduce(CombineOp combine) const;
  // Stores the tile at (row0, col0) of `view`, converted to its dtype, skipping elements
  // outside the view.
  void store(const MatrixView& view, const Val& row0, const Val& col0) const;
  // The same, each lane's two adjacent elements of a fragment row written by one vector store
  // (4 bytes of f16 / bf16, 8 of f32) under one bounds test, when both lie inside the view and
  // the pair is aligned (view.stride and col0 even); elsewhere element by element, as store().
  void store_pairs(const MatrixView& view, const Val& row0, const Val& col0) const;

  std::uint32_t rows() const { return rows_; }
  std::uint32_t cols() const { return cols_; }
  DType input() const { return input_; }
  const std::string& name() const { return name_; }
  const Fragments& fragments() const { return acc_; }

 private:
  Fragment at(std::uint32_t mi, std::uint32_t ni) const { return acc_[mi * (cols_ / 8) + ni]; }
  std::string name_;
  DType input_;
  std::uint32_t rows_, cols_;
  Fragments acc_;
};

// The A and B fragments of one k step of an AccumulatorTile's product with two SharedTiles
// (as AccumulatorTile::mma, A from a_row0 of `a`, B from b_row0 of `b`), in `buffers` sets, so a
// kernel loads the next k step's fragments while the tensor cores multiply the current one.
// Each lane's swizzled offsets of every k step are computed at construction (before the k loop:
// construct it there); a load adds only constants for the stage and the fragment's rows, which
// fold into the matrix load's address.
class MmaOperands {
 public:
  MmaOperands(const AccumulatorTile& acc, const SharedTiles& a, const Val& a_row0,
              const SharedTiles& b, const Val& b_row0, std::uint32_t buffers = 2);
  // k steps in one stage of the tiles.
  std::uint32_t steps() const { return steps_; }
  std::uint32_t buffers() const { return buffers_; }
  // Loads k step `step` of tile `stage` into buffer `buffer`. The calling warp's lanes must
  // all call it.
  void load(std::uint32_t buffer, std::uint32_t stage, std::uint32_t step) const;
  // Fragment mi of A (ni of B) in buffer `buffer`.
  Fragment a(std::uint32_t buffer, std::uint32_t mi) const;
  Fragment b(std::uint32_t buffer, std::uint32_t ni) const;

 private:
  SharedTiles a_, b_;
  std::uint32_t m_tiles_, n_tiles_, steps_, buffers_;
  Fragments fa_, fb_;
  std::vector<Val> a_offsets_, b_offsets_;  // by k step: lane offsets in tile 0, first fragment
};

}  // namespace mt
