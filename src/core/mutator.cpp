// BlockMutator: the rebuild loop of every pass (core/mutator.hpp).
#include "metaltile/core/mutator.hpp"

#include <algorithm>
#include <utility>

namespace mt {

void BlockMutator::mutate(Block& block) {
  enter_block();
  std::vector<Instr> out;
  out.reserve(block.instrs.size());
  if (order_ == Order::Forward) {
    for (Instr& in : block.instrs) visit(std::move(in), out);
  } else {
    for (auto it = block.instrs.rbegin(); it != block.instrs.rend(); ++it) {
      visit(std::move(*it), out);
    }
    std::reverse(out.begin(), out.end());
  }
  block.instrs = std::move(out);
  leave_block();
}

void BlockMutator::visit(Instr in, std::vector<Instr>& out) {
  descend(in);
  out.push_back(std::move(in));
}

void BlockMutator::descend(Instr& in) {
  for (Block& inner : in.blocks) mutate(inner);
}

}  // namespace mt
