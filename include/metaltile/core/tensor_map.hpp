// Bulk tile copies (the tensor memory accelerator): a tensor map describes a 2-D row-major
// view of a tensor parameter and the box one copy moves; BulkTensorLoad copies the box at a
// corner into threadgroup memory, swizzled, zeros where the box leaves the tensor, and counts
// its bytes on an asynchronous barrier. The layout of a box in threadgroup memory, the checks
// of a map's launch-time extent, constructors and verifier rules.
#pragma once

#include <cstdint>
#include <string>

#include "metaltile/core/kernel.hpp"

namespace mt {

// A box has 1 .. 256 rows and columns (the hardware's limit per dimension).
constexpr std::uint32_t kMaxTensorMapBox = 256;

// A tensor map's extent at one launch, from its TensorMapShape statement: rows x cols elements,
// row r starting at element r * row_stride of the tensor.
struct TensorMapExtent {
  std::uint64_t rows = 0, cols = 0, row_stride = 0;
};

// Bytes of one box: box_rows * box_cols elements of the map's tensor, out-of-bounds ones
// included (the hardware delivers them as zeros and counts them).
std::uint32_t tensor_map_box_bytes(const Kernel& k, const TensorMap& m);

// Where element (row, col) of a box lies, in bytes from the box's first byte in threadgroup
// memory: rows of box_cols elements one after another, then the swizzle's XOR of address bits
// 4.. with bits 7.. (as a warpgroup MMA operand's, core/warpgroup.hpp). The box's first byte
// must be a multiple of tensor_map_destination_alignment(m.swizzle), so that the pattern, which
// the hardware applies to addresses, starts with the box.
std::uint32_t tensor_map_box_byte(const TensorMap& m, std::uint32_t element_bytes,
                                  std::uint32_t row, std::uint32_t col);
// 128 bytes without swizzle (the copy engine's own rule); one whole pattern with one: 8 rows of
// the swizzle's width (256, 512 or 1024 bytes).
std::uint32_t tensor_map_destination_alignment(Swizzle s);

// Why the copy engine cannot start a box of `m` at column `col` of a row of `element_bytes`
// elements, or "": the corner's byte offset must be a multiple of 16 (the GPU stops the kernel
// otherwise). And why a box of `m` cannot land at element `at` of threadgroup array `dst`, or
// "": it must lie inside the array, on tensor_map_destination_alignment(m.swizzle). The
// interpreter and CUDA's checked mode report these words.
std::string bulk_column_problem(const TensorMap& m, std::int64_t col, std::uint32_t element_bytes);
std::string bulk_destination_problem(const TensorMap& m, const Array& dst, std::int64_t at);

// Why `extent` cannot describe tensor `m.tensor` of `tensor_elements` elements, or "": rows and
// cols at least 1 and below 2^32, cols <= row_stride, the row stride a multiple of 16 bytes
// below 2^40, and every row inside the tensor.
std::string tensor_map_extent_problem(const Kernel& k, const TensorMap& m,
                                      const TensorMapExtent& extent, std::uint64_t tensor_elements);

namespace make {
// The contract statement that gives map `m` its extent (u32 values of the contract).
Instr tensor_map_shape(const Kernel& k, TensorMapId m, ValueId rows, ValueId cols,
                       ValueId row_stride);
// dst[dst_index ..) <- the box of map `m` at (row, col) (i32), counted on barrier
// set[barrier] (u32).
Instr bulk_tensor_load(const Kernel& k, ArrayId dst, ValueId dst_index, TensorMapId m, ValueId row,
                       ValueId col, AsyncBarrierId set, ValueId barrier);
}  // namespace make

// The verifier's rules for a tensor map declaration (kernel level): "" or what is wrong.
std::string tensor_map_problem(const Kernel& k, const TensorMap& m);
// The verifier's rules for BulkTensorLoad and TensorMapShape: "" or what is wrong.
std::string bulk_copy_problem(const Kernel& k, const Instr& in);

// "a_map" (or "?map"): the map an instruction names, for the printer and error messages.
std::string tensor_map_name(const Kernel& k, TensorMapId m);

}  // namespace mt
