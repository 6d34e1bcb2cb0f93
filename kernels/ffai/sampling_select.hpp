// Radix selection for the sampling kernels: top-k and top-p cuts found from histograms of the
// order keys instead of sorts. A key has 32 bits, taken as three digits (11, 11 and 10 bits);
// each level's histogram holds, per digit, the count and the fixed-point mass of the logits that
// agree with the digits chosen so far, and a scan from the largest digit picks the one where the
// running count (top-k) or mass (top-p) reaches the target. After three levels the cut's key is
// known, with the count and mass of every logit above it; ties at the cut are resolved by index
// (sampling_draw.hpp), so no histogram over indices is needed.
//
// A histogram is built in threadgroup memory (integer atomics: exact in any order) and, when a
// row is split over several groups, added into a global one with integer atomics (in limbs
// that need no carry), so the result is the same bits on every backend. Each 32 neighbouring digits
// also have a coarse sum, so a scan reads 64 + 32 entries (one warp, two rounds) rather than 2048.
#pragma once

#include <cstdint>
#include <functional>

#include "metaltile/dsl/dsl.hpp"
#include "sampling_mass.hpp"
#include "sampling_math.hpp"
#include "sampling_params.hpp"

namespace mt::kernels::ffai::sampling {

// The right shift of level L's digit: 21, 10, 0.
inline Val level_shift(const Val& level) {
  return select(level == 0u, u32(21), select(level == 1u, u32(10), u32(0)));
}

// Level L's digit of a key.
inline Val digit_of(const Val& key, const Val& level) {
  return (key >> level_shift(level)) & select(level == 2u, u32(0x3FF), u32(0x7FF));
}

// Whether a key agrees with `prefix` (the digits chosen so far) above level L's digit.
inline Val in_play(const Val& key, const Val& prefix, const Val& level) {
  Val above = select(level == 1u, u32(21), u32(10));
  return level == 0u || (key >> above) == (prefix >> above);
}

// A histogram as the scan reads it: fine(b) for digit b < kBuckets, coarse(s) for the sum of
// digits [32 s, 32 s + 32).
struct HistView {
  std::function<Tally(const Val&)> fine, coarse;
};

// A row's histogram in a u32 tensor from `base`: planes of kBuckets fine entries (count, then
// the mass's limbs of bits 0-15, 16-31 and 32 and up), then the same four of kCoarse coarse
// ones. Segments add their limbs with integer atomics that need no carry (each limb of a
// segment is below 2^16, and a row has at most 65535 segments); the reader joins them.
inline HistView global_hist(const Tensor& t, const Val& base) {
  auto plane = [t, base](std::uint32_t offset, std::uint32_t n) {
    return [t, base, offset, n](const Val& i) {
      Val at = base + offset + i;
      Val l0 = t[at + n], l1 = t[at + 2 * n], l2 = t[at + 3 * n];
      return Tally{t[at], wide(l0) + Wide{l1 << 16u, (l1 >> 16u) + l2}};
    };
  };
  return HistView{plane(0, kBuckets), plane(4 * kBuckets, kCoarse)};
}

// One level's histogram in threadgroup memory.
class SharedHistogram {
 public:
  explicit SharedHistogram(KernelBuilder& k)
      : count_(k.threadgroup_array("hist_count", kU32, kBuckets)),
        lo_(k.threadgroup_array("hist_lo", kU32, kBuckets)),
        hi_(k.threadgroup_array("hist_hi", kU32, kBuckets)),
        coarse_count_(k.threadgroup_array("coarse_count", kU32, kCoarse)),
        coarse_lo_(k.threadgroup_array("coarse_lo", kU32, kCoarse)),
        coarse_hi_(k.threadgroup_array("coarse_hi", kU32, kCoarse)) {}

  // Every thread; a barrier must follow before add().
  void clear() const {
    for (Val b : range(thread_id(0), u32(kBuckets), threads_per_threadgroup(0))) {
      count_[b] = u32(0);
      lo_[b] = u32(0);
      hi_[b] = u32(0);
    }
  }

