// The IR verifier: structural and type rules every kernel satisfies after tracing and after
// every pass. A violation is an mt::Error naming the kernel, the op and its operands.
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt {

// Checks: every operand is defined before use in an enclosing scope (loop variables only in
// their body); value types match the table and Instr::make_* rules; stores only to outputs;
// loads only from tensors; the contract block holds only Const, ScalarParam, pure ops and
// Require; the body holds no Require; For/If have their blocks; ids are in range.
void verify(const Kernel& k);

}  // namespace mt
