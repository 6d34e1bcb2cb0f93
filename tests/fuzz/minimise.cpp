// Delta debugging over the IR: chunk simplification, control-flow inlining, operand forwarding,
// launch shrinking.
#include "fuzz/minimise.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "metaltile/core/mutator.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt::fuzz {
namespace {

std::size_t count(const Block& b) {
  std::size_t n = 0;
  for (const Instr& in : b.instrs) {
    ++n;
    for (const Block& inner : in.blocks) n += count(inner);
  }
  return n;
}

// A zero of the instruction's own type with the same result id: uses still type-check.
Instr zero_like(const Instr& in) {
  Instr c;
  c.op = OpKind::Const;
  c.dtype = in.dtype;
  c.result = in.result;
  c.literal = normalise(Scalar{}, in.dtype);
  return c;
}

bool is_zero_const(const Instr& in) {
  return in.op == OpKind::Const && in.literal == normalise(Scalar{}, in.dtype);
}

// Simplifies the instructions with pre-order numbers in [from, to): a statement, loop or if
// goes (with what it holds); a value becomes a zero constant. `changed` says whether anything did.
class RangeSimplifier : public BlockMutator {
 public:
  RangeSimplifier(std::size_t from, std::size_t to) : from_(from), to_(to) {}
  bool changed = false;

 protected:
  void visit(Instr in, std::vector<Instr>& out) override {
    const std::size_t here = at_++;
    if (here < from_ || here >= to_) return BlockMutator::visit(std::move(in), out);
    for (const Block& blk : in.blocks) at_ += count(blk);
    const bool statement = !has_result(in.op) || in.op == OpKind::For;
    if (statement) {
      changed = true;
      return;
    }
    if (!is_zero_const(in)) {
      out.push_back(zero_like(in));
      changed = true;
      return;
    }
    out.push_back(std::move(in));
  }

