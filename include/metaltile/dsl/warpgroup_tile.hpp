// The tile layer on the warpgroup MMA: a warpgroup's accumulator multiplying one stage of two
// rings of swizzled threadgroup tiles (dsl/tile.hpp) whose 128-byte rows are exactly the
// layout of the MMA's 128-byte swizzle, and its masked store. kernels/mlx/gemm.cpp's
// gemm_wgmma variants are written with these.
#pragma once

#include "metaltile/dsl/tile.hpp"
#include "metaltile/dsl/warpgroup.hpp"

namespace mt {

// acc += A * Bᵀ over one stage: A is the 64 rows of `a`'s tile `stage` from row a_row0, B the
// acc.n() rows of `b`'s tile `stage` from row b_row0 (both multiples of 8), k the tiles' 64
// columns, in 4 MMAs whose operands start 16 elements further along the rows. The tiles' rows
// must be 128 bytes (64 f16 or bf16 elements): SharedTiles' swizzle is then the MMA's 128-byte
// swizzle. Issues the MMAs only: fences, commits and waits are the caller's.
void warpgroup_mma(const WarpgroupAccumulator& acc, const SharedTiles& a, const Val& stage,
                   const Val& a_row0, const SharedTiles& b, const Val& b_row0);

// Stores acc (64 x n) at (row0, col0) of `view`, converted to its dtype, skipping elements
// outside the view. The accumulator must be retired (warpgroup_wait) first.
void store(const WarpgroupAccumulator& acc, const MatrixView& view, const Val& row0,
           const Val& col0);

}  // namespace mt
