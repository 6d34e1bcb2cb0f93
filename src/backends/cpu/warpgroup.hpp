// The interpreter's warpgroup MMA: each WarpgroupMma computed at issue from the threadgroup
// memory its operands' layouts address (core/warpgroup.hpp), with its accumulator registers and
// the elements it read held in flight until the WarpgroupWait that retires its group; the
// fence, commit and wait bookkeeping of each warpgroup, and the misuse it reports.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "backends/cpu/arrays.hpp"
#include "backends/cpu/lanes.hpp"
#include "backends/cpu/matrix.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cpu {

// Every op here needs whole warpgroups: 128 threads from a multiple of 128, all active and
// converged (else an error names the warpgroup and how many threads it has).
class Warpgroups {
 public:
  // For groups of `lanes` threads of kernel k (which arrays are accumulators).
  void reset(const Kernel& k, std::size_t lanes);
  // A new group: no warpgroup has fenced or has MMAs in flight.
  void begin_group();
  // The group's body has ended: MMAs still in flight (no wait retired them) are an error.
  void end_group(const MatrixContext& m);

  // D += A * B for each warpgroup of `active` (starts per thread, which must agree across
  // the warpgroup). The operands must lie inside their arrays, be written, not race, and
  // have been fenced by their writers (fence_async_shared) since they were written;
  // D's elements must be written; a warpgroup_fence must lie between the last ordinary access
  // of any accumulator by the warpgroup and this MMA. Sums each output's 16 products exactly
  // (f64) and rounds once to f32.
  void mma(const MatrixContext& m, const Instr& in, ActiveLanes active, const Scalar* a_start,
           const Scalar* b_start);
  void fence(const MatrixContext& m, const Instr& in, ActiveLanes active);
  void commit(const MatrixContext& m, const Instr& in, ActiveLanes active);
  void wait(const MatrixContext& m, const Instr& in, ActiveLanes active);
  // An ArrayLoad or ArrayStore of a per-thread array by `active`: when the array is an
  // accumulator, the lanes' warpgroups need a fence before their next MMA.
  void note_access(const Instr& in, ActiveLanes active);

 private:
  // What one MMA holds in flight: its accumulator range (for all 128 threads) and the
  // threadgroup elements it read.
  struct InFlight {
    FragmentRef d;
    std::uint32_t size = 0;
    std::vector<std::pair<ArrayId, std::int64_t>> reads;
  };
  struct State {
    bool fenced = false;  // no ordinary accumulator access since the last fence
    std::vector<InFlight> open;
    std::deque<std::vector<InFlight>> groups;
    const Instr* last = nullptr;  // the last MMA issued, for the end-of-group report
  };
  // Checks that `active` is made of whole warpgroups and calls f(index, first lane) for each.
  template <class F>
  void for_each_warpgroup(const MatrixContext& m, const Instr& in, ActiveLanes active, F f);
  void retire(ArrayMemory& arrays, Lane first, std::vector<InFlight>& group);

  std::vector<State> states_;
  std::vector<bool> accumulator_;  // by ArrayId: the D of some WarpgroupMma
};

}  // namespace mt::cpu
