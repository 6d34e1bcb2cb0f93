// hoist_invariants: moves loop-invariant pure ops out of their loops (LICM).
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

// A pure op at the top level of a for body whose operands are all defined outside the loop
// moves to just before the loop, keeping its order and value id. Inner loops are handled
// first, so an op invariant in several nested loops rises above all of them.
// Pure ops cannot trap, so computing one on a path that never needed it is harmless, except
// integer div and rem: those move only when the divisor is a nonzero constant or the loop's
// bounds are constants proving at least one trip.
// Refuses: ops inside an if within the loop (they stay where they are), and anything that is
// not pure (loads, array loads and stores, atomics, local reads and writes, stores, barriers,
// collectives, nested control flow). Pure ops touch no memory, so moving one across a
// barrier or out of a loop that holds one changes nothing another thread can see.
// Needs a verified kernel; best after eliminate_common_subexpressions.
Kernel hoist_invariants(Kernel k);

}  // namespace mt::passes
