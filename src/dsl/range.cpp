// range(): records an IR For loop around the body of a C++ range-for.
#include "metaltile/dsl/range.hpp"

#include <optional>
#include <string>

#include "metaltile/core/error.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {

Range::Iterator Range::begin() {
  KernelBuilder& k = hi_.builder();
  // The loop is recorded when iteration starts; a second iteration would record it again.
  if (state_ != 0) k.fail("range: a range can be iterated only once; call range() again");
  Instr loop = make::for_loop(k.mutable_kernel(), lo_.id(), hi_.id(), step_.id());
  loop.per_role = per_role_;
  const Val var = k.append(std::move(loop));
  k.open_block(0);
  var_.emplace(k, var.id(), var.dtype());  // belongs to the loop it counts
  state_ = 1;
  return Iterator(this);
}

Val Range::Iterator::operator*() const { return *range_->var_; }

Range::Iterator& Range::Iterator::operator++() {
  range_->hi_.builder().close_block();
  range_->state_ = 2;
  return *this;
}

bool Range::Iterator::operator!=(const Iterator&) const { return range_->state_ == 1; }

Range range(const Val& hi, std::source_location where) {
  KernelBuilder::note_location(where);
  return range(hi.literal(0), hi, where);
}

Range range(const Val& lo, const Val& hi, std::source_location where) {
  KernelBuilder::note_location(where);
  return range(lo, hi, hi.literal(1), where);
}

Range range(const Val& lo, const Val& hi, const Val& step, std::source_location where) {
  KernelBuilder::note_location(where);
  KernelBuilder& k = hi.builder();
  if (!is_index_type(hi.dtype())) {
    k.fail("range: bound " + k.describe(hi) + " must be u32 or i32");
  }
  if (lo.dtype() != hi.dtype() || step.dtype() != hi.dtype()) {
    k.fail("range: bounds " + k.describe(lo) + ", " + k.describe(hi) + " and step " +
           k.describe(step) + " must share one type");
  }
  // A loop runs upwards: a constant step <= 0 would never end (or, with lo >= hi, never start,
  // which is not what range(10, 0, -1) means). A runtime step <= 0 is an error at run time.
  if (const std::optional<Scalar> s = k.constant_value(step); s && s->i <= 0) {
    k.fail("range: step " + std::to_string(s->i) +
           " is not positive; loops count upwards (iterate range(lo, hi) and index hi - 1 - i "
           "to count down)");
  }
  return Range(lo, hi, step);
}

Range range_by_role(const Val& lo, const Val& hi, std::source_location where) {
  Range r = range(lo, hi, where);  // the same checks of the bounds
  r.per_role_ = true;
  return r;
}

}  // namespace mt
