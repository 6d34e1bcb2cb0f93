// The IR verifier: structural and type rules every kernel satisfies after tracing and after
// every pass. A violation is an mt::Error naming the kernel, the op and its operands.
#pragma once

#include <string>

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

// What keeps a For marked per_role (range_by_role) from running as one loop per role: "" when
// its body is pure values and role branches (If without else, on a value from outside the
// loop, with no threadgroup barrier inside), else why not. The verifier reports it; a pass
// that breaks the shape (folding a role's condition inlines its branch) clears the mark.
std::string role_split_problem(const Instr& loop);

}  // namespace mt
