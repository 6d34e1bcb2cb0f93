// eliminate_common_subexpressions: a scoped table of pure ops, one scope per open block.
#include "metaltile/passes/eliminate_common_subexpressions.hpp"

#include <algorithm>
#include <bit>
#include <map>
#include <optional>
#include <vector>

#include "metaltile/core/mutator.hpp"
#include "passes/substitution.hpp"

namespace mt::passes {
namespace {

// Everything that decides a pure op's value. Literals compare by bits, so 0.0 and -0.0 (and
// NaNs with different payloads) stay apart.
struct Key {
  OpKind op;
  DType dtype;
  std::vector<ValueId> operands;
  std::uint64_t literal_bits;
  std::int64_t literal_int;
  std::uint32_t param;
  int axis;
  // Fields no pure op uses today; in the key so a future pure op cannot merge by accident.
  std::uint32_t array;
  CombineOp combine;
  ShuffleKind shuffle;
  bool inclusive;
  std::uint32_t lanes;
  friend auto operator<=>(const Key&, const Key&) = default;
};

Key key_of(const Instr& in) {
  Key key{in.op,        in.dtype,       in.operands,  std::bit_cast<std::uint64_t>(in.literal.f),
          in.literal.i, in.param.index, in.axis,      in.array.index,
          in.combine,   in.shuffle,     in.inclusive, in.lanes};
  if (is_commutative(in.op)) std::sort(key.operands.begin(), key.operands.end());
  return key;
}

class Merger : public BlockMutator {
 protected:
  void enter_block() override { scopes_.emplace_back(); }
  // What a block defined is not visible after it.
  void leave_block() override { scopes_.pop_back(); }

  void visit(Instr in, std::vector<Instr>& out) override {
    subst_.apply(in);
    if (is_pure(in.op)) {
      Key key = key_of(in);
      if (std::optional<ValueId> earlier = find(key)) {
        subst_.replace(in.result, *earlier);
        return;
      }
      scopes_.back().emplace(std::move(key), in.result);
    }
    BlockMutator::visit(std::move(in), out);
  }

 private:
  std::optional<ValueId> find(const Key& key) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      if (auto it = scope->find(key); it != scope->end()) return it->second;
    }
    return std::nullopt;
  }

  std::vector<std::map<Key, ValueId>> scopes_;  // innermost block last
  Substitution subst_;
};

}  // namespace

Kernel eliminate_common_subexpressions(Kernel k) {
  Merger merger;
  merger.mutate(k.contract);  // the contract's values are not visible in the body
  merger.mutate(k.body);
  return k;
}

}  // namespace mt::passes