  // One logit of digit `digit` and fixed-point weight `weight`.
  void add(const Val& digit, const Val& weight) const {
    atomic_add(count_, digit, u32(1));
    if_(weight > 0u, [&] {
      Val old = atomic_add(lo_, digit, weight);
      if_(old + weight < old, [&] { atomic_add(hi_, digit, u32(1)); });
    });
  }

  // The coarse sums of the fine buckets: each of 256 units sums 8 neighbouring buckets, and
  // lanes 4c..4c+3 (whole warps take part: 256 is a multiple of 32) combine theirs into coarse
  // entry c. Every thread, after a barrier that follows the last add(); a barrier must follow.
  void sum_coarse() const {
    for (Val unit : range(thread_id(0), u32(kBuckets / 8), threads_per_threadgroup(0))) {
      Tally sum = zero_tally();
      for (std::uint32_t e = 0; e < 8; ++e) {
        Val b = unit * 8u + e;
        sum = sum + Tally{count_[b], {lo_[b], hi_[b]}};
      }
      for (std::uint32_t m = 1; m <= 2; m *= 2) {
        sum = sum + Tally{warp_shuffle_xor(sum.count, m),
                          {warp_shuffle_xor(sum.mass.lo, m), warp_shuffle_xor(sum.mass.hi, m)}};
      }
      if_((unit & 3u) == 0u, [&] {
        Val c = unit >> 2u;
        coarse_count_[c] = sum.count;
        coarse_lo_[c] = sum.mass.lo;
        coarse_hi_[c] = sum.mass.hi;
      });
    }
  }

  // Adds every nonzero fine and coarse entry into the global histogram at `base` of t (the
  // layout of global_hist; a segment's mass is below 2^47, so its third limb is too). Every
  // thread, after sum_coarse() and its barrier. The atomics' results are not used, so they
  // need not wait for an answer.
  void flush(const Tensor& t, const Val& base) const {
    auto flush_plane = [&](const ArrayRef& c, const ArrayRef& lo, const ArrayRef& hi,
                           std::uint32_t offset, std::uint32_t n) {
      for (Val b : range(thread_id(0), u32(n), threads_per_threadgroup(0))) {
        Val count = c[b];
        if_(count > 0u, [&] {
          Val at = base + offset + b, low = lo[b], high = hi[b];
          atomic_add(t, at, count);
          atomic_add(t, at + n, low & 0xFFFFu);
          atomic_add(t, at + 2 * n, low >> 16u);
          if_(high > 0u, [&] { atomic_add(t, at + 3 * n, high); });
        });
      }
    };
    flush_plane(count_, lo_, hi_, 0, kBuckets);
    flush_plane(coarse_count_, coarse_lo_, coarse_hi_, 4 * kBuckets, kCoarse);
  }

  HistView view() const {
    auto plane = [](const ArrayRef& c, const ArrayRef& lo, const ArrayRef& hi) {
      return [c, lo, hi](const Val& i) { return Tally{c[i], {lo[i], hi[i]}}; };
    };
    return HistView{plane(count_, lo_, hi_), plane(coarse_count_, coarse_lo_, coarse_hi_)};
  }

