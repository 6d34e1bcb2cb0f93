// DSL warpgroup MMA: accumulators, operands, the MMA and its ordering ops, with the user's
// mistakes reported by name before anything is recorded.
#include "metaltile/dsl/warpgroup.hpp"

#include "metaltile/dsl/builtins.hpp"
#include "metaltile/dsl/collectives.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {

std::string describe(const WarpgroupAccumulator& d) {
  return "accumulator '" + d.array().builder().kernel().array(d.array().id()).name + "'[" +
         std::to_string(d.offset()) + "]";
}

SharedMatrix shared_matrix(KernelBuilder& k, const MatrixDescriptor& m, std::string_view role) {
  const std::string what = "warpgroup_mma: operand " + std::string(role);
  if (m.shared.space() != MemorySpace::Threadgroup) {
    k.fail(what + ": array '" + k.kernel().array(m.shared.id()).name +
           "' is not threadgroup memory");
  }
  if (!is_warpgroup_mma_input_type(m.shared.dtype())) {
    k.fail(what + ": array '" + k.kernel().array(m.shared.id()).name + "' holds " +
           std::string(name_of(m.shared.dtype())) + "; warpgroup MMA multiplies f16 or bf16");
  }
  if (!is_index_type(m.start.dtype())) {
    k.fail(what + ": start " + k.describe(m.start) + " must be u32 or i32");
  }
  for (std::uint32_t bytes : {m.leading_bytes, m.stride_bytes}) {
    if (bytes % 16 != 0 || bytes >= (1u << 18)) {
      k.fail(what + ": byte offset " + std::to_string(bytes) +
             " must be a multiple of 16 below 262144");
    }
  }
  return SharedMatrix{m.shared.id(), m.swizzle, m.leading_bytes, m.stride_bytes};
}

}  // namespace

ArrayElement WarpgroupAccumulator::operator[](std::uint32_t e) const {
  if (e >= size()) {
    array_.builder().fail(describe(*this) + ": element " + std::to_string(e) + " of " +
                          std::to_string(size()));
  }
  return array_[offset_ + e];
}

// The constant parts of warpgroup_accumulator_coord fold; the thread's parts are its warp
// within the warpgroup and its lane.
Val WarpgroupAccumulator::row(std::uint32_t e) const {
  const MatrixCoord base = warpgroup_accumulator_coord(0, e);
  return warp_id() % 4u * 16u + lane_id() / 4u + base.row;
}

Val WarpgroupAccumulator::col(std::uint32_t e) const {
  const MatrixCoord base = warpgroup_accumulator_coord(0, e);
  return lane_id() % 4u * 2u + base.col;
}

void WarpgroupAccumulator::fill(const Val& v) const {
  for (std::uint32_t e = 0; e < size(); ++e) array_[offset_ + e] = v;
}

WarpgroupAccumulator warpgroup_accumulator(std::string name, std::uint32_t n) {
  KernelBuilder& k = KernelBuilder::current();
  if (!is_warpgroup_mma_n(n)) {
    k.fail("warpgroup_accumulator '" + name + "': n = " + std::to_string(n) +
           "; n is a multiple of 8 from 8 to 256");
  }
  const ArrayRef a = k.thread_array(std::move(name), DType::F32, warpgroup_accumulator_size(n));
  return WarpgroupAccumulator(a, 0, n);
}

void warpgroup_mma(const WarpgroupAccumulator& d, const MatrixDescriptor& a,
                   const MatrixDescriptor& b) {
  KernelBuilder& k = d.array().builder();
  const SharedMatrix ma = shared_matrix(k, a, "A");
  const SharedMatrix mb = shared_matrix(k, b, "B");
  if (a.shared.dtype() != b.shared.dtype()) {
    k.fail("warpgroup_mma: operand A holds " + std::string(name_of(a.shared.dtype())) +
           ", operand B " + std::string(name_of(b.shared.dtype())));
  }
  k.append_statement(
      make::warpgroup_mma(k.kernel(), d.ref(), ma, a.start.id(), mb, b.start.id(), d.n()));
}

void warpgroup_fence() { KernelBuilder::current().append_statement(make::warpgroup_fence()); }

void warpgroup_commit() { KernelBuilder::current().append_statement(make::warpgroup_commit()); }

void warpgroup_wait(std::uint32_t pending) {
  KernelBuilder& k = KernelBuilder::current();
  if (pending > kMaxPendingWarpgroupGroups) {
    k.fail("warpgroup_wait: " + std::to_string(pending) + " pending groups; at most " +
           std::to_string(kMaxPendingWarpgroupGroups));
  }
  k.append_statement(make::warpgroup_wait(pending));
}

void fence_async_shared() { KernelBuilder::current().append_statement(make::fence_async_shared()); }

}  // namespace mt
