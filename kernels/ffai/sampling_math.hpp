// DSL building blocks of the sampling kernels: the Philox4x32-10 counter-based generator, an
// exp built from exactly rounded f32 operations, the order keys that rank logits, the penalty
// bitmaps, a bitonic sort of (key, index) pairs in threadgroup memory, and warp scans.
//
// Every helper here uses only operations that both backends round identically (integer
// arithmetic, f32 add, multiply and floor; no transcendental functions), so the interpreter and
// CUDA draw the same token from the same seed.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::ffai::sampling {

inline constexpr DType kF32 = DType::F32;
inline constexpr DType kU32 = DType::U32;
// The index of no token: sorts after every real one.
inline constexpr std::uint32_t kNoIndex = 0xFFFFFFFFu;

// ---- Philox4x32-10 --------------------------------------------------------------------------

// The high and low words of the 64-bit product a * b, from 16-bit halves (the IR multiplies
// 32-bit integers modulo 2^32 only).
inline std::pair<Val, Val> mul_hi_lo(std::uint32_t a, const Val& b) {
  const std::uint32_t a0 = a & 0xFFFFu, a1 = a >> 16;
  Val b0 = b & 0xFFFFu, b1 = b >> 16u;
  Val p00 = b0 * a0, p01 = b1 * a0, p10 = b0 * a1, p11 = b1 * a1;
  Val mid = (p00 >> 16u) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
  Val hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  return {hi, b * a};
}

// Philox4x32 with 10 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"):
// the four output words for counter (c0, c1, c2, c3) and key (k0, k1).
inline std::array<Val, 4> philox4x32_10(std::array<Val, 4> c, Val k0, Val k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 = k0 + 0x9E3779B9u;
      k1 = k1 + 0xBB67AE85u;
    }
    auto [hi0, lo0] = mul_hi_lo(0xD2511F53u, c[0]);
    auto [hi1, lo1] = mul_hi_lo(0xCD9E8D57u, c[2]);
    c = {hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
  }
  return c;
}

// A uniform f32 in [0, 1) from the top 24 bits of a random word (exact: 24 bits fit f32).
inline Val unit_interval(const Val& bits) { return (bits >> 8u).to(kF32) * (1.0f / 16777216.0f); }

// ---- exp from exactly rounded steps ---------------------------------------------------------

// e^d for d <= 0 (or -inf): d = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two so n * hi is
// exact), e^r by its degree-7 Taylor polynomial (relative error < 2e-8), and 2^n built from
// bits. Results below 2^-126 flush to 0. About 2 ulp from the true value; the same bits on
// every backend.
inline Val exp_nonpositive(const Val& d) {
  Val clamped = max(d, -87.0f);  // also maps -inf to -87, whose result is then dropped
  Val n = floor(clamped * 1.44269504f + 0.5f);
  Val r = (clamped - n * 0.693145751953125f) - n * 1.4286068203094173e-06f;
  Val p = f32(1.0f / 5040.0f);
  for (float c : {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f}) {
    p = p * r + c;
  }
  Val two_n = ((n.to(DType::I32) + 127).to(kU32) << 23u).bitcast(kF32);
  return select(d < -87.0f, 0.0f, p * two_n);
}

// ---- ranking ----------------------------------------------------------------------------------

// A u32 that orders like the float value y (-0 taken as +0); NaN maps to 0, below -inf, so it
// never ranks above a number.
inline Val order_key(const Val& y) {
  Val bits = select(y == 0.0f, 0.0f, y).bitcast(kU32);
  Val key = select((bits >> 31u) == 1u, ~bits, bits | 0x80000000u);
  return select(y != y, u32(0), key);
}

// The float whose order_key is `key` (NaN for key 0).
inline Val key_value(const Val& key) {
  Val bits = select((key >> 31u) == 1u, key & 0x7FFFFFFFu, ~key);
  return select(key == 0u, u32(0x7FC00000u), bits).bitcast(kF32);
}

// Whether (key a, index a) ranks before (key b, index b): the larger key, then the lower index.
inline Val ranks_before(const Val& ka, const Val& ia, const Val& kb, const Val& ib) {
  return ka > kb || (ka == kb && ia < ib);
}

// The logit after the repetition penalty: divided by the penalty when positive, multiplied when
// negative (transformers' RepetitionPenaltyLogitsProcessor); then divided by the temperature
// when it is positive (greedy decoding ranks the penalised logits themselves).
// The penalty's division sits in a branch: few logits are penalised, and a select would make
// every logit pay for it.
inline Val sampling_logit(const Val& x, const Val& penalised, const Val& penalty,
                          const Val& temperature) {
  Var p = x;
  if_(penalised, [&] { p = select(x < 0.0f, x * penalty, x / penalty); });
  return select(temperature > 0.0f, Val(p) / temperature, Val(p));
}

// The unnormalised probability of a ranked logit relative to the top one: 1 for a key equal to
// the top key (also when that is +-inf), 0 for NaN, else e^(y - y_max).
inline Val relative_weight(const Val& key, const Val& top_key) {
  Val d = key_value(key) - key_value(top_key);
  return select(key == top_key, 1.0f, select(key == 0u, 0.0f, exp_nonpositive(d)));
}

// ---- threadgroup pieces -----------------------------------------------------------------------

