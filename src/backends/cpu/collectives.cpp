// Warp reductions, shuffles and prefix sums, and threadgroup reductions and argmax, over the
// lockstep interpreter's value rows. Arithmetic comes from scalar_eval.
#include "backends/cpu/collectives.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

#include "metaltile/core/error.hpp"
#include "metaltile/core/scalar_eval.hpp"

namespace mt::cpu {
namespace {

OpKind combine_kind(CombineOp c) {
  switch (c) {
    case CombineOp::Add: return OpKind::Add;
    case CombineOp::Mul: return OpKind::Mul;
    case CombineOp::Max: return OpKind::Max;
    case CombineOp::Min: return OpKind::Min;
    case CombineOp::And: return OpKind::And;
    case CombineOp::Or: return OpKind::Or;
    case CombineOp::Xor: return OpKind::Xor;
  }
  MT_ASSERT(false) << "combine " << static_cast<int>(c);
  return OpKind::Add;
}

// Combines values[0..n) in place as a pairwise tree and returns the result: each round joins
// neighbours `stride` apart, so the depth (and a float sum's error growth) is log2(n).
Scalar tree_reduce(CombineOp c, DType acc, std::span<Scalar> values) {
  const std::size_t n = values.size();
  for (std::size_t stride = 1; stride < n; stride *= 2) {
    for (std::size_t i = 0; i + stride < n; i += 2 * stride) {
      values[i] = combine(c, acc, values[i], values[i + stride]);
    }
  }
  return values[0];
}

// Reduces in[] over `lanes` in accumulator precision and rounds the result to t.
Scalar reduce_lanes(CombineOp c, DType t, ActiveLanes lanes, const Scalar* in,
                    std::vector<Scalar>& scratch) {
  MT_ASSERT(!lanes.empty()) << "reduction over no lanes";
  scratch.resize(lanes.size());  // within the capacity reserved for a whole group
  for (std::size_t i = 0; i < lanes.size(); ++i) scratch[i] = in[lanes[i]];
  return normalise(tree_reduce(c, accumulator_type(t), scratch), t);
}

// Whether a beats b for argmax: larger, or equal with a lower index. NaN is handled by the
// caller; values of integer types compare as their (sign- or zero-extended) i.
bool beats(bool is_float_type, Scalar a, std::int64_t a_index, Scalar b, std::int64_t b_index) {
  if (is_float_type) {
    if (a.f != b.f) return a.f > b.f;
  } else if (a.i != b.i) {
    return a.i > b.i;
  }
  return a_index < b_index;
}

}  // namespace

Scalar combine(CombineOp c, DType t, Scalar a, Scalar b) {
  const Scalar args[2] = {a, b};
  return scalar_eval(combine_kind(c), t, t, args);
}

void warp_reduce(CombineOp c, DType t, ActiveLanes active, const Scalar* in, Scalar* out,
                 std::vector<Scalar>& scratch) {
  for_each_warp(active, [&](ActiveLanes warp) {
    const Scalar r = reduce_lanes(c, t, warp, in, scratch);
    for (Lane lane : warp) out[lane] = r;
  });
}

void warp_shuffle(ShuffleKind kind, ActiveLanes active, std::size_t group_lanes, const Scalar* in,
                  const Scalar* operand, Scalar* out) {
  for (Lane lane : active) {
    const std::int64_t own = lane % kWarpSize;
    const std::int64_t x = operand[lane].i;  // u32, zero-extended
    std::int64_t source = own;
    switch (kind) {
      case ShuffleKind::Index: source = x; break;
      case ShuffleKind::Xor: source = own ^ x; break;
      case ShuffleKind::Up: source = own - x; break;
      case ShuffleKind::Down: source = own + x; break;
    }
    const std::int64_t target = std::int64_t{lane} - own + source;
    const bool present = source >= 0 && source < std::int64_t{kWarpSize} &&
                         target < static_cast<std::int64_t>(group_lanes);
    out[lane] = in[present ? target : lane];
  }
}

void warp_prefix_sum(bool inclusive, DType t, ActiveLanes active, const Scalar* in, Scalar* out) {
  const DType acc = accumulator_type(t);
  for_each_warp(active, [&](ActiveLanes warp) {
    Scalar sum{};  // 0 in every type
    for (Lane lane : warp) {
      const Scalar before = sum;
      sum = combine(CombineOp::Add, acc, sum, in[lane]);
      out[lane] = normalise(inclusive ? sum : before, t);
    }
  });
}

Scalar threadgroup_reduce(CombineOp c, DType t, ActiveLanes active, const Scalar* in,
                          std::vector<Scalar>& scratch) {
  return reduce_lanes(c, t, active, in, scratch);
}

Scalar threadgroup_argmax(DType t, ActiveLanes active, const Scalar* value, const Scalar* index) {
  const bool fl = is_float(t);
  bool found = false;  // a non-NaN value was seen
  Scalar best{};
  std::int64_t best_index = 0;
  std::int64_t lowest_index = index[active.front()].i;  // the answer when every value is NaN
  for (Lane lane : active) {
    const Scalar v = value[lane];
    const std::int64_t i = index[lane].i;
    lowest_index = std::min(lowest_index, i);
    if (fl && std::isnan(v.f)) continue;
    if (!found || beats(fl, v, i, best, best_index)) {
      best = v;
      best_index = i;
      found = true;
    }
  }
  return Scalar::of_int(found ? best_index : lowest_index);
}

}  // namespace mt::cpu
