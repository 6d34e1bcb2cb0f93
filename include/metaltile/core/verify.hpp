// The IR verifier: structural and type rules every kernel satisfies after tracing and after
// every pass. A violation is an mt::Error naming the kernel, the op and its operands.
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt {

// Checks: every operand is defined before use in an enclosing scope (loop variables only in
// their body; contract and body are separate scopes); value types match the table and
// Instr::make_* rules (accepts_operand_type, accepts_combine); stores and atomics only to
// outputs; loads only from tensors; vector accesses of 4, 8 or 16 bytes through a per-thread
// array of the tensor's type; arrays with unique names and a size or a u32 size parameter;
// the contract block holds only launch-uniform leaves (Const, ScalarParam, TensorLen, the
// launch shape), pure ops and the Require ops (RequireLen* on a tensor, with a u32 count); the
// body holds none of them; For/If have their blocks; ids are in range.
void verify(const Kernel& k);

}  // namespace mt
