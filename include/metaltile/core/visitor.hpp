// Walkers over nested blocks: visit every instruction (pre-order) or rebuild blocks.
#pragma once

#include "metaltile/core/kernel.hpp"

namespace mt {

// Calls f(instr) for every instruction in the block and, after it, in its nested blocks.
template <class F>
void for_each_instr(const Block& block, F&& f) {
  for (const Instr& in : block.instrs) {
    f(in);
    for (const Block& inner : in.blocks) for_each_instr(inner, f);
  }
}

template <class F>
void for_each_instr(Block& block, F&& f) {
  for (Instr& in : block.instrs) {
    f(in);
    for (Block& inner : in.blocks) for_each_instr(inner, f);
  }
}

}  // namespace mt