 private:
  ArrayRef count_, lo_, hi_, coarse_count_, coarse_lo_, coarse_hi_;
};

// What a scan of one level's histogram finds: the digit where the running count or mass (from
// the largest digit down) first reaches the target; the tallies of the larger digits, of the
// digit itself, and of the whole histogram.
struct ScanResult {
  Val digit;
  Tally above, at, total;
};

inline Tally select(const Val& c, const Tally& a, const Tally& b) {
  return {select(c, a.count, b.count), select(c, a.mass, b.mass)};
}

// Run by the 32 lanes of one warp; the result on every lane. `by_mass` locates by mass, else
// by count; remaining(total) gives the target (>= 1) from the histogram's total. If the target
// is beyond the total (a row of NaN, whose answer is not used), the smallest digit is taken.
inline ScanResult scan_histogram(const HistView& h, const Val& by_mass,
                                 const std::function<Wide(const Tally&)>& remaining) {
  Val lane = lane_id();
  auto reaches = [&](const Tally& t, const Wide& target) {
    return !(select(by_mass, t.mass, wide(t.count)) < target);
  };
  // Coarse: lane l holds entries 63 - 2l and 62 - 2l (the largest digits on lane 0).
  Val sa = u32(kCoarse - 1) - lane * 2u, sb = sa - 1u;
  Tally va = h.coarse(sa), vb = h.coarse(sb);
  Tally pair = va + vb;
  Tally incl = warp_inclusive_scan(pair);
  Tally total = warp_shuffle(incl, u32(31));
  Wide target = remaining(total);
  Val first = warp_min(select(reaches(incl, target), lane, u32(31)));
  Tally excl = incl - pair;
  Val in_a = reaches(excl + va, target);
  Val s = warp_shuffle(select(in_a, sa, sb), first);
  Tally before = warp_shuffle(select(in_a, excl, excl + va), first);
  // Fine: lane l holds digit 32 s + 31 - l.
  Val b = s * 32u + 31u - lane;
  Tally v = h.fine(b);
  Tally fine_incl = before + warp_inclusive_scan(v);
  Val at = warp_min(select(reaches(fine_incl, target), lane, u32(31)));
  return ScanResult{warp_shuffle(b, at), warp_shuffle(fine_incl - v, at), warp_shuffle(v, at),
                    total};
}

// ---- the selections of a request ------------------------------------------------------------

// Which cuts a request needs and their targets. top-k (on for 0 < top_k < V) takes passes 0-2
// by count; top-p (on for top_p < 1) the next three by mass, over the whole ranking: its cut is
// inside the top-k because its target is at most the top-k's mass.
struct Selections {
  Val k_on, p_on, passes, top_k;
  Val p_scaled;  // ceil(top_p * 2^31): top_p in units of 2^-31

  Selections(const RowInputs& in, const DrawScalars& d)
      : k_on(in.temperature > 0.0f && d.top_k > 0u && d.top_k < in.vocab),
        p_on(in.temperature > 0.0f && d.top_p < 1.0f),
        passes(select(k_on, u32(kSelectLevels), u32(0)) + select(p_on, u32(kSelectLevels), u32(0))),
        top_k(d.top_k),
        p_scaled(ceil(d.top_p * kWeightOne).to(kU32)) {}

