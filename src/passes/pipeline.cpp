// optimise(): the standard pass order, verified after each pass.
#include "metaltile/passes/pipeline.hpp"

#include <cstdlib>
#include <iostream>
#include <string_view>

#include "metaltile/core/print.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/passes/eliminate_common_subexpressions.hpp"
#include "metaltile/passes/eliminate_dead_code.hpp"
#include "metaltile/passes/fold_constants.hpp"
#include "metaltile/passes/hoist_invariants.hpp"
#include "metaltile/passes/unroll_loops.hpp"

namespace mt::passes {

Kernel optimise(Kernel k) {
  const char* dump_env = std::getenv("MT_DUMP_IR");
  const bool dump = dump_env != nullptr && std::string_view(dump_env) == "1";
  auto step = [&](std::string_view name, Kernel (*pass)(Kernel)) {
    k = pass(std::move(k));
    verify(k);
    if (dump) std::cerr << "== after " << name << " ==\n" << print(k);
  };
  step("fold_constants", fold_constants);
  // After folding, so bounds computed from constants are Consts; before merging and the second
  // fold, which simplify the copies.
  step("unroll_loops", unroll_loops);
  // Merging before hoisting: one copy of a repeated invariant moves, not several.
  step("eliminate_common_subexpressions", eliminate_common_subexpressions);
  step("hoist_invariants", hoist_invariants);
  // Folding again is cheap and catches what the rewrites above expose.
  step("fold_constants", fold_constants);
  step("eliminate_dead_code", eliminate_dead_code);
  return k;
}

}  // namespace mt::passes
