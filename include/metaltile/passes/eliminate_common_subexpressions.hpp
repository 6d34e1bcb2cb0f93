// eliminate_common_subexpressions: merges pure ops that compute the same value.
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

// A pure op (mt::is_pure: consts, program ids and the other thread-identity leaves, scalar
// reads, arithmetic, comparisons, select)
// with the same op, dtype, operands (in either order for commutative ops), literal (bit for
// bit: 0.0 and -0.0 stay apart), param and axis as an earlier one in the same block or in an
// enclosing block is dropped, and its uses read the earlier value. Values from a nested block
// (a loop body, an if arm) are never reused after that block ends.
// Refuses: Load, LoadVector and ArrayLoad (memory may change between the two), atomics,
// barriers and collectives (each is a separate act of cooperation between threads), LocalRead,
// Store, StoreVector, ArrayStore, LocalWrite, For, If and Require are never merged.
// Needs a verified kernel; best after fold_constants, so folded constants merge too.
Kernel eliminate_common_subexpressions(Kernel k);

}  // namespace mt::passes
