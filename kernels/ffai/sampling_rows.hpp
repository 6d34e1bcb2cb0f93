// How the radix-selection sampling kernels read a row and draw from it: the logits of a range
// in tiles of kUnroll logits per thread (loaded together; kTile = 2048 for a group of 256) with
// the repetition penalty from a bitmap in threadgroup memory; the top logit of a range; the kept
// tally of a logit under a cut; and the draw in index order, which walks tiles with a threadgroup
// scan each.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "metaltile/dsl/dsl.hpp"
#include "sampling_mass.hpp"
#include "sampling_math.hpp"
#include "sampling_params.hpp"
#include "sampling_select.hpp"

namespace mt::kernels::ffai::sampling {

// One logit of a tile: its index, order key, and whether it lies inside the range (a logit
// outside is loaded from a valid address but must be ignored).
struct Token {
  Val index, key, valid;
};

// A loop-carried Tally.
struct TallyVar {
  Var count;
  WideVar mass;
  explicit TallyVar(const Tally& t) : count(t.count), mass(t.mass) {}
  operator Tally() const { return Tally{count, mass}; }  // NOLINT: reads like a value
  TallyVar& operator=(const Tally& t) {
    count = t.count;
    mass = t.mass;
    return *this;
  }
};

// The logits of one row, penalised and divided by the temperature, as order keys.
class RowTokens {
 public:
  RowTokens(KernelBuilder& k, const RowInputs& in, const Val& row)
      : in_(in), row_(row), bits_(k.threadgroup_array("penalty_bits", kU32, kChunk / 32)) {}

  // body(first, last) for each chunk [first, last) of at most kChunk logits of [begin, end),
  // with the chunk's penalty bitmap filled. Every thread must call; body may hold barriers.
  void for_chunks(const Val& begin, const Val& end,
                  const std::function<void(const Val&, const Val&)>& body) const {
    Val tid = thread_id(0), threads = threads_per_threadgroup(0);
    for (Val first : range(begin, end, u32(kChunk))) {
      Val last = first + min(end - first, u32(kChunk));
      for (Val w : range(tid, (last - first + 31u) / 32u, threads)) bits_[w] = u32(0);
      barrier();
      for (Val p : range(tid, in_.n_penalty, threads)) {
        Val id = in_.penalty_ids[row_ * in_.n_penalty + p];
        // Checked mode reports an id >= vocab as a load past the end of penalty_ids.
        if_(id >= in_.vocab, [&] { in_.penalty_ids.load(max(id, in_.penalty_ids.len())); });
        if_(id >= first && id < last, [&] {
          Val local = id - first;
          atomic_or(bits_, local >> 5u, u32(1) << (local & 31u));
        });
      }
      barrier();
      body(first, last);
      barrier();  // the bitmap is cleared for the next chunk only after every read
    }
  }

  // Logits a tile: kUnroll per thread.
  static Val tile_size() { return threads_per_threadgroup(0) * kUnroll; }

  // This thread's kUnroll logits of the tile at `tile` inside the chunk [first, last): kUnroll
  // consecutive logits per thread (`runs`: thread order is index order) or one every
  // threads (coalesced). All loads come before any use, so they are in flight together.
  std::vector<Token> tile(const Val& tile, const Val& first, const Val& last, bool runs) const {
    Val tid = thread_id(0), threads = threads_per_threadgroup(0);
    std::vector<Token> out;
    for (std::uint32_t u = 0; u < kUnroll; ++u) {
      Val i = runs ? tile + tid * kUnroll + u : tile + threads * u + tid;
      Val valid = i < last;
      Val local = select(valid, i - first, u32(0));
      Val x = in_.logits[row_ * in_.vocab + first + local].to(kF32);
      Val penalised = ((Val(bits_[local >> 5u]) >> (local & 31u)) & 1u) == 1u;
      out.push_back(
          Token{i, order_key(sampling_logit(x, penalised, in_.repetition_penalty, in_.temperature)),
                valid});
    }
    return out;
  }

  // f(token) for every logit of [begin, end), valid or not (coalesced tiles).
  void for_each(const Val& begin, const Val& end,
                const std::function<void(const Token&)>& f) const {
    for_chunks(begin, end, [&](const Val& first, const Val& last) {
      for (Val t : range(first, last, tile_size())) {
        for (const Token& token : tile(t, first, last, false)) f(token);
      }
    });
  }

