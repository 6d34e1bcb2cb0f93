// eliminate_dead_code: removes instructions and locals whose results nothing observes.
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

// Repeats until nothing changes, in the contract and the body:
//  - a pure op or a local read whose result has no use is removed;
//  - a local that is never read is removed with all its writes (the remaining locals are
//    renumbered in order, and every read and write is rewritten to match);
//  - a for whose body is empty, and an if whose two arms are empty, are removed;
//  - an array that no instruction names is removed (the rest are renumbered in order).
// Refuses: a Load or ArrayLoad is never removed, even unused (a checked launch must still
// report an out-of-bounds index, the interpreter a read of threadgroup memory nothing wrote);
// Store, StoreVector, ArrayStore, LoadVector, atomics and Require are effects and stay;
// barriers and collectives stay even when unused (removing one would change which threads
// take part). Parameters are the kernel's interface and are never removed. Value ids are
// never renumbered.
// Needs a verified kernel; run last, after the passes that leave unused values behind.
Kernel eliminate_dead_code(Kernel k);

}  // namespace mt::passes
