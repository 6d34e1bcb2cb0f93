// unroll_loops: replaces short loops whose trip count is a known constant by copies of the body.
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

// A for whose lo, hi and step are Consts, with step > 0 and an exact trip count
// ceil((hi - lo) / step) of 1..16 (computed without wrapping, as the interpreter counts), is
// replaced by one copy of its body per trip, in order. Each copy reads a new Const holding
// that trip's value of the loop variable, and every value the body defines (nested blocks
// included) gets a fresh id in each copy. Locals and arrays are shared by the copies, as the
// trips share them. Inner loops are handled first, so a short loop nest unrolls fully when it
// fits. Body values are not visible after the loop, so nothing outside it changes.
// Refuses: bounds that are not constants, step <= 0 (the run reports it), zero trips (left for
// fold_constants), more than 16 trips, more than 256 instructions after unrolling (nested
// ones counted), and any body that holds a barrier or a collective anywhere (conservative:
// the threads that reach each one must stay the same).
// Needs a verified kernel; run after fold_constants, so bounds computed from constants are
// Consts, and before eliminate_common_subexpressions and the second fold, which simplify the
// copies.
Kernel unroll_loops(Kernel k);

}  // namespace mt::passes
