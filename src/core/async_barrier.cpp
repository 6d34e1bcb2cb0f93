// Constructors and verifier rules of the asynchronous barrier ops.
#include "metaltile/core/async_barrier.hpp"

#include <utility>
#include <vector>

#include "metaltile/core/error.hpp"

namespace mt {
namespace {

Instr barrier_op(OpKind op, AsyncBarrierId set, std::vector<ValueId> operands) {
  Instr in;
  in.op = op;
  in.async_barrier = set;
  in.operands = std::move(operands);
  return in;
}

bool has_value(const Kernel& k, const Instr& in, std::size_t i) {
  return i < in.operands.size() && in.operands[i].valid() &&
         in.operands[i].index < k.value_types.size();
}

}  // namespace

bool is_async_barrier_op(OpKind op) {
  return op == OpKind::AsyncBarrierInit || op == OpKind::AsyncBarrierArrive ||
         op == OpKind::AsyncBarrierExpect || op == OpKind::AsyncBarrierWait;
}

namespace make {

Instr async_barrier_init(const Kernel& k, AsyncBarrierId set, ValueId index,
                         std::uint32_t arrivals) {
  Instr in = barrier_op(OpKind::AsyncBarrierInit, set, {index});
  in.lanes = arrivals;
  MT_ASSERT(async_barrier_problem(k, in).empty()) << async_barrier_problem(k, in);
  return in;
}

Instr async_barrier_arrive(const Kernel& k, AsyncBarrierId set, ValueId index) {
  Instr in = barrier_op(OpKind::AsyncBarrierArrive, set, {index});
  MT_ASSERT(async_barrier_problem(k, in).empty()) << async_barrier_problem(k, in);
  return in;
}

Instr async_barrier_expect(const Kernel& k, AsyncBarrierId set, ValueId index, ValueId bytes) {
  Instr in = barrier_op(OpKind::AsyncBarrierExpect, set, {index, bytes});
  MT_ASSERT(async_barrier_problem(k, in).empty()) << async_barrier_problem(k, in);
  return in;
}

Instr async_barrier_wait(const Kernel& k, AsyncBarrierId set, ValueId index, ValueId parity) {
  Instr in = barrier_op(OpKind::AsyncBarrierWait, set, {index, parity});
  MT_ASSERT(async_barrier_problem(k, in).empty()) << async_barrier_problem(k, in);
  return in;
}

}  // namespace make

std::string async_barrier_problem(const Kernel& k, const Instr& in) {
  if (!in.async_barrier.valid() || in.async_barrier.index >= k.async_barriers.size()) {
    return "names no async barrier set";
  }
  const bool two = in.op == OpKind::AsyncBarrierExpect || in.op == OpKind::AsyncBarrierWait;
  for (std::size_t i = 0; i < (two ? 2u : 1u); ++i) {
    if (!has_value(k, in, i)) return "operand " + std::to_string(i) + " is missing";
    if (k.value_types[in.operands[i].index] != DType::U32) {
      const std::string what = i == 0                                ? "the barrier index"
                               : in.op == OpKind::AsyncBarrierExpect ? "the byte count"
                                                                     : "the parity";
      return what + " must be u32";
    }
  }
  if (in.op == OpKind::AsyncBarrierInit && (in.lanes == 0 || in.lanes > kMaxAsyncBarrierArrivals)) {
    return "expects " + std::to_string(in.lanes) + " arrivals; from 1 to " +
           std::to_string(kMaxAsyncBarrierArrivals);
  }
  return "";
}

std::string async_barrier_text(const Kernel& k, const Instr& in, std::size_t index_operand) {
  std::string text = in.async_barrier.valid() && in.async_barrier.index < k.async_barriers.size()
                         ? k.async_barriers[in.async_barrier.index].name
                         : std::string("?barrier");
  text += "[%";
  if (index_operand < in.operands.size() && in.operands[index_operand].valid()) {
    text += std::to_string(in.operands[index_operand].index);
  } else {
    text += "?";
  }
  return text + "]";
}

}  // namespace mt
