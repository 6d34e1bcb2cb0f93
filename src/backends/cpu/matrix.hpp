// The interpreter's tensor-core ops: Mma and LoadMatrix computed from the fragment layouts of
// core/matrix.hpp, one whole warp at a time, and the asynchronous copies (CopyAsync*).
#pragma once

#include <cstddef>

#include "backends/cpu/arrays.hpp"
#include "backends/cpu/lanes.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cpu {

// Where a matrix op runs: the kernel, the group's array memory and its locator.
struct MatrixContext {
  const Kernel& kernel;
  ArrayMemory& arrays;
  const ThreadLocator& where;
  std::size_t group_lanes;  // threads in the group
};

// D = A * B + C for each warp of `active`: f32 accumulation of exact products (summed in
// f64, rounded once to f32), i32 wrapping for i8. Each warp must be complete (32 threads,
// all active), else an error names the missing thread. Every fragment element read must
// have been written by its thread.
void run_mma(const MatrixContext& m, const Instr& in, ActiveLanes active);

// LoadMatrix for each warp of `active`: each row start must be a multiple of 16 bytes, and
// every element read passes the checks of a threadgroup load (bounds, written, races,
// pending copies).
void run_load_matrix(const MatrixContext& m, const Instr& in, ActiveLanes active,
                     const Scalar* row_start);

// CopyAsync per active lane: the source range is checked like a vector load when the
// condition holds (nothing is read when it does not: the destination gets zeros), the
// destination must be aligned to the copy's size and inside the array.
struct CopyAsyncSource {
  const std::uint8_t* data;
  std::size_t elements;
  std::size_t element_size;
};
void run_copy_async(const MatrixContext& m, const Instr& in, ActiveLanes active,
                    const Scalar* dst_index, const Scalar* src_index, const Scalar* valid,
                    const CopyAsyncSource& src);

}  // namespace mt::cpu
