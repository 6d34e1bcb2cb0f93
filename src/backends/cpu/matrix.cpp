// Tensor-core ops of the lockstep interpreter (see matrix.hpp).
#include "backends/cpu/matrix.hpp"

#include <array>
#include <string>
#include <vector>

#include "backends/cpu/checks.hpp"
#include "backends/cpu/collectives.hpp"
#include "metaltile/core/matrix.hpp"
#include "metaltile/core/scalar_eval.hpp"

namespace mt::cpu {
namespace {

// A matrix op needs the whole warp: all 32 threads, converged.
void check_full_warps(const MatrixContext& m, const Instr& in, ActiveLanes active) {
  check_warp_converged(m.kernel, in, active, m.group_lanes, m.where);
  for_each_warp(active, [&](ActiveLanes warp) {
    if (warp.size() == kWarpSize) return;
    throw thread_error(m.kernel, in,
                       std::string(op_name(in.op)) + " needs a whole warp of 32 threads; warp " +
                           std::to_string(warp.front() / kWarpSize) + " has " +
                           quantity(warp.size(), "thread"),
                       m.where, warp.front());
  });
}

}  // namespace

void run_mma(const MatrixContext& m, const Instr& in, ActiveLanes active) {
  check_full_warps(m, in, active);
  const Kernel& k = m.kernel;
  const FragmentRef &d = in.fragments[0], &a = in.fragments[1], &b = in.fragments[2],
                    &c = in.fragments[3];
  const DType input = k.array(a.array).dtype;
  const bool integer = input == DType::I8;
  const MmaShape s = mma_shape(input);
  // The warp's matrices, gathered from the fragments: A[m][k], B[k][n], C[m][n].
  std::vector<Scalar> ma(s.m * s.k), mb(s.k * s.n), mc(s.m * s.n);
  const auto gather = [&](ActiveLanes warp, const FragmentRef& f, FragmentRole role,
                          std::vector<Scalar>& into, std::uint32_t cols) {
    for (std::uint32_t lane = 0; lane < kWarpSize; ++lane) {
      for (std::uint32_t e = 0; e < fragment_size(role, input); ++e) {
        const MatrixCoord at = fragment_coord(role, input, lane, e);
        into[at.row * cols + at.col] =
            m.arrays.read_thread(in, f.array, f.offset + e, warp[lane], m.where);
      }
    }
  };
  for_each_warp(active, [&](ActiveLanes warp) {
    gather(warp, a, FragmentRole::A, ma, s.k);
    gather(warp, b, FragmentRole::B, mb, s.n);
    gather(warp, c, FragmentRole::Accumulator, mc, s.n);
    for (std::uint32_t lane = 0; lane < kWarpSize; ++lane) {
      for (std::uint32_t e = 0; e < fragment_size(FragmentRole::Accumulator, input); ++e) {
        const MatrixCoord at = fragment_coord(FragmentRole::Accumulator, input, lane, e);
        Scalar out;
        if (integer) {
          std::uint64_t sum = static_cast<std::uint64_t>(mc[at.row * s.n + at.col].i);
          for (std::uint32_t i = 0; i < s.k; ++i) {
            sum += static_cast<std::uint64_t>(ma[at.row * s.k + i].i * mb[i * s.n + at.col].i);
          }
          out = Scalar::of_int(static_cast<std::int32_t>(static_cast<std::uint32_t>(sum)));
        } else {
          // Products of f16 or bf16 values are exact in f64, and so is their sum to well
          // within f32's precision: one rounding, as a fused dot product would.
          double sum = mc[at.row * s.n + at.col].f;
          for (std::uint32_t i = 0; i < s.k; ++i)
            sum += ma[at.row * s.k + i].f * mb[i * s.n + at.col].f;
          out = Scalar::of_float(static_cast<float>(sum));
        }
        m.arrays.write_thread(in, d.array, d.offset + e, warp[lane], out, m.where);
      }
    }
  });
}

void run_load_matrix(const MatrixContext& m, const Instr& in, ActiveLanes active,
                     const Scalar* row_start) {
  check_full_warps(m, in, active);
  const Kernel& k = m.kernel;
  const DType t = k.array(in.array).dtype;
  const std::uint32_t size = static_cast<std::uint32_t>(size_of(t));
  const std::uint32_t row_elements = 16 / size, per_lane = 4 / size;
  const FragmentRef& dst = in.fragments[0];
  for_each_warp(active, [&](ActiveLanes warp) {
    // rows[j][r][c]: matrix j's row r as lane 8j + r points to it.
    std::vector<Scalar> rows(std::size_t{in.lanes} * 8 * row_elements);
    for (std::uint32_t j = 0; j < in.lanes; ++j) {
      for (std::uint32_t r = 0; r < 8; ++r) {
        const Lane lane = warp[8 * j + r];
        const std::int64_t start = row_start[lane].i;
        if (start % row_elements != 0) {
          throw thread_error(k, in,
                             "row start " + std::to_string(start) + " of '" +
                                 k.array(in.array).name + "' is not a multiple of " +
                                 std::to_string(row_elements) + " elements (16 bytes)",
                             m.where, lane);
        }
        for (std::uint32_t col = 0; col < row_elements; ++col) {
          rows[(j * 8 + r) * row_elements + col] =
              m.arrays.read_shared(in, in.array, start + col, lane, m.where);
        }
      }
    }
    for (std::uint32_t lane = 0; lane < kWarpSize; ++lane) {
      for (std::uint32_t j = 0; j < in.lanes; ++j) {
        for (std::uint32_t e = 0; e < per_lane; ++e) {
          const std::uint32_t row = in.transpose ? (lane % 4) * 2 + e : lane / 4;
          const std::uint32_t col = in.transpose ? lane / 4 : (lane % 4) * per_lane + e;
          m.arrays.write_thread(in, dst.array, dst.offset + j * per_lane + e, warp[lane],
                                rows[(j * 8 + row) * row_elements + col], m.where);
        }
      }
    }
  });
}

void run_copy_async(const MatrixContext& m, const Instr& in, ActiveLanes active,
                    const Scalar* dst_index, const Scalar* src_index, const Scalar* valid,
                    const CopyAsyncSource& src) {
  const Kernel& k = m.kernel;
  const DType t = k.param(in.param).dtype;
  const Array& shared = k.array(in.array);
  for (Lane lane : active) {
    const std::int64_t to = dst_index[lane].i, from = src_index[lane].i;
    if (valid[lane].i != 0) check_vector_access(k, in, from, src.elements, m.where, lane);
    if (to % in.lanes != 0 || to < 0 || to + in.lanes > shared.size) {
      throw thread_error(k, in,
                         "array '" + shared.name + "': copy_async of " +
                             quantity(in.lanes, "element") + " at " + std::to_string(to) +
                             " is not aligned to its size or not inside the array (" +
                             quantity(shared.size, "element") + ")",
                         m.where, lane);
    }
  }
  for (Lane lane : active) {
    const std::int64_t to = dst_index[lane].i, from = src_index[lane].i;
    for (std::uint32_t e = 0; e < in.lanes; ++e) {
      const Scalar value =
          valid[lane].i != 0 ? read_element(src.data + (from + e) * src.element_size, t) : Scalar{};
      m.arrays.write_async(in, to + e, lane, value, m.where);
    }
  }
}

}  // namespace mt::cpu
