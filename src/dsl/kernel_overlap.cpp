// The kernel-overlap statements: trace-time type checks, then the IR op.
#include "metaltile/dsl/kernel_overlap.hpp"

#include "metaltile/core/kernel.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {

void wait_for_prior_kernel() {
  KernelBuilder::current().append_statement(make::kernel_overlap(OpKind::WaitPriorKernel));
}

void release_next_kernel() {
  KernelBuilder::current().append_statement(make::kernel_overlap(OpKind::ReleaseNextKernel));
}

void prefetch_l2(const Tensor& t, const Val& first, const Val& count) {
  KernelBuilder& k = t.builder();
  const Val a = first.to(DType::U32);
  const Val n = count.to(DType::U32);
  k.append_statement(make::prefetch_l2(k.kernel(), t.param(), a.id(), n.id()));
}

}  // namespace mt
