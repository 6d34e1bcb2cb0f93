// The tile layer on bulk copies: one stage of a ring of swizzled threadgroup tiles
// (dsl/tile.hpp) filled by one bulk copy of a tensor map's box, so that a producer thread
// feeds the warpgroup MMA (dsl/warpgroup_tile.hpp) without any thread computing addresses.
// kernels/mlx/gemm.cpp's gemm_wgmma_tma variants are written with it.
#pragma once

#include "metaltile/dsl/bulk_copy.hpp"
#include "metaltile/dsl/tile.hpp"

namespace mt {

// Copies the tiles.rows() x tiles.cols() block of map's tensor whose corner is (row0, col0)
// (u32) into tile `stage`, zeros past the map's extent, its bytes (map.box_bytes()) counted on
// barriers[barrier]. The map's box must be the tile and its rows 128 bytes with the 128-byte
// swizzle: SharedTiles' layout (16-byte chunk c of row r at c ^ (r % 8)) is exactly that
// swizzle. One thread calls it, after arrive_expect on the barrier or before it.
void load_tile_bulk(const SharedTiles& tiles, const Val& stage, const TensorMapRef& map,
                    const Val& row0, const Val& col0, const AsyncBarriers& barriers,
                    const Val& barrier);

}  // namespace mt
