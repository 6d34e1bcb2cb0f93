// step_positions: the last launch of a captured decode step. The step's kernels read each
// sequence's position (where the token is written) and length (positions attended to) from
// device memory; advancing both here lets the same graph replay for the next token with no
// upload in between:
//
//   positions[b] += 1;  lengths[b] = positions[b] + 1
//
// One thread per sequence, 32 a group. Positions past a cache's end are the cache kernels'
// concern (they report them), not this kernel's.
#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/engine/decoder.hpp"

namespace mt::kernels::engine::decoder {
namespace {

constexpr DType U32 = DType::U32;

void build(KernelBuilder& k, DType) {
  Tensor positions = k.output("positions", U32), lengths = k.output("lengths", U32);
  require_1d_launch(k);
  k.require_len(lengths, positions.len(), "len(positions)");
  Val b = program_id(0);
  if_(b < positions.len(), [&] {
    Val next = positions[b] + 1u;
    positions[b] = next;
    lengths[b] = next + 1u;
  });
}

}  // namespace

KernelInfo step_positions::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = {DType::U32},
      .body = build,
      .doc = {.summary = "advance each sequence's position and length by one token",
              .formula = "positions[b] += 1; lengths[b] = positions[b] + 1",
              .buffers = {{"positions", "[B] u32: the next token's position"},
                          {"lengths", "[B] u32: positions attended to (position + 1)"}},
              .scalars = {},
              .geometry = "one thread per sequence, 32 a group"},
      .geometry =
          [](const LaunchShape& s) { return geometry::threads_1d(s.elements("positions"), 32); },
      .bench =
          [](BenchScale) {
            BenchCase b;
            b.label = "B1";
            b.dtype = U32;
            b.elements = {{"positions", 1}, {"lengths", 1}};
            b.fills = {{"positions", BenchFill::value(5)}};
            b.bytes = 12.0;
            return std::vector<BenchCase>{b};
          },
  };
}

}  // namespace mt::kernels::engine::decoder
