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
// A row holds a power-of-two number of 16-byte chunks.
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

// One warp's rows x cols accumulator (multiples of 16 x 8) for inputs of `input`: f32 (i32 for
// i8) elements in the tensor cores' fragment layout, zero at first.
class AccumulatorTile {
 public:
  AccumulatorTile(std::string name, DType input, std::uint32_t rows, std::uint32_t cols);

  // acc += A * Bᵀ over the whole k extent of one stage: A is rows x k of `a`'s tile `stage`
  // from row a_row0, B is cols x k of `b`'s tile from row b_row0 (both k-contiguous, as a
  // linear layer's x and w are). The calling warp's lanes must all call it.
  void mma(const SharedTiles& a, const Val& stage, const Val& a_row0, const SharedTiles& b,
           const Val& b_row0);
  // Every element v at (row, col) of the tile becomes f(v, row, col).
  void apply(const std::function<Val(const Val& v, const Val& row, const Val& col)>& f);
  // Reduces each row of the tile (Add, Max or Min over its cols elements, f32 for float
  // inputs) across the 4 lanes that hold it: result[i] is row (i / 2) * 16 + i % 2 * 8 +
  // lane_id() / 4's value, for i < rows() / 8; every lane of the quad gets it.
  std::vector<Val> row_reduce(CombineOp combine) const;
  // Stores the tile at (row0, col0) of `view`, converted to its dtype, skipping elements
  // outside the view.
  void store(const MatrixView& view, const Val& row0, const Val& col0) const;

  std::uint32_t rows() const { return rows_; }
  std::uint32_t cols() const { return cols_; }
  const Fragments& fragments() const { return acc_; }

 private:
  Fragment at(std::uint32_t mi, std::uint32_t ni) const { return acc_[mi * (cols_ / 8) + ni]; }
  std::string name_;
  DType input_;
  std::uint32_t rows_, cols_;
  Fragments acc_;
};

}  // namespace mt
