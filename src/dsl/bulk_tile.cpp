// The tile layer's bulk copy of one stage (see bulk_tile.hpp).
#include "metaltile/dsl/bulk_tile.hpp"

#include <string>

#include "metaltile/core/warpgroup.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {

void load_tile_bulk(const SharedTiles& tiles, const Val& stage, const TensorMapRef& map,
                    const Val& row0, const Val& col0, const AsyncBarriers& barriers,
                    const Val& barrier) {
  KernelBuilder& k = map.builder();
  const std::uint32_t row_bytes = tiles.cols() * static_cast<std::uint32_t>(size_of(tiles.dtype()));
  if (map.box_rows() != tiles.rows() || map.box_cols() != tiles.cols() || row_bytes != 128 ||
      map.swizzle() != Swizzle::Bytes128) {
    k.fail("load_tile_bulk: tensor map '" + map.name() + "' (box " +
           std::to_string(map.box_rows()) + " x " + std::to_string(map.box_cols()) + ", " +
           std::string(swizzle_name(map.swizzle())) + ") does not fill tiles of " +
           std::to_string(tiles.rows()) + " x " + std::to_string(tiles.cols()) +
           ": it needs that box, 128-byte rows and the 128B swizzle");
  }
  // The swizzle leaves row 0's first chunk in place: the stage starts at its tile's offset.
  bulk_tensor_load(tiles.array(), stage * (tiles.rows() * tiles.cols()), map, row0.to(DType::I32),
                   col0.to(DType::I32), barriers, barrier);
}

}  // namespace mt