  Val by_mass(const Val& pass) const { return !(k_on && pass < kSelectLevels); }
};

// A selection between passes: the digits chosen so far, the tally of the logits above them,
// and the target (a count for top-k, a mass for top-p; 0 while top-p's target waits for the
// total of its first histogram).
struct SelectState {
  Val prefix;
  Tally above;
  Wide target;
};

// A loop-carried SelectState.
struct SelectStateVar {
  Var prefix, count, lo, hi, target_lo, target_hi;
  explicit SelectStateVar(const SelectState& s)
      : prefix(s.prefix),
        count(s.above.count),
        lo(s.above.mass.lo),
        hi(s.above.mass.hi),
        target_lo(s.target.lo),
        target_hi(s.target.hi) {}
  operator SelectState() const {  // NOLINT: reads like a value
    return SelectState{prefix, {count, {lo, hi}}, {target_lo, target_hi}};
  }
  SelectStateVar& operator=(const SelectState& s) {
    prefix = s.prefix;
    count = s.above.count;
    lo = s.above.mass.lo;
    hi = s.above.mass.hi;
    target_lo = s.target.lo;
    target_hi = s.target.hi;
    return *this;
  }
};

inline void store_state(const std::function<void(std::uint32_t, const Val&)>& put,
                        const SelectState& s) {
  put(0, s.prefix);
  put(1, s.above.count);
  put(2, s.above.mass.lo);
  put(3, s.above.mass.hi);
  put(4, s.target.lo);
  put(5, s.target.hi);
}

inline SelectState load_state(const std::function<Val(std::uint32_t)>& get) {
  return SelectState{get(0), {get(1), {get(2), get(3)}}, {get(4), get(5)}};
}

// The fixed-point weight of a key, relative to the top key.
inline Val key_weight(const Val& key, const Val& top_key) {
  return fixed_weight(relative_weight(key, top_key));
}

// top-p's target from the top-k's (or the whole row's) mass z: ceil(p_scaled * z / 2^31).
inline Wide top_p_target(const Selections& sel, const Wide& z) {
  return mul_shift(z, sel.p_scaled, 31, true);
}

// Run by one warp: the state after scanning histogram `pass` (built with state s).
inline SelectState advance(const Selections& sel, const Val& pass, const SelectState& s,
                           const HistView& h) {
  Val by_mass = sel.by_mass(pass);
  Val pending = s.target.lo == 0u && s.target.hi == 0u;
  auto target_of = [&](const Tally& total) {
    return select(pending, top_p_target(sel, total.mass), s.target);
  };
  ScanResult r = scan_histogram(h, by_mass, [&](const Tally& total) {
    return target_of(total) - select(by_mass, s.above.mass, wide(s.above.count));
  });
  return SelectState{s.prefix | (r.digit << level_shift(pass % kSelectLevels)), s.above + r.above,
                     target_of(r.total)};
}

// The cut of a request: keep the logits whose key is above `key`, and of those whose key equals
// it the first `n` by index. No cut: key 0 (NaN's) and n = 2^32 - 1, which keeps every logit.
struct Cut {
  Val key, n;
};

inline Cut no_cut() { return Cut{u32(0), u32(kNoIndex)}; }

// The state that builds histogram `pass`; `after` is the state advanced past histogram
// pass - 1 (unused for pass 0). A new selection starts at level 0: top-k with target k, top-p
// with target top_p times the top-k's mass (when top-k ran) or pending.
inline SelectState start_state(const Selections& sel, const Val& pass, const SelectState& after,
                               const Val& top_key) {
  Val n_k = sel.top_k - after.above.count;
  Wide z_k = after.above.mass + mul_wide(n_k, key_weight(after.prefix, top_key));
  Wide target =
      select(pass == 0u, select(sel.k_on, wide(sel.top_k), wide(u32(0))), top_p_target(sel, z_k));
  SelectState fresh{u32(0), zero_tally(), target};
  Val new_selection = pass % kSelectLevels == 0u;
  return SelectState{select(new_selection, fresh.prefix, after.prefix),
                     select(new_selection, fresh.above, after.above),
                     select(new_selection, fresh.target, after.target)};
}

// The cut after the last pass (`after` advanced past it), or no cut without passes.
inline Cut final_cut(const Selections& sel, const SelectState& after, const Val& top_key) {
  Val last = sel.passes - 1u;
  Val n_k = sel.top_k - after.above.count;
  Val n_p = ceil_div(after.target - after.above.mass, key_weight(after.prefix, top_key));
  Val n = select(sel.by_mass(last), n_p, n_k);
  Cut none = no_cut();
  return Cut{select(sel.passes == 0u, none.key, after.prefix), select(sel.passes == 0u, none.n, n)};
}

// Runs advance() on warp 0 and hands its result to every thread through threadgroup memory.
class StateBoard {
 public:
  explicit StateBoard(KernelBuilder& k)
      : words_(k.threadgroup_array("select_state", kU32, kStateWords)) {}

  // Every thread; s and h the same on all.
  SelectState advance(const Selections& sel, const Val& pass, const SelectState& s,
                      const HistView& h) const {
    if_(warp_id() == 0u, [&] {
      SelectState a = sampling::advance(sel, pass, s, h);
      if_(lane_id() == 0u,
          [&] { store_state([&](std::uint32_t w, const Val& v) { words_[w] = v; }, a); });
    });
    barrier();
    SelectState a = load_state([&](std::uint32_t w) { return Val(words_[w]); });
    barrier();  // read before the board is written again
    return a;
  }

 private:
  ArrayRef words_;
};

}  // namespace mt::kernels::ffai::sampling
