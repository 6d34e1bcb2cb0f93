// The pass order, stated in one function.
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

// Runs the standard passes in order, verifying after each; MT_DUMP_IR=1 prints the IR after
// each pass to stderr.
Kernel optimise(Kernel k);

}  // namespace mt::passes