// Sorts entries [0, n) of (keys, indices) in threadgroup memory so that each ranks before the
// next (ranks_before); n = 2^log2n. A bitonic network: each stage pairs every entry once, so
// threads never share an entry between barriers.
inline void bitonic_sort(const ArrayRef& keys, const ArrayRef& indices, const Val& log2n) {
  Val n = u32(1) << log2n;
  Val tid = thread_id(0), threads = threads_per_threadgroup(0);
  for (Val p : range(1u, log2n + 1u)) {
    Val block = u32(1) << p;
    for (Val q : range(p)) {
      Val shift = p - 1u - q;
      Val stride = u32(1) << shift;
      for (Val e : range(tid, n >> 1u, threads)) {
        Val i = ((e >> shift) << (shift + 1u)) | (e & (stride - 1u));
        Val j = i | stride;
        Val ki = keys[i], ii = indices[i];
        Val kj = keys[j], ij = indices[j];
        // Blocks alternate direction; the last stage (block = n) sorts the whole range down.
        Val want_i_first = (i & block) == 0u;
        Val swap = select(want_i_first, ranks_before(kj, ij, ki, ii), ranks_before(ki, ii, kj, ij));
        if_(swap, [&] {
          keys[i] = kj;
          indices[i] = ij;
          keys[j] = ki;
          indices[j] = ii;
        });
      }
      barrier();
    }
  }
}

// The better of entries a and b moves to a; the worse goes to b when `keep_worse`.
inline void order_pair(const ArrayRef& keys, const ArrayRef& indices, const Val& a, const Val& b,
                       const Val& keep_worse) {
  Val ka = keys[a], ia = indices[a];
  Val kb = keys[b], ib = indices[b];
  if_(ranks_before(kb, ib, ka, ia), [&] {
    keys[a] = kb;
    indices[a] = ib;
    if_(keep_worse, [&] {
      keys[b] = ka;
      indices[b] = ia;
    });
  });
}

// Merges 2^runs_log2 runs, each sorted best first, of 2^len_log2 entries at [0, 2^(runs_log2 +
// len_log2)) of (keys, indices), so that [0, 2^keep_log2) holds the best entries of all, sorted.
// Pairs of runs merge level by level (bitonic: the first stage pairs a run's entry i with its
// partner's entry L-1-i, then half-cleaners sort each half); once a run would outgrow
// max(2^keep_log2, the initial length), a merge keeps only its better half, so the work halves
// with every level. Each stage orders disjoint pairs, with a barrier after it.
inline void merge_runs(const ArrayRef& keys, const ArrayRef& indices, const Val& runs_log2,
                       const Val& len_log2, const Val& keep_log2) {
  Val tid = thread_id(0), threads = threads_per_threadgroup(0);
  Val cap_log2 = max(keep_log2, len_log2);
  Var l_log2 = len_log2, d_log2 = len_log2;  // run length and distance between runs
  for (Val level : range(runs_log2)) {
    Val len = u32(1) << Val(l_log2), dist = u32(1) << Val(d_log2);
    Val pairs = u32(1) << (runs_log2 - level - 1u);
    Val full = Val(l_log2) + 1u <= cap_log2;  // the merged run keeps all 2L entries
    for (Val e : range(tid, pairs << Val(l_log2), threads)) {
      Val p = e >> Val(l_log2), i = e & (len - 1u);
      Val base = p * (dist << 1u);
      order_pair(keys, indices, base + i, base + dist + (len - 1u - i), full);
    }
    barrier();
    // Half-cleaners on each half (full) or on the kept half only.
    Val blocks_log2 = select(full, u32(1), u32(0));
    for (Val q : range(Val(l_log2))) {
      Val shift = Val(l_log2) - 1u - q;
      Val stride = u32(1) << shift;
      for (Val e : range(tid, (pairs << blocks_log2) << (Val(l_log2) - 1u), threads)) {
        Val block = e >> (Val(l_log2) - 1u), t = e & ((len >> 1u) - 1u);
        Val base = (block >> blocks_log2) * (dist << 1u) + (block & blocks_log2) * len;
        Val x = base + (((t >> shift) << (shift + 1u)) | (t & (stride - 1u)));
        order_pair(keys, indices, x, x + stride, u32(1) == 1u);
      }
      barrier();
    }
    l_log2 = select(full, Val(l_log2) + 1u, Val(l_log2));
    d_log2 = Val(d_log2) + 1u;
  }
}

// log2 of the smallest power of two >= n, for 1 <= n <= 2^max_log2: a select chain of pure
// ops, so a contract may use it too.
inline Val ceil_log2(const Val& n, std::uint32_t max_log2) {
  Val log2 = u32(0);
  for (std::uint32_t b = 1; b <= max_log2; ++b) log2 = select(n > (1u << (b - 1)), u32(b), log2);
  return log2;
}

// Inclusive prefix sum of v over the lanes of a warp (Hillis-Steele with shuffles: the same
// association on every backend).
inline Val warp_inclusive_scan(const Val& v) {
  Val sum = v;
  Val lane = lane_id();
  for (std::uint32_t d = 1; d < 32; d *= 2) {
    Val other = warp_shuffle_up(sum, d);
    sum = sum + select(lane >= d, other, 0.0f);
  }
  return sum;
}

// The (key, index) that ranks first among the warp's lanes, on every lane.
inline std::pair<Val, Val> warp_top(const Val& key, const Val& index) {
  Val k = key, i = index;
  for (std::uint32_t m = 16; m >= 1; m /= 2) {
    Val ko = warp_shuffle_xor(k, m), io = warp_shuffle_xor(i, m);
    Val take = ranks_before(ko, io, k, i);
    k = select(take, ko, k);
    i = select(take, io, i);
  }
  return {k, i};
}

}  // namespace mt::kernels::ffai::sampling