 private:
  std::size_t from_, to_;
  std::size_t at_ = 0;  // the pre-order number of the next instruction
};

// Removes the value with pre-order number `target`, its uses reading its operand `which` (of
// the same type) instead: shortens chains (a select or shift between the op a failure needs
// and the store that keeps it alive) that zeroing a chunk cannot.
bool forward_operand(Block& b, std::size_t& at, std::size_t target, std::size_t which,
                     const Kernel& k, ValueId& from, ValueId& to) {
  for (std::size_t i = 0; i < b.instrs.size(); ++i) {
    Instr& in = b.instrs[i];
    if (at++ == target) {
      if (!has_result(in.op) || in.op == OpKind::For || which >= in.operands.size() ||
          k.type_of(in.operands[which]) != in.dtype) {
        return false;
      }
      from = in.result;
      to = in.operands[which];
      b.instrs.erase(b.instrs.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
    for (Block& blk : in.blocks) {
      if (forward_operand(blk, at, target, which, k, from, to)) return true;
    }
  }
  return false;
}

void rename_uses(Block& b, ValueId from, ValueId to) {
  for (Instr& in : b.instrs) {
    for (ValueId& v : in.operands) v = v == from ? to : v;
    for (Block& blk : in.blocks) rename_uses(blk, from, to);
  }
}

// Replaces the control-flow instruction with pre-order number `target` by the contents of one
// of its blocks (`arm` 0 or 1 of an if; a loop's body after a zero for its variable).
bool inline_control(Block& b, std::size_t& at, std::size_t target, int arm) {
  for (std::size_t i = 0; i < b.instrs.size(); ++i) {
    Instr& in = b.instrs[i];
    const std::size_t here = at++;
    if (here == target) {
      if (in.op != OpKind::If && in.op != OpKind::For) return false;
      if (in.op == OpKind::For && arm != 0) return false;
      std::vector<Instr> replacement;
      if (in.op == OpKind::For) replacement.push_back(zero_like(in));
      Block& inner = in.blocks[static_cast<std::size_t>(arm)];
      for (Instr& x : inner.instrs) replacement.push_back(std::move(x));
      b.instrs.erase(b.instrs.begin() + static_cast<std::ptrdiff_t>(i));
      b.instrs.insert(b.instrs.begin() + static_cast<std::ptrdiff_t>(i),
                      std::make_move_iterator(replacement.begin()),
                      std::make_move_iterator(replacement.end()));
      return true;
    }
    for (Block& blk : in.blocks) {
      if (inline_control(blk, at, target, arm)) return true;
    }
  }
  return false;
}

void count_uses(const Block& b, std::vector<int>& uses, std::vector<int>& local_reads,
                std::vector<bool>& arrays_named) {
  for (const Instr& in : b.instrs) {
    for (ValueId v : in.operands) ++uses[v.index];
    if (in.op == OpKind::LocalRead) ++local_reads[in.local.index];
    if (in.array.valid()) arrays_named[in.array.index] = true;
    for (const Block& inner : in.blocks) count_uses(inner, uses, local_reads, arrays_named);
  }
}

bool removable_when_unused(OpKind op) {
  return is_pure(op) || op == OpKind::Load || op == OpKind::ArrayLoad || op == OpKind::LocalRead;
}

// Drops values nothing uses, writes of locals nothing reads and empty control flow.
class DeadDropper : public BlockMutator {
 public:
  DeadDropper(const std::vector<int>& uses, const std::vector<int>& local_reads)
      : uses_(uses), local_reads_(local_reads) {}
  bool changed = false;

 protected:
  void visit(Instr in, std::vector<Instr>& out) override {
    const bool dead_value = has_result(in.op) && in.op != OpKind::For &&
                            removable_when_unused(in.op) && uses_[in.result.index] == 0;
    const bool dead_write = in.op == OpKind::LocalWrite && local_reads_[in.local.index] == 0;
    const bool empty_control = (in.op == OpKind::If || in.op == OpKind::For) &&
                               std::all_of(in.blocks.begin(), in.blocks.end(),
                                           [](const Block& x) { return x.instrs.empty(); });
    if (dead_value || dead_write || empty_control) {
      changed = true;
      return;
    }
    BlockMutator::visit(std::move(in), out);
  }

 private:
  const std::vector<int>& uses_;
  const std::vector<int>& local_reads_;
};

// Equal constants visible at once become one (the first), so a minimised program does not
// repeat `const 0`: `seen_` holds the constants of the enclosing blocks.
class ConstantMerger : public BlockMutator {
 public:
  explicit ConstantMerger(std::size_t values) : same_as_(values) {}

 protected:
  void enter_block() override { outer_.push_back(seen_.size()); }
  void leave_block() override {
    seen_.resize(outer_.back());
    outer_.pop_back();
  }

  void visit(Instr in, std::vector<Instr>& out) override {
    for (ValueId& v : in.operands) {
      if (same_as_[v.index].valid()) v = same_as_[v.index];
    }
    if (in.op == OpKind::Const) {
      const auto match = std::find_if(seen_.begin(), seen_.end(), [&](const auto& s) {
        return s.first.dtype == in.dtype &&
               std::bit_cast<std::uint64_t>(s.first.literal.f) ==
                   std::bit_cast<std::uint64_t>(in.literal.f) &&
               s.first.literal.i == in.literal.i;
      });
      if (match != seen_.end()) {
        same_as_[in.result.index] = match->second;
        return;
      }
      seen_.emplace_back(in, in.result);
    }
    BlockMutator::visit(std::move(in), out);
  }

 private:
  std::vector<std::pair<Instr, ValueId>> seen_;
  std::vector<std::size_t> outer_;  // seen_'s size when each open block began
  std::vector<ValueId> same_as_;
};

}  // namespace

void drop_unused(Kernel& k) {
  ConstantMerger(k.value_types.size()).mutate(k.body);
  bool changed = true;
  std::vector<int> local_reads;
  std::vector<bool> arrays_named;
  while (changed) {
    std::vector<int> uses(k.value_types.size(), 0);
    local_reads.assign(k.locals.size(), 0);
    arrays_named.assign(k.arrays.size(), false);
    count_uses(k.body, uses, local_reads, arrays_named);
    count_uses(k.contract, uses, local_reads, arrays_named);
    DeadDropper dropper(uses, local_reads);
    dropper.mutate(k.body);
    changed = dropper.changed;
  }
  // Locals nobody reads now have no writes either; arrays nothing names can go. Renumber both.
  std::vector<std::uint32_t> local_index(k.locals.size()), array_index(k.arrays.size());
  std::vector<Local> locals;
  for (std::size_t i = 0; i < k.locals.size(); ++i) {
    local_index[i] = static_cast<std::uint32_t>(locals.size());
    if (local_reads[i] > 0) locals.push_back(k.locals[i]);
  }
  std::vector<Array> arrays;
  for (std::size_t i = 0; i < k.arrays.size(); ++i) {
    array_index[i] = static_cast<std::uint32_t>(arrays.size());
    if (arrays_named[i]) arrays.push_back(k.arrays[i]);
  }
  for_each_instr(k.body, [&](Instr& in) {
    if (in.local.valid()) in.local.index = local_index[in.local.index];
    if (in.array.valid()) in.array.index = array_index[in.array.index];
  });
  k.locals = std::move(locals);
  k.arrays = std::move(arrays);

  // Parameters nothing names (tensors nobody touches, scalars nobody reads).
  std::vector<bool> named(k.params.size(), false);
  for_each_instr(k.body, [&](Instr& in) {
    if (in.param.valid()) named[in.param.index] = true;
  });
  for_each_instr(k.contract, [&](Instr& in) {
    if (in.param.valid()) named[in.param.index] = true;
  });
  for (const Array& a : k.arrays) {
    if (a.size_param.valid()) named[a.size_param.index] = true;
  }
  std::vector<std::uint32_t> param_index(k.params.size());
  std::vector<Param> params;
  for (std::size_t i = 0; i < k.params.size(); ++i) {
    param_index[i] = static_cast<std::uint32_t>(params.size());
    if (named[i]) params.push_back(k.params[i]);
  }
  const auto remap = [&](Instr& in) {
    if (in.param.valid()) in.param.index = param_index[in.param.index];
  };
  for_each_instr(k.body, remap);
  for_each_instr(k.contract, remap);
  for (Array& a : k.arrays) {
    if (a.size_param.valid()) a.size_param.index = param_index[a.size_param.index];
  }
  k.params = std::move(params);
}

FuzzProgram minimise(const FuzzProgram& p, const StillFails& still_fails, int max_tries,
                     MinimiseStats* stats) {
  MinimiseStats local_stats;
  MinimiseStats& s = stats != nullptr ? *stats : local_stats;
  FuzzProgram best = p;
  // Tests a candidate; keeps it when it is valid, different and still fails.
  const auto attempt = [&](FuzzProgram candidate) {
    if (s.tries >= max_tries) return false;
    drop_unused(candidate.kernel);
    try {
      verify(candidate.kernel);
    } catch (const std::exception&) {
      return false;
    }
    if (print(candidate.kernel) == print(best.kernel) && candidate.dims.grid == best.dims.grid &&
        candidate.dims.tpg == best.dims.tpg) {
      return false;
    }
    ++s.tries;
    if (!still_fails(candidate)) return false;
    ++s.accepted;
    best = std::move(candidate);
    return true;
  };

  bool progress = true;
  while (progress && s.tries < max_tries) {
    progress = false;
    // The launch: one threadgroup, then fewer threads on each axis.
    for (int axis = 0; axis < 3; ++axis) {
      if (best.dims.grid[axis] > 1) {
        FuzzProgram c = best;
        c.dims.grid[axis] = 1;
        progress |= attempt(std::move(c));
      }
    }
    for (int axis = 2; axis >= 0; --axis) {
      while (best.dims.tpg[axis] > 1) {
        FuzzProgram c = best;
        c.dims.tpg[axis] = axis == 0 ? (best.dims.tpg[0] + 1) / 2 : 1;
        if (!attempt(std::move(c))) break;
        progress = true;
      }
    }
    // Chunks of instructions, halving.
    for (std::size_t chunk = std::max<std::size_t>(count(best.kernel.body) / 2, 1); chunk >= 1;
         chunk /= 2) {
      for (std::size_t from = 0; from < count(best.kernel.body); from += chunk) {
        FuzzProgram c = best;
        RangeSimplifier simplifier(from, from + chunk);
        simplifier.mutate(c.kernel.body);
        if (!simplifier.changed) continue;
        progress |= attempt(std::move(c));
      }
      if (chunk == 1) break;
    }
    // Control flow: an if by one arm, a loop by one trip.
    for (std::size_t target = 0; target < count(best.kernel.body); ++target) {
      for (int arm = 0; arm < 2; ++arm) {
        FuzzProgram c = best;
        std::size_t at = 0;
        if (!inline_control(c.kernel.body, at, target, arm)) continue;
        if (attempt(std::move(c))) {
          progress = true;
          break;
        }
      }
    }
    // Chains: a value by one of its operands.
    for (std::size_t target = 0; target < count(best.kernel.body); ++target) {
      for (std::size_t which = 0; which < 3; ++which) {
        FuzzProgram c = best;
        std::size_t at = 0;
        ValueId from, to;
        if (!forward_operand(c.kernel.body, at, target, which, c.kernel, from, to)) continue;
        rename_uses(c.kernel.body, from, to);
        if (attempt(std::move(c))) {
          progress = true;
          break;
        }
      }
    }
  }
  return best;
}

}  // namespace mt::fuzz
