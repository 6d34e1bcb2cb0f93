// The literals of the Consts a pass has seen, by value id, and what they prove about loops.
#pragma once

#include <optional>
#include <unordered_map>

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

class KnownConstants {
 public:
  void record(const Instr& in) {
    if (in.op == OpKind::Const) literals_[in.result] = in.literal;
  }

  std::optional<Scalar> find(ValueId v) const {
    auto it = literals_.find(v);
    return it == literals_.end() ? std::nullopt : std::optional<Scalar>(it->second);
  }

  // Whether the For `loop` runs at least once, when its bounds are constants; step > 0 makes
  // lo < hi the whole question. Scalar::i holds u32 and i32 values exactly, so one compare
  // serves both.
  std::optional<bool> has_trips(const Instr& loop) const {
    const std::optional<Scalar> lo = find(loop.operands[0]), hi = find(loop.operands[1]);
    if (!lo || !hi) return std::nullopt;
    return lo->i < hi->i;
  }

 private:
  std::unordered_map<ValueId, Scalar> literals_;
};

}  // namespace mt::passes
