// fold_constants: evaluates what is known at compile time and applies exact integer identities.
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

// In the contract and the body:
//  - a pure op whose operands are all constants becomes a Const holding mt::scalar_eval's
//    result (the one statement of the arithmetic), keeping its value id;
//  - exact identities on integers and bool: x+0, 0+x, x-0, x*1, 1*x, x/1, x|0, x^0,
//    x&all-ones, shifts by 0 give x; x*0 and x&0 give 0;
//  - select with a constant condition gives the chosen arm;
//  - an if with a constant condition is replaced by the instructions of the taken arm;
//  - a for with constant bounds lo >= hi (zero trips) is removed;
//  - a require whose condition is the constant true is removed.
// Uses of a replaced value are rewritten to the value it equals; ids are never renumbered.
// Refuses: any float identity (x+0.0, x*0.0, x/x are wrong for -0.0, NaN or inf: floats fold
// only when every operand is constant), and evaluating an op that scalar_eval rejects (integer
// division by zero stays in the kernel, where the run reports it).
// Needs a verified kernel; leaves constants it no longer uses for eliminate_dead_code.
Kernel fold_constants(Kernel k);

}  // namespace mt::passes
