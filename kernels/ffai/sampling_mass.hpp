// Exact probability mass for the sampling kernels: a token's weight as a fixed-point integer, and
// sums of weights as 64-bit integers held in two u32 words (the IR has no 64-bit type), with
// the products, warp scans and threadgroup scans they need. Integer sums do not round, so every
// order of addition (atomics included) gives the same bits on every backend.
#pragma once

#include <cstdint>

#include "metaltile/dsl/dsl.hpp"
#include "sampling_math.hpp"

namespace mt::kernels::ffai::sampling {

// The fixed-point weight W = floor(w * 2^31) of a relative weight w in [0, 1] (2^31 for the top
// token): the product is exact (a power of two) and the conversion truncates.
inline constexpr float kWeightOne = 2147483648.0f;
inline Val fixed_weight(const Val& w) { return (w * kWeightOne).to(kU32); }

// An unsigned 64-bit integer hi * 2^32 + lo.
struct Wide {
  Val lo, hi;
};

inline Wide wide(const Val& lo) { return {lo, u32(0)}; }

inline Wide operator+(const Wide& a, const Wide& b) {
  Val lo = a.lo + b.lo;
  return {lo, a.hi + b.hi + select(lo < a.lo, u32(1), u32(0))};
}

inline Wide operator-(const Wide& a, const Wide& b) {
  return {a.lo - b.lo, a.hi - b.hi - select(a.lo < b.lo, u32(1), u32(0))};
}

inline Val operator<(const Wide& a, const Wide& b) {
  return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}
inline Val operator<=(const Wide& a, const Wide& b) { return !(b < a); }

inline Wide select(const Val& c, const Wide& a, const Wide& b) {
  return {select(c, a.lo, b.lo), select(c, a.hi, b.hi)};
}

// A loop-carried Wide.
struct WideVar {
  Var lo, hi;
  explicit WideVar(const Wide& init) : lo(init.lo), hi(init.hi) {}
  operator Wide() const { return {lo, hi}; }  // NOLINT: reads like a value
  WideVar& operator=(const Wide& v) {
    lo = v.lo;
    hi = v.hi;
    return *this;
  }
};

// The 64-bit product a * b of two u32, from 16-bit halves (the IR multiplies modulo 2^32).
inline Wide mul_wide(const Val& a, const Val& b) {
  Val a0 = a & 0xFFFFu, a1 = a >> 16u, b0 = b & 0xFFFFu, b1 = b >> 16u;
  Val p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  Val mid = (p00 >> 16u) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
  return {a * b, p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u)};
}

// floor(a * q / 2^s), or the ceiling when `round_up`, for 1 <= s <= 31 and a result below
// 2^64 (the 96-bit product is formed exactly, then shifted).
inline Wide mul_shift(const Wide& a, const Val& q, std::uint32_t s, bool round_up) {
  Wide low = mul_wide(a.lo, q), high = mul_wide(a.hi, q);
  Val w0 = low.lo, w1 = low.hi + high.lo;
  Val w2 = high.hi + select(w1 < low.hi, u32(1), u32(0));
  Wide r{(w0 >> s) | (w1 << (32u - s)), (w1 >> s) | (w2 << (32u - s))};
  if (!round_up) return r;
  return r + wide(select((w0 & ((1u << s) - 1u)) != 0u, u32(1), u32(0)));
}

// The least n with n * w >= r, for r >= 1, w >= 1 and an answer below 2^32: the largest m with
// m * w < r is built bit by bit (32 exact products), and n = m + 1.
inline Val ceil_div(const Wide& r, const Val& w) {
  Var m = u32(0);
  for (Val b : range(u32(32))) {
    Val candidate = Val(m) | (u32(0x80000000u) >> b);
    m = select(mul_wide(candidate, w) < r, candidate, Val(m));
  }
  return Val(m) + 1u;
}

// ---- warp and threadgroup collectives on (count, mass) ------------------------------------

// A count and a mass travel together through the scans.
struct Tally {
  Val count;
  Wide mass;
};

inline Tally operator+(const Tally& a, const Tally& b) {
  return {a.count + b.count, a.mass + b.mass};
}
inline Tally operator-(const Tally& a, const Tally& b) {
  return {a.count - b.count, a.mass - b.mass};
}
inline Tally zero_tally() { return {u32(0), wide(u32(0))}; }

inline Tally warp_shuffle(const Tally& v, const Val& lane) {
  return {mt::warp_shuffle(v.count, lane),
          {mt::warp_shuffle(v.mass.lo, lane), mt::warp_shuffle(v.mass.hi, lane)}};
}

// Inclusive prefix sums over the lanes of a warp (Hillis-Steele with shuffles; exact).
inline Tally warp_inclusive_scan(const Tally& v) {
  Tally sum = v;
  Val lane = lane_id();
  for (std::uint32_t d = 1; d < 32; d *= 2) {
    Val take = lane >= d;
    Val c = warp_shuffle_up(sum.count, d);
    Val lo = warp_shuffle_up(sum.mass.lo, d), hi = warp_shuffle_up(sum.mass.hi, d);
    sum =
        sum + Tally{select(take, c, u32(0)), {select(take, lo, u32(0)), select(take, hi, u32(0))}};
  }
  return sum;
}

// Exclusive prefix sums of a Tally over the threads of a group in thread order, and the group's
// total, on every thread. Threads are a multiple of 32 (whole warps). Every thread must call.
class GroupScan {
 public:
  explicit GroupScan(KernelBuilder& k)
      : totals_{k.threadgroup_array("scan_count", kU32, 32),
                k.threadgroup_array("scan_lo", kU32, 32), k.threadgroup_array("scan_hi", kU32, 32)},
        bases_{k.threadgroup_array("scan_base_count", kU32, 33),
               k.threadgroup_array("scan_base_lo", kU32, 33),
               k.threadgroup_array("scan_base_hi", kU32, 33)} {}

  struct Result {
    Tally before, total;
  };

  Result exclusive(const Tally& v) const {
    Val lane = lane_id(), warp = warp_id();
    Val warps = threads_per_threadgroup(0) / 32u;
    Tally inclusive = warp_inclusive_scan(v);
    if_(lane == 31u, [&] { totals_.store(warp, inclusive); });
    barrier();
    if_(warp == 0u, [&] {
      Val real = lane < warps;
      Tally t = totals_.load(select(real, lane, u32(0)));
      Tally own = {select(real, t.count, u32(0)), select(real, t.mass, wide(u32(0)))};
      Tally incl = warp_inclusive_scan(own);
      bases_.store(lane, incl - own);
      if_(lane == 31u, [&] { bases_.store(u32(32), incl); });
    });
    barrier();
    Result r{bases_.load(warp) + (inclusive - v), bases_.load(u32(32))};
    barrier();  // read before a later scan overwrites the arrays
    return r;
  }

 private:
  struct Planes {
    ArrayRef count, lo, hi;
    void store(const Val& i, const Tally& t) const {
      count[i] = t.count;
      lo[i] = t.mass.lo;
      hi[i] = t.mass.hi;
    }
    Tally load(const Val& i) const { return {count[i], {lo[i], hi[i]}}; }
  };
  Planes totals_, bases_;  // each warp's total; each warp's base, then the group's total
};

}  // namespace mt::kernels::ffai::sampling
