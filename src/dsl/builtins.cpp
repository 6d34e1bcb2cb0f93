// DSL free functions: thread indices, math, select and conditionals.
#include "metaltile/dsl/builtins.hpp"

#include "metaltile/core/kernel.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {

Val program_id(int axis) {
  KernelBuilder& k = KernelBuilder::current();
  if (axis < 0 || axis > 2)
    k.fail("program_id: axis " + std::to_string(axis) + " is not 0, 1 or 2");
  return k.append(make::program_id(k.mutable_kernel(), axis));
}

Val min(Operand a, Operand b) {
  const Val left = a.get();
  return dsl_detail::binary(OpKind::Min, left, b.get());
}
Val max(Operand a, Operand b) {
  const Val left = a.get();
  return dsl_detail::binary(OpKind::Max, left, b.get());
}

#define MT_DSL_UNARY_FN(fn, op) \
  Val fn(const Val& a) { return dsl_detail::unary(OpKind::op, a); }
MT_FOR_EACH_DSL_MATH(MT_DSL_UNARY_FN)
#define MT_DSL_BINARY_FN(fn, op)                          \
  Val fn(Operand a, Operand b) {                          \
    const Val left = a.get();                             \
    return dsl_detail::binary(OpKind::op, left, b.get()); \
  }
MT_FOR_EACH_DSL_BINARY_MATH(MT_DSL_BINARY_FN)
#undef MT_DSL_BINARY_FN
#undef MT_DSL_UNARY_FN

Val clamp(Operand x, Operand lo, Operand hi) {
  const Val value = x.get();
  const Val low = lo.get();
  const Val high = hi.get();
  return min(max(value, low), high);
}

Val fma(Operand first, Operand second, Operand third) {
  const Val a = first.get();
  const Val b = second.get();
  const Val c = third.get();
  KernelBuilder& k = a.builder();
  if (a.dtype() != b.dtype() || a.dtype() != c.dtype()) {
    k.fail("fma: operands " + k.describe(a) + ", " + k.describe(b) + " and " + k.describe(c) +
           " differ in type");
  }
  if (!accepts_operand_type(OpKind::Fma, a.dtype())) {
    k.fail("fma: needs f32, f16 or bf16 operands, not " + k.describe(a));
  }
  return k.append(make::fma(k.mutable_kernel(), a.id(), b.id(), c.id()));
}

Val select(Operand condition, Operand first, Operand second) {
  const Val cond = condition.get();
  const Val a = first.get();
  const Val b = second.get();
  KernelBuilder& k = cond.builder();
  if (cond.dtype() != DType::Bool) k.fail("select: condition " + k.describe(cond) + " is not bool");
  if (a.dtype() != b.dtype()) {
    k.fail("select: arms " + k.describe(a) + " and " + k.describe(b) + " differ in type");
  }
  return k.append(make::select(k.mutable_kernel(), cond.id(), a.id(), b.id()));
}

namespace {
constexpr std::size_t kElseTaken = static_cast<std::size_t>(-1);  // no block is ever this long
}  // namespace

IfBuilder if_(const Val& cond, const std::function<void()>& then_body, std::source_location where) {
  KernelBuilder::note_location(where);
  KernelBuilder& k = cond.builder();
  if (cond.dtype() != DType::Bool) k.fail("if_: condition " + k.describe(cond) + " is not bool");
  k.append_statement(make::if_then_else(k.kernel(), cond.id()));
  // The If stays the last instruction of the current block while its arms are traced.
  k.open_block(0);
  then_body();
  k.close_block();
  return IfBuilder(k, k.current_block_size());
}

IfBuilder::IfBuilder(KernelBuilder& builder, std::size_t instrs_after)
    : trace_(builder.trace_serial()), instrs_after_(instrs_after) {}

void IfBuilder::else_(const std::function<void()>& body, std::source_location where) {
  KernelBuilder::note_location(where);
  KernelBuilder& k = KernelBuilder::of_trace(trace_);
  if (instrs_after_ == kElseTaken) k.fail("else_: this if_ already has an else_");
  if (k.current_block_size() != instrs_after_) k.fail("else_: must directly follow its if_");
  k.open_block(1);
  body();
  k.close_block();
  instrs_after_ = kElseTaken;
}

}  // namespace mt
