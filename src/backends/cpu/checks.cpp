// The interpreter's run-time checks and the messages they report.
#include "backends/cpu/checks.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "metaltile/core/print.hpp"

namespace mt::cpu {
namespace {

// " at thread (..) of threadgroup (..): <op>", the tail every run-time finding shares.
std::string at(const Kernel& k, const Instr& in, const ThreadLocator& where, Lane lane) {
  return " at " + where.describe(lane) + ": " + print_instr(k, in);
}

}  // namespace

Error thread_error(const Kernel& k, const Instr& in, std::string_view detail,
                   const ThreadLocator& where, Lane lane) {
  return kernel_error(k.name, std::string(detail) + at(k, in, where, lane));
}

Error index_error(const Kernel& k, const Instr& in, std::int64_t index, std::size_t elements,
                  const ThreadLocator& where, Lane lane) {
  const std::string detail = std::string(op_name(in.op)) + " index " + std::to_string(index) +
                             " out of bounds (" + quantity(elements, "element") + ")";
  return param_error(k.name, k.param(in.param).name, detail + at(k, in, where, lane));
}

void check_local_written(const Kernel& k, const Instr& in, bool written, const ThreadLocator& where,
                         Lane lane) {
  if (written) return;
  throw thread_error(k, in, "local '" + k.local(in.local).name + "' read before it was written",
                     where, lane);
}

void check_loop_step(const Kernel& k, const Instr& in, std::int64_t step,
                     const ThreadLocator& where, Lane lane) {
  if (step > 0) return;
  throw thread_error(k, in, "loop step " + std::to_string(step) + " is not positive", where, lane);
}

void check_launch_dims(const Kernel& k, const LaunchDims& dims, const DeviceLimits& limits) {
  for (int a = 0; a < 3; ++a) {
    if (dims.grid[a] == 0 || dims.tpg[a] == 0) {
      throw kernel_error(k.name, "launch with an empty axis: grid " + format_axes(dims.grid) +
                                     ", tpg " + format_axes(dims.tpg));
    }
  }
  const std::uint64_t group_threads = std::uint64_t{dims.tpg[0]} * dims.tpg[1] * dims.tpg[2];
  if (group_threads > limits.max_threads_per_threadgroup) {
    throw kernel_error(k.name, "tpg " + format_axes(dims.tpg) + " has " +
                                   std::to_string(group_threads) + " threads, over the limit of " +
                                   std::to_string(limits.max_threads_per_threadgroup));
  }
  // Program ids are u32: the global thread index on each axis, and in Elementwise mode the
  // linear index over the whole grid, must fit.
  constexpr std::uint64_t kIdLimit = std::uint64_t{1} << 32;
  std::uint64_t total = 1;
  for (int a = 0; a < 3; ++a) {
    const std::uint64_t extent = std::uint64_t{dims.grid[a]} * dims.tpg[a];
    const bool linear_too_big = k.mode == KernelMode::Elementwise && total > kIdLimit / extent;
    if (extent > kIdLimit || linear_too_big) {
      throw kernel_error(k.name, "grid " + format_axes(dims.grid) + " x tpg " +
                                     format_axes(dims.tpg) +
                                     " has more threads than u32 program ids can number");
    }
    total *= extent;
  }
}

void check_argument_count(const Kernel& k, std::span<const Argument> args) {
  if (args.size() == k.params.size()) return;
  throw kernel_error(k.name, "expected " + quantity(k.params.size(), "argument") +
                                 " (one per parameter), got " + std::to_string(args.size()));
}

// --- threadgroup programming ---------------------------------------------------------------

namespace {
std::string array_prefix(const Kernel& k, ArrayId a) { return "array '" + k.array(a).name + "': "; }
}  // namespace

void check_array_sizes(const Kernel& k) {
  for (const Array& a : k.arrays) {
    if (!a.size_param.valid()) continue;
    throw kernel_error(k.name, "array '" + a.name + "': size comes from scalar '" +
                                   k.param(a.size_param).name +
                                   "', which must be specialised (pass it in consts)");
  }
}

Error array_index_error(const Kernel& k, const Instr& in, std::int64_t index, std::uint32_t size,
                        const ThreadLocator& where, Lane lane) {
  return kernel_error(k.name, array_prefix(k, in.array) + std::string(op_name(in.op)) + " index " +
                                  std::to_string(index) + " out of bounds (" +
                                  quantity(size, "element") + ")" + at(k, in, where, lane));
}

Error unwritten_error(const Kernel& k, const Instr& in, ArrayId array, std::int64_t element,
                      const ThreadLocator& where, Lane lane) {
  const bool shared = k.array(array).space == MemorySpace::Threadgroup;
  return thread_error(
      k, in,
      array_prefix(k, array) + "element " + std::to_string(element) +
          (shared ? " read before anything wrote it" : " read before this thread wrote it"),
      where, lane);
}

Error race_error(const Kernel& k, const Instr& in, std::int64_t element, Race race, Lane other,
                 const ThreadLocator& where, Lane lane) {
  const std::string thread = "thread " + format_axes(where.global_thread(other));
  std::string what;
  switch (race) {
    case Race::WriteWrite:
      what = " written by two threads with no barrier between (first by " + thread + ")";
      break;
    case Race::ReadAfterWrite: what = " read with no barrier after " + thread + " wrote it"; break;
    case Race::WriteAfterRead:
      what = " written with no barrier after " + thread + " read it";
      break;
  }
  return thread_error(
      k, in, array_prefix(k, in.array) + "element " + std::to_string(element) + what, where, lane);
}

void check_threadgroup_converged(const Kernel& k, const Instr& in, ActiveLanes active,
                                 std::size_t group_lanes, const ThreadLocator& where) {
  if (active.size() == group_lanes) return;
  // Active lanes are sorted and distinct: the first lane not at its own position is missing.
  Lane missing = 0;
  while (missing < active.size() && active[missing] == missing) ++missing;
  throw thread_error(k, in,
                     "reached by only part of the threadgroup (" + std::to_string(active.size()) +
                         " of " + std::to_string(group_lanes) + " threads; thread " +
                         format_axes(where.global_thread(missing)) + " is missing)",
                     where, active.front());
}

void check_warp_converged(const Kernel& k, const Instr& in, ActiveLanes active,
                          std::size_t group_lanes, const ThreadLocator& where) {
  std::size_t i = 0;
  while (i < active.size()) {
    const Lane first = active[i] / kWarpSize * kWarpSize;
    const Lane end = static_cast<Lane>(std::min<std::size_t>(first + kWarpSize, group_lanes));
    // A complete warp occupies active[i .. i + (end - first)) as first, first + 1, ..., end - 1.
    const std::size_t last = i + (end - first) - 1;
    if (active[i] == first && last < active.size() && active[last] == end - 1) {
      i = last + 1;
      continue;
    }
    std::size_t present = 0;
    Lane missing = first;
    for (std::size_t j = i; j < active.size() && active[j] < end; ++j, ++present) {
      if (active[j] == missing) ++missing;
    }
    throw thread_error(k, in,
                       "reached by only part of warp " + std::to_string(first / kWarpSize) + " (" +
                           std::to_string(present) + " of " + quantity(end - first, "thread") +
                           "; thread " + format_axes(where.global_thread(missing)) + " is missing)",
                       where, active[i]);
  }
}

void check_vector_access(const Kernel& k, const Instr& in, std::int64_t index, std::size_t elements,
                         const ThreadLocator& where, Lane lane) {
  const std::int64_t lanes = in.lanes;
  const std::string& param = k.param(in.param).name;
  if (index % lanes != 0) {
    throw param_error(k.name, param,
                      "vector access at index " + std::to_string(index) + " is not a multiple of " +
                          std::to_string(lanes) + at(k, in, where, lane));
  }
  if (index >= 0 && static_cast<std::uint64_t>(index + lanes) <= elements) return;
  throw param_error(k.name, param,
                    std::string(op_name(in.op)) + " of " + std::to_string(lanes) +
                        " elements at index " + std::to_string(index) + " out of bounds (" +
                        quantity(elements, "element") + ")" + at(k, in, where, lane));
}

}  // namespace mt::cpu