 private:
  const RowInputs& in_;
  Val row_;
  ArrayRef bits_;
};

// The logit of [begin, end) that ranks first (the largest key, the lowest index among its
// ties; NaN only in a row of NaN), on every thread.
inline std::pair<Val, Val> range_top(const RowTokens& tokens, const Val& begin, const Val& end) {
  Var best_key = u32(0), best_idx = u32(kNoIndex);
  tokens.for_each(begin, end, [&](const Token& t) {
    Val better = t.valid && ranks_before(t.key, t.index, best_key, best_idx);
    best_key = select(better, t.key, Val(best_key));
    best_idx = select(better, t.index, Val(best_idx));
  });
  Val top_key = threadgroup_max(best_key);
  return {top_key, threadgroup_min(select(Val(best_key) == top_key, Val(best_idx), u32(kNoIndex)))};
}

// What the draw keeps, and how it weighs it. The kept tally of a stretch of the row counts the
// logits tied at the cut's key (count) and adds the weights of the kept logits above it (mass);
// the stretch's kept mass is then mass + min(n, count) * tied_weight, since the tied logits all
// weigh the same and the first n of them in index order are kept.
struct Keeper {
  Cut cut;
  Val top_key, min_p;
  Val tied_weight;  // W of the cut's key, 0 when min-p drops it

  Keeper(const Cut& c, const Val& top, const Val& mp)
      : cut(c),
        top_key(top),
        min_p(mp),
        tied_weight(select(relative_weight(c.key, top) >= mp, key_weight(c.key, top), u32(0))) {}

  Tally tally(const Token& t) const {
    Val w = relative_weight(t.key, top_key);
    Val kept = t.valid && t.key > cut.key && w >= min_p;
    return Tally{select(t.valid && t.key == cut.key, u32(1), u32(0)),
                 wide(select(kept, fixed_weight(w), u32(0)))};
  }

  // The kept mass of the stretch whose kept tally (from the row's start) is t.
  Wide mass(const Tally& t) const { return t.mass + mul_wide(min(cut.n, t.count), tied_weight); }
};

// The draw: the first logit of [begin, end), in index order, whose running kept mass exceeds
// `target`, where `before` is the kept tally of the row before `begin` (the caller guarantees
// that the crossing lies in the range). Tiles in runs: each thread sums its kUnroll logits, a
// threadgroup scan gives every thread the tally before its run, and the one thread whose run
// crosses the target walks it. Every thread must call; the token on every thread.
inline Val walk_draw(KernelBuilder& k, const RowTokens& tokens, const Val& begin, const Val& end,
                     const Tally& before, const Keeper& keeper, const Wide& target,
                     const GroupScan& scan) {
  ArrayRef found = k.threadgroup_array("drawn", kU32, 1);
  if_(thread_id(0) == 0u, [&] { found[0] = u32(kNoIndex); });
  TallyVar base(before);
  tokens.for_chunks(begin, end, [&](const Val& first, const Val& last) {
    for (Val t : range(first, last, RowTokens::tile_size())) {
      std::vector<Token> run = tokens.tile(t, first, last, true);
      std::vector<Tally> tallies;
      Tally own = zero_tally();
      for (const Token& token : run) {
        tallies.push_back(keeper.tally(token));
        own = own + tallies.back();
      }
      GroupScan::Result r = scan.exclusive(own);
      Tally start = Tally(base) + r.before;
      Val crosses = keeper.mass(start) <= target && target < keeper.mass(start + own);
      if_(crosses, [&] {
        Tally running = start;
        Val token = u32(kNoIndex);
        for (std::size_t u = 0; u < run.size(); ++u) {
          running = running + tallies[u];
          token = select(token == kNoIndex && target < keeper.mass(running), run[u].index, token);
        }
        found[0] = token;
      });
      base = Tally(base) + r.total;
    }
  });
  barrier();
  return found[0];
}

// The Philox draw of a row: floor(u * z) for u = (word0 >> 8) / 2^24, exact (below z for z > 0).
inline Wide draw_target(const DrawScalars& d, const Val& row, const Wide& z) {
  auto bits = philox4x32_10({d.offset, row, u32(0), u32(0)}, d.seed_lo, d.seed_hi);
  return mul_shift(z, bits[0] >> 8u, 24, false);
}

}  // namespace mt::kernels::ffai::sampling
