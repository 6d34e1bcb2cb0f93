// hoist_invariants: loop-invariant code motion, innermost loops first.
#include "metaltile/passes/hoist_invariants.hpp"

#include <optional>
#include <unordered_set>
#include <vector>

#include "metaltile/core/mutator.hpp"
#include "metaltile/core/visitor.hpp"
#include "passes/known_constants.hpp"

namespace mt::passes {
namespace {

class Hoister : public BlockMutator {
 public:
  explicit Hoister(const Kernel& k) {
    for_each_instr(k.body, [&](const Instr& in) { constants_.record(in); });
  }

 protected:
  void visit(Instr in, std::vector<Instr>& out) override {
    // Inner loops first: what they hoist lands in this loop's body and may rise further.
    descend(in);
    if (in.op == OpKind::For) hoist_out_of(in, out);
    out.push_back(std::move(in));
  }

 private:
  // Integer div and rem trap on a zero divisor; everything else pure is safe to compute early.
  bool may_trap(const Instr& in) const {
    if ((in.op != OpKind::Div && in.op != OpKind::Rem) || is_float(in.dtype)) return false;
    const std::optional<Scalar> divisor = constants_.find(in.operands[1]);
    return !divisor || divisor->i == 0;
  }

  // Moves the invariant pure ops at the top level of the loop's body to `out`, in order.
  void hoist_out_of(Instr& loop, std::vector<Instr>& out) {
    const bool runs = constants_.has_trips(loop) == true;  // known to run at least once
    std::unordered_set<ValueId> inside{loop.result};       // values that differ between trips
    std::vector<Instr> stay;
    for (Instr& in : loop.blocks[0].instrs) {
      bool invariant = is_pure(in.op) && (runs || !may_trap(in));
      for (ValueId v : in.operands) invariant = invariant && !inside.contains(v);
      if (invariant) {
        out.push_back(std::move(in));
        continue;
      }
      if (has_result(in.op)) inside.insert(in.result);
      stay.push_back(std::move(in));
    }
    loop.blocks[0].instrs = std::move(stay);
  }

  KnownConstants constants_;
};

}  // namespace

Kernel hoist_invariants(Kernel k) {
  Hoister(k).mutate(k.body);  // the contract has no loops
  return k;
}

}  // namespace mt::passes
