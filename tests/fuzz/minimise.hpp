// Delta debugging on a fuzz program: simplify the kernel while a failure persists.
#pragma once

#include <functional>

#include "fuzz/program.hpp"

namespace mt::fuzz {

// True when the candidate still fails the same way (the caller compares failure kinds).
using StillFails = std::function<bool(const FuzzProgram&)>;

struct MinimiseStats {
  int tries = 0;     // candidates tested
  int accepted = 0;  // candidates that still failed and were kept
};

// Greedy delta debugging: one threadgroup and fewer threads where the failure allows; then
// chunks of instructions (halving the chunk down to one) removed or, for those with a
// result, replaced by a zero constant of their type; ifs replaced by one arm and loops by one
// trip of their body with the variable 0; unused pure ops, loads, locals and arrays dropped.
// Repeats until nothing more can go or `max_tries` candidates were tested. Every candidate is
// verified IR; a candidate the interpreter rejects (a division by zero, a race) simply does
// not fail the same way.
FuzzProgram minimise(const FuzzProgram& p, const StillFails& still_fails, int max_tries = 3000,
                     MinimiseStats* stats = nullptr);

// Merges equal constants visible at once; drops instructions whose results nothing reads and
// that have no effect (pure ops, loads, array loads and local reads), then locals nobody reads
// (with their writes), and arrays and parameters nothing names (the program's tensors and scalars
// are bound by name).
void drop_unused(Kernel& k);

}  // namespace mt::fuzz
