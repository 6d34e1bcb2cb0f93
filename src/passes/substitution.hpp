// Value-for-value replacement for passes that drop an instruction whose result equals another
// value (a folded identity, a merged duplicate): later operands are rewritten as they walk.
#pragma once

#include <unordered_map>

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

class Substitution {
 public:
  // From now on, uses of `from` read `to`. `to` must already be resolved (not itself replaced),
  // which holds when it was read from an operand that apply() rewrote.
  void replace(ValueId from, ValueId to) { map_[from] = to; }

  // Rewrites the operands of `in` only: a forward walk reaches nested blocks in order.
  void apply(Instr& in) const {
    for (ValueId& v : in.operands) {
      if (auto it = map_.find(v); it != map_.end()) v = it->second;
    }
  }

 private:
  std::unordered_map<ValueId, ValueId> map_;
};

}  // namespace mt::passes
