// Warp and threadgroup collectives of the lockstep interpreter, over value rows (one Scalar per
// lane). The caller has checked that every thread of each warp (or of the group) is active.
#pragma once

#include <cstddef>
#include <vector>

#include "backends/cpu/lanes.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/ops.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt::cpu {

// a `c` b in type t, as scalar_eval states it (Add -> OpKind::Add, ...): integers wrap, float
// Max/Min return the non-NaN operand. Atomics and collectives both combine through this.
Scalar combine(CombineOp c, DType t, Scalar a, Scalar b);

// The type collectives accumulate in: f32 for every float type (f16 and bf16 round only the
// final result), the type itself for integers.
inline DType accumulator_type(DType t) { return is_float(t) ? DType::F32 : t; }

// out[l] = `c` over in[] of l's warp, for every active lane. The combine order is a pairwise
// tree over the warp's lanes (lane 0 with 1, 2 with 3, then pairs of pairs, ...).
void warp_reduce(CombineOp c, DType t, ActiveLanes active, const Scalar* in, Scalar* out,
                 std::vector<Scalar>& scratch);

// out[l] = in[source] with the source lane of `kind` and operand[l] (a u32 lane, mask or delta)
// within l's warp; a source outside the warp, or an absent thread of a partial warp, gives
// in[l]. Values move unchanged.
void warp_shuffle(ShuffleKind kind, ActiveLanes active, std::size_t group_lanes, const Scalar* in,
                  const Scalar* operand, Scalar* out);

// out[l] = sum of in[] over the lanes of l's warp up to l (inclusive) or before it (exclusive:
// 0 for lane 0). Summed in lane order, in accumulator_type(t); each result rounds to t.
void warp_prefix_sum(bool inclusive, DType t, ActiveLanes active, const Scalar* in, Scalar* out);

// `c` over in[] of every lane in `active`, by the same pairwise tree as warp_reduce.
Scalar threadgroup_reduce(CombineOp c, DType t, ActiveLanes active, const Scalar* in,
                          std::vector<Scalar>& scratch);

// The index[l] of the lane holding the largest value[l] (of type t): the lowest index among
// equal values (-0 equals +0); NaN never wins unless every value is NaN, and then the lowest
// index does.
Scalar threadgroup_argmax(DType t, ActiveLanes active, const Scalar* value, const Scalar* index);

// Calls f(ActiveLanes) for each warp's run of lanes in `active`, in order.
template <class F>
void for_each_warp(ActiveLanes active, F f) {
  std::size_t begin = 0;
  while (begin < active.size()) {
    const Lane warp = active[begin] / kWarpSize;
    std::size_t end = begin + 1;
    while (end < active.size() && active[end] / kWarpSize == warp) ++end;
    f(active.subspan(begin, end - begin));
    begin = end;
  }
}

}  // namespace mt::cpu
