// BlockMutator: the one rebuild loop over nested blocks that passes share. A pass derives from it
// and overrides visit() for the instructions it changes; the rest pass through untouched.
#pragma once

#include <vector>

#include "metaltile/core/kernel.hpp"

namespace mt {

// mutate(block) hands every instruction of the block to visit(), which appends what the
// instruction becomes to `out`: itself (the default: its nested blocks mutated first, then the
// instruction moved, never copied), nothing (dropped), or several instructions (an inlined if
// arm, an unrolled loop). `out` then replaces the block's instructions.
//
// An override usually does its own work and then calls BlockMutator::visit (rewrite, then
// descend and keep), or calls descend() first and decides after (inner blocks first: the
// unroller, dead code). enter_block and leave_block bracket every block, nested ones included,
// for passes that keep scopes.
//
// Order::Backward visits a block's instructions last to first (a backward sweep frees an
// operand's definition in the same walk) and reads `out` back to front: an instruction that
// becomes several appends them last first.
class BlockMutator {
 public:
  enum class Order : bool { Forward, Backward };

  explicit BlockMutator(Order order = Order::Forward) : order_(order) {}
  virtual ~BlockMutator() = default;

  void mutate(Block& block);

 protected:
  // Appends what `in` becomes to `out`. The default descends into in's blocks and keeps it.
  virtual void visit(Instr in, std::vector<Instr>& out);
  // Mutates each nested block of `in` (a For's body, an If's arms), in place.
  void descend(Instr& in);

  virtual void enter_block() {}
  virtual void leave_block() {}

 private:
  Order order_;
};

}  // namespace mt
