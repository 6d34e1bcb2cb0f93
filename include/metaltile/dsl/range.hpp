// range(lo, hi[, step]): `for (Val i : range(a, b))` records one IR loop whose body is the
// C++ loop body, traced once. Do not `break` out of it: the loop is closed by the iterator.
#pragma once

#include <optional>
#include <source_location>

#include "metaltile/dsl/val.hpp"

namespace mt {

class Range {
 public:
  class Iterator {
   public:
    explicit Iterator(Range* range) : range_(range) {}
    Val operator*() const;
    Iterator& operator++();
    bool operator!=(const Iterator& end) const;

   private:
    Range* range_;
  };

  Range(Val lo, Val hi, Val step) : lo_(lo), hi_(hi), step_(step) {}
  Iterator begin();
  Iterator end() { return Iterator(nullptr); }

 private:
  friend class Iterator;
  friend Range range_by_role(const Val& lo, const Val& hi, std::source_location where);
  Val lo_, hi_, step_;
  bool per_role_ = false;
  std::optional<Val> var_;  // the loop variable, made inside the loop once it is recorded
  int state_ = 0;           // 0 not opened, 1 body being traced, 2 closed
};

// The loop variable has hi's type (u32 or i32); literal bounds adopt it.
Range range(const Val& hi, std::source_location where = std::source_location::current());
Range range(const Val& lo, const Val& hi,
            std::source_location where = std::source_location::current());
Range range(const Val& lo, const Val& hi, const Val& step,
            std::source_location where = std::source_location::current());
template <Literal N>
Range range(N lo, const Val& hi, std::source_location where = std::source_location::current()) {
  return range(hi.literal(lo), hi, where);
}
template <Literal N>
Range range(const Val& lo, N hi, std::source_location where = std::source_location::current()) {
  return range(lo, lo.literal(hi), where);
}
template <Literal N, Literal M>
Range range(N lo, const Val& hi, M step,
            std::source_location where = std::source_location::current()) {
  const Val first = hi.literal(lo);  // sequenced: argument order would vary by compiler
  return range(first, hi, hi.literal(step), where);
}
template <Literal M>
Range range(const Val& lo, const Val& hi, M step,
            std::source_location where = std::source_location::current()) {
  return range(lo, hi, hi.literal(step), where);
}

// range(lo, hi) for a warp-specialised pipeline: the body is role branches, `if_(role, ...)`
// on conditions computed before the loop, true for disjoint sets of threads (a consumer and a
// producer warp, say), and the pure values they share; the roles talk only through async
// barriers, never a threadgroup barrier. The interpreter runs the trips as written, role after
// role within each trip; the CUDA backend runs each role's trips as one loop inside its
// branch, so work such as a warpgroup MMA group stays in flight from one trip to the next. The
// verifier checks the body's shape (the For's `per_role`).
Range range_by_role(const Val& lo, const Val& hi,
                    std::source_location where = std::source_location::current());
template <Literal N>
Range range_by_role(N lo, const Val& hi,
                    std::source_location where = std::source_location::current()) {
  return range_by_role(hi.literal(lo), hi, where);
}

}  // namespace mt
