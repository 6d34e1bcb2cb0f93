// The tile layer on the warpgroup MMA (see warpgroup_tile.hpp).
#include "metaltile/dsl/warpgroup_tile.hpp"

#include <string>

#include "metaltile/dsl/builtins.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {

// Rows of 128 bytes, 8 rows (1024 bytes) a swizzle pattern.
constexpr std::uint32_t kRowBytes = 128;

void require_128_byte_rows(const SharedTiles& tiles) {
  if (tiles.cols() * size_of(tiles.dtype()) == kRowBytes) return;
  KernelBuilder::current().fail(
      "warpgroup_mma: tiles '" + KernelBuilder::current().kernel().array(tiles.array().id()).name +
      "' have rows of " + std::to_string(tiles.cols()) + " " + std::string(name_of(tiles.dtype())) +
      " elements; the warpgroup MMA's 128-byte swizzle needs 128-byte rows");
}

}  // namespace

void warpgroup_mma(const WarpgroupAccumulator& acc, const SharedTiles& a, const Val& stage,
                   const Val& a_row0, const SharedTiles& b, const Val& b_row0) {
  require_128_byte_rows(a);
  require_128_byte_rows(b);
  // Row r0 (a multiple of 8) starts a swizzle pattern: its element (r0, c) is unswizzled, so
  // an operand's start is plain arithmetic and the MMA's addressing swizzles the rest.
  const Val a0 = stage * (a.rows() * a.cols()) + a_row0 * a.cols();
  const Val b0 = stage * (b.rows() * b.cols()) + b_row0 * b.cols();
  // 1024 bytes between groups of 8 rows; the leading offset is unused with a swizzle and set
  // to one 16-byte unit, the value the PTX ISA says the hardware assumes.
  const std::uint32_t pattern = 8 * kRowBytes, unused = 16;
  for (std::uint32_t step = 0; step < a.cols() / kWarpgroupK; ++step) {
    warpgroup_mma(acc, {a.array(), a0 + step * kWarpgroupK, Swizzle::Bytes128, unused, pattern},
                  {b.array(), b0 + step * kWarpgroupK, Swizzle::Bytes128, unused, pattern});
  }
}

void store(const WarpgroupAccumulator& acc, const MatrixView& view, const Val& row0,
           const Val& col0) {
  const DType t = view.tensor.dtype();
  for (std::uint32_t e = 0; e < acc.size(); ++e) {
    const Val row = row0 + acc.row(e), col = col0 + acc.col(e);
    const Val value = acc[e].to(t);
    if_(row < view.rows && col < view.cols, [&] { view.tensor[row * view.stride + col] = value; });
  }
}

}  // namespace mt
