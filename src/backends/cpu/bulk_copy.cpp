// Bulk tile copies of the lockstep interpreter (see bulk_copy.hpp).
#include "backends/cpu/bulk_copy.hpp"

#include <string>

#include "backends/cpu/checks.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/core/warpgroup.hpp"

namespace mt::cpu {

void run_bulk_tensor_load(const MatrixContext& m, const Instr& in, ActiveLanes active,
                          const Scalar* dst_index, const Scalar* row, const Scalar* col,
                          const Scalar* barrier, const BulkSource& src, BarrierPhases& phases) {
  const Kernel& k = m.kernel;
  const TensorMap& map = k.tensor_map(in.tensor_map);
  const Array& dst = k.array(in.array);
  const DType t = dst.dtype;
  const std::uint32_t esize = static_cast<std::uint32_t>(size_of(t));
  const std::int64_t box_elements = std::int64_t{map.box_rows} * map.box_cols;
  const TensorMapExtent& e = src.extent;
  for (Lane lane : active) {
    const std::uint32_t slot = phases.slot(k, in, barrier[lane].i, lane, m.arrays.epoch(), m.where);
    const std::int64_t to = dst_index[lane].i;
    // Checked in the order CUDA's checked mode checks (mt_bulk_copy_ok).
    std::string problem = bulk_column_problem(map, col[lane].i, esize);
    if (problem.empty()) problem = bulk_destination_problem(map, dst, to);
    if (!problem.empty()) throw thread_error(k, in, problem, m.where, lane);
    const std::uint64_t phase = phases.phase(slot);
    for (std::uint32_t r = 0; r < map.box_rows; ++r) {
      const std::int64_t gr = row[lane].i + r;
      for (std::uint32_t c = 0; c < map.box_cols; ++c) {
        const std::int64_t gc = col[lane].i + c;
        const bool inside = gr >= 0 && gc >= 0 && static_cast<std::uint64_t>(gr) < e.rows &&
                            static_cast<std::uint64_t>(gc) < e.cols;
        // The extent was checked against the tensor's length before the launch.
        const Scalar value =
            inside ? read_element(src.data + (static_cast<std::uint64_t>(gr) * e.row_stride +
                                              static_cast<std::uint64_t>(gc)) *
                                                 src.element_size,
                                  t)
                   : Scalar{};
        const std::int64_t element = to + tensor_map_box_byte(map, esize, r, c) / esize;
        m.arrays.write_bulk(in, element, lane, value, slot, phase, m.where);
      }
    }
    phases.complete_bytes(slot, static_cast<std::uint32_t>(box_elements) * esize);
  }
}

}  // namespace mt::cpu
