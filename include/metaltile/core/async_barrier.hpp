// Asynchronous barriers (the hardware's mbarrier): sets of barriers in threadgroup memory that
// count arrivals and transaction bytes towards a phase, so that threads can wait for bulk
// copies (core/tensor_map.hpp) and for each other without stopping the whole threadgroup.
// Checked constructors and verifier rules; the interpreter and the CUDA backend implement them.
#pragma once

#include <cstdint>
#include <string>

#include "metaltile/core/kernel.hpp"

namespace mt {

// The hardware's counters: a phase expects 1 .. 2^20 - 1 arrivals, and its transaction count
// stays within +-(2^20 - 1) bytes.
constexpr std::uint32_t kMaxAsyncBarrierArrivals = (1u << 20) - 1;
constexpr std::uint32_t kMaxAsyncBarrierBytes = (1u << 20) - 1;
// Bytes of one barrier in threadgroup memory.
constexpr std::uint32_t kAsyncBarrierBytes = 8;

// Whether `op` is one of the AsyncBarrier ops (not BulkTensorLoad, which also names one).
bool is_async_barrier_op(OpKind op);

namespace make {
Instr async_barrier_init(const Kernel& k, AsyncBarrierId set, ValueId index,
                         std::uint32_t arrivals);
Instr async_barrier_arrive(const Kernel& k, AsyncBarrierId set, ValueId index);
Instr async_barrier_expect(const Kernel& k, AsyncBarrierId set, ValueId index, ValueId bytes);
Instr async_barrier_wait(const Kernel& k, AsyncBarrierId set, ValueId index, ValueId parity);
}  // namespace make

// The verifier's rules for the AsyncBarrier ops: "" when `in` is well formed, else what is wrong.
std::string async_barrier_problem(const Kernel& k, const Instr& in);

// "full[%4]": the barrier an instruction names (operand `index_operand` is its index), for the
// printer and error messages.
std::string async_barrier_text(const Kernel& k, const Instr& in, std::size_t index_operand);

}  // namespace mt
