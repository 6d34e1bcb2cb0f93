// The interpreter's bulk tile copy (BulkTensorLoad): the box a tensor map describes, read from
// the bound tensor with zeros outside the map's extent, written swizzled into threadgroup
// memory through ArrayMemory::write_bulk, its bytes counted on the copy's async barrier.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backends/cpu/barrier_phases.hpp"
#include "backends/cpu/matrix.hpp"
#include "metaltile/core/tensor_map.hpp"

namespace mt::cpu {

// The tensor a map reads, as the interpreter binds it.
struct BulkSource {
  const std::uint8_t* data;
  std::size_t element_size;
  TensorMapExtent extent;
};

// For each active lane (in lane order): the barrier must be usable (BarrierPhases::slot), the
// destination aligned (tensor_map_destination_alignment) with the whole box inside the array;
// then every element of the box lands at once, readable by threads that wait for the phase
// the copy's bytes complete.
void run_bulk_tensor_load(const MatrixContext& m, const Instr& in, ActiveLanes active,
                          const Scalar* dst_index, const Scalar* row, const Scalar* col,
                          const Scalar* barrier, const BulkSource& src, BarrierPhases& phases);

}  // namespace mt::cpu
