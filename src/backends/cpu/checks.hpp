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
#include "metaltile/core/contract.hpp"
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

// One argument per parameter, in parameter order.
void check_argument_count(const Kernel& k, std::span<const Argument> args);

// --- threadgroup programming ---------------------------------------------------------------

// Every array's size must be known when the body runs: one taken from a scalar parameter
// needs that scalar specialised ("kernel 'K': array 'x': size comes from scalar 'n', which
// must be specialised (pass it in consts)").
void check_array_sizes(const Kernel& k);

// "kernel 'K': array 'A': array_load index 9 out of bounds (8 elements) at thread ...: <op>"
Error array_index_error(const Kernel& k, const Instr& in, std::int64_t index, std::uint32_t size,
                        const ThreadLocator& where, Lane lane);

// An ArrayLoad, ArrayStore or AtomicArray index must lie in [0, size) of its array.
inline void check_array_index(const Kernel& k, const Instr& in, std::int64_t index,
                              std::uint32_t size, const ThreadLocator& where, Lane lane) {
  if (index >= 0 && index < std::int64_t{size}) [[likely]]
    return;
  throw array_index_error(k, in, index, size, where, lane);
}

// "kernel 'K': array 'A': element 3 read before anything wrote it at thread ...: <op>" (or
// "before this thread wrote it" for a per-thread array).
Error unwritten_error(const Kernel& k, const Instr& in, ArrayId array, std::int64_t element,
                      const ThreadLocator& where, Lane lane);

// A read (ArrayLoad, AtomicArray, StoreVector's source) of an array element that nothing
// wrote: threadgroup memory since the group started, a per-thread array by this thread.
// A GPU would read garbage.
inline void check_array_written(const Kernel& k, const Instr& in, ArrayId array,
                                std::int64_t element, bool written, const ThreadLocator& where,
                                Lane lane) {
  if (written) [[likely]]
    return;
  throw unwritten_error(k, in, array, element, where, lane);
}

// The kinds of race on a threadgroup array element, each between `lane` and `other`, another
// thread, with no barrier between their accesses.
enum class Race {
  WriteWrite,      // both wrote it: "written by two threads with no barrier between (first by
                   // thread (..))"
  ReadAfterWrite,  // lane reads other's write: "read with no barrier after thread (..) wrote it"
  WriteAfterRead,  // lane overwrites what other read: "written with no barrier after thread (..)
                   // read it"
};
Error race_error(const Kernel& k, const Instr& in, std::int64_t element, Race race, Lane other,
                 const ThreadLocator& where, Lane lane);

// Two threads writing one threadgroup array element with no barrier between (atomics by
// both are exempt): `lane` writes `element`, which `other` wrote since the last barrier.
inline void check_no_write_race(const Kernel& k, const Instr& in, std::int64_t element, bool race,
                                Lane other, const ThreadLocator& where, Lane lane) {
  if (!race) [[likely]]
    return;
  throw race_error(k, in, element, Race::WriteWrite, other, where, lane);
}

// A thread reading a threadgroup array element another thread wrote since the last barrier:
// `lane` reads `element`, which `other` wrote.
inline void check_no_read_race(const Kernel& k, const Instr& in, std::int64_t element, bool race,
                               Lane other, const ThreadLocator& where, Lane lane) {
  if (!race) [[likely]]
    return;
  throw race_error(k, in, element, Race::ReadAfterWrite, other, where, lane);
}

// A thread writing (plainly or atomically) a threadgroup array element another thread read
// (plainly) since the last barrier: `lane` writes `element`, which `other` read. The reader
// may see the new value or the old one.
inline void check_no_write_after_read(const Kernel& k, const Instr& in, std::int64_t element,
                                      bool race, Lane other, const ThreadLocator& where,
                                      Lane lane) {
  if (!race) [[likely]]
    return;
  throw race_error(k, in, element, Race::WriteAfterRead, other, where, lane);
}

// A Barrier, ThreadgroupReduce or ThreadgroupArgmax must be reached by every thread of the
// group together: `active` (the lanes at the op) must be all `group_lanes` of them.
void check_threadgroup_converged(const Kernel& k, const Instr& in, ActiveLanes active,
                                 std::size_t group_lanes, const ThreadLocator& where);

// A warp op must be reached together by every existing thread of each warp in `active`
// (a partial last warp has fewer threads; an absent warp takes no part).
void check_warp_converged(const Kernel& k, const Instr& in, ActiveLanes active,
                          std::size_t group_lanes, const ThreadLocator& where);

// A LoadVector or StoreVector index must be a multiple of its lane count, and the whole
// vector [index, index + lanes) must lie inside the tensor's `elements`.
void check_vector_access(const Kernel& k, const Instr& in, std::int64_t index, std::size_t elements,
                         const ThreadLocator& where, Lane lane);

}  // namespace mt::cpu
