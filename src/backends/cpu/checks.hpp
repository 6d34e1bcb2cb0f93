// The interpreter's run-time checks, one function each: what a GPU cannot check (bounds,
// unwritten locals, endless loops, unusable launch shapes). Each failure is an mt::Error that
// names the kernel, the param where there is one, the thread and the op.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "backends/cpu/lanes.hpp"
#include "metaltile/backends/backend.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cpu {

// "kernel 'K': DETAIL at thread (..) of threadgroup (..): <printed op>". Every run-time finding
// (and an arithmetic error raised by scalar_eval) is reported in this form.
Error thread_error(const Kernel& k, const Instr& in, std::string_view detail,
                   const ThreadLocator& where, Lane lane);

// "kernel 'K': param 'P': load index 4096 out of bounds (4096 elements) at thread ...: <op>"
Error index_error(const Kernel& k, const Instr& in, std::int64_t index, std::size_t elements,
                  const ThreadLocator& where, Lane lane);

// A Load or Store index must lie in [0, elements) of its tensor; called before the access.
inline void check_index(const Kernel& k, const Instr& in, std::int64_t index, std::size_t elements,
                        const ThreadLocator& where, Lane lane) {
  if (index >= 0 && static_cast<std::uint64_t>(index) < elements) [[likely]]
    return;
  throw index_error(k, in, index, elements, where, lane);
}

// A LocalRead must follow a LocalWrite by the same thread: a GPU would read garbage.
void check_local_written(const Kernel& k, const Instr& in, bool written, const ThreadLocator& where,
                         Lane lane);

// A For step must be positive, or the loop would never end.
void check_loop_step(const Kernel& k, const Instr& in, std::int64_t step,
                     const ThreadLocator& where, Lane lane);

// A launch must have at least one threadgroup and one thread on every axis, at most
// limits.max_threads_per_threadgroup threads a group, and every program id must fit in u32.
void check_launch_dims(const Kernel& k, const LaunchDims& dims, const DeviceLimits& limits);

// A TensorLen result is u32: the tensor's element count must fit.
void check_tensor_len(const Kernel& k, const Instr& in, std::int64_t elements);

// "kernel 'K': param 'P': precondition failed: TEXT (P=VALUE, len(T)=N)" for a failed Require
// of the contract: the scalar parameters, then the tensor lengths, that its condition depends
// on (traced through the contract block), with their values. `uniforms` holds, by ParamId, a
// scalar's value or a tensor's element count. P is the first scalar (else the first tensor);
// a condition on constants alone reads "kernel 'K': precondition failed: TEXT".
Error precondition_error(const Kernel& k, const Instr& require, std::span<const Scalar> uniforms);

// One argument per parameter, in parameter order.
void check_argument_count(const Kernel& k, std::span<const Argument> args);

}  // namespace mt::cpu
