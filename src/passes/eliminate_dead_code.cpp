// eliminate_dead_code: use counts, a backward sweep per block, repeated to a fixed point, then
// the locals nothing reads and the arrays nothing names are dropped and the rest renumbered.
#include "metaltile/passes/eliminate_dead_code.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "metaltile/core/mutator.hpp"
#include "metaltile/core/visitor.hpp"

namespace mt::passes {
namespace {

class Sweeper : public BlockMutator {
 public:
  // Backwards, so removing a use frees its operands' definitions in the same sweep.
  explicit Sweeper(Kernel& k) : BlockMutator(Order::Backward), k_(k) {}

  void run() {
    do {
      count();
      changed_ = false;
      mutate(k_.contract);
      mutate(k_.body);
    } while (changed_);  // a removed local write can free the value it wrote
    drop_unread_locals();
    drop_unnamed_arrays();
  }

 private:
  void count() {
    uses_.assign(k_.value_types.size(), 0);
    read_.assign(k_.locals.size(), false);
    auto tally = [&](const Instr& in) {
      for (ValueId v : in.operands) ++uses_[v.index];
      if (in.op == OpKind::LocalRead) read_[in.local.index] = true;
    };
    for_each_instr(std::as_const(k_.contract), tally);
    for_each_instr(std::as_const(k_.body), tally);
  }

  bool is_dead(const Instr& in) const {
    switch (in.op) {
      case OpKind::For: return in.blocks[0].instrs.empty();  // bounded: step > 0
      case OpKind::If: return in.blocks[0].instrs.empty() && in.blocks[1].instrs.empty();
      case OpKind::LocalWrite: return !read_[in.local.index];
      case OpKind::LocalRead: return uses_[in.result.index] == 0;
      // A load stays even unused: a checked launch must still report a bad index, and the
      // interpreter a read of threadgroup memory that nothing wrote.
      case OpKind::Load:
      case OpKind::ArrayLoad: return false;
      default: return is_pure(in.op) && uses_[in.result.index] == 0;
    }
  }

  void visit(Instr in, std::vector<Instr>& out) override {
    descend(in);
    if (is_dead(in)) {
      for (ValueId v : in.operands) --uses_[v.index];
      changed_ = true;
      return;
    }
    out.push_back(std::move(in));
  }

  // After the sweeps no instruction names an unread local; the rest keep their order.
  void drop_unread_locals() {
    if (std::find(read_.begin(), read_.end(), false) == read_.end()) return;
    std::vector<LocalId> renumbered(k_.locals.size());
    std::vector<Local> kept;
    for (std::size_t i = 0; i < k_.locals.size(); ++i) {
      if (!read_[i]) continue;
      renumbered[i] = LocalId{static_cast<std::uint32_t>(kept.size())};
      kept.push_back(std::move(k_.locals[i]));
    }
    auto rewrite = [&](Instr& in) {
      if (in.op == OpKind::LocalRead || in.op == OpKind::LocalWrite) {
        in.local = renumbered[in.local.index];
      }
    };
    for_each_instr(k_.body, rewrite);
    k_.locals = std::move(kept);
  }

  // Array accesses are never removed, so an array no instruction names was never used: it
  // would only take threadgroup memory or registers.
  void drop_unnamed_arrays() {
    std::vector<bool> named(k_.arrays.size(), false);
    auto mark = [&](const Instr& in) {
      if (in.array.valid()) named[in.array.index] = true;
      for (const FragmentRef& f : in.fragments) named[f.array.index] = true;
      for (const SharedMatrix& m : in.matrices) named[m.array.index] = true;
    };
    for_each_instr(std::as_const(k_.body), mark);
    if (std::find(named.begin(), named.end(), false) == named.end()) return;
    std::vector<ArrayId> renumbered(k_.arrays.size());
    std::vector<Array> kept;
    for (std::size_t i = 0; i < k_.arrays.size(); ++i) {
      if (!named[i]) continue;
      renumbered[i] = ArrayId{static_cast<std::uint32_t>(kept.size())};
      kept.push_back(std::move(k_.arrays[i]));
    }
    auto rewrite = [&](Instr& in) {
      if (in.array.valid()) in.array = renumbered[in.array.index];
      for (FragmentRef& f : in.fragments) f.array = renumbered[f.array.index];
      for (SharedMatrix& m : in.matrices) m.array = renumbered[m.array.index];
    };
    for_each_instr(k_.body, rewrite);
    k_.arrays = std::move(kept);
  }

  Kernel& k_;
  std::vector<int> uses_;   // per value: operands naming it
  std::vector<bool> read_;  // per local: read anywhere
  bool changed_ = false;
};

}  // namespace

Kernel eliminate_dead_code(Kernel k) {
  Sweeper(k).run();
  return k;
}

}  // namespace mt::passes
