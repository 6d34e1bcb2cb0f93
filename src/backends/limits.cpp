// The array limits every backend shares (DeviceLimits): threadgroup memory per group (arrays
// and async barriers) and per-thread arrays per thread, checked before a compile or a launch
// allocates anything.
#include <string>

#include "metaltile/backends/backend.hpp"
#include "metaltile/core/error.hpp"

namespace mt {

void check_array_limits(const Kernel& k, const std::function<std::uint64_t(const Array&)>& elements,
                        const DeviceLimits& limits) {
  for (MemorySpace space : {MemorySpace::Threadgroup, MemorySpace::Thread}) {
    const bool shared = space == MemorySpace::Threadgroup;
    std::uint64_t total = 0, largest = 0;
    const Array* biggest = nullptr;
    for (const Array& a : k.arrays) {
      if (a.space != space) continue;
      const std::uint64_t bytes = elements(a) * size_of(a.dtype);  // < 2^32 * 8: no wrap
      total += bytes;
      if (biggest == nullptr || bytes > largest) {
        biggest = &a;
        largest = bytes;
      }
    }
    // Asynchronous barriers live in threadgroup memory too: an 8-byte word each.
    std::uint64_t barrier_bytes = 0;
    if (shared) {
      for (const AsyncBarrier& b : k.async_barriers) barrier_bytes += std::uint64_t{b.size} * 8;
    }
    total += barrier_bytes;
    const std::uint64_t limit =
        shared ? limits.max_threadgroup_memory : limits.max_thread_array_bytes;
    if (total <= limit) continue;
    const std::string what = shared ? (barrier_bytes > 0 ? "threadgroup arrays and async barriers"
                                                         : "threadgroup arrays")
                                    : "per-thread arrays";
    if (biggest == nullptr) {
      throw kernel_error(k.name, "the async barriers take " + quantity(total, "byte") +
                                     " a threadgroup, over the limit of " +
                                     quantity(limit, "byte") + " of threadgroup memory");
    }
    throw kernel_error(
        k.name, "array '" + biggest->name + "' (" + std::string(name_of(biggest->dtype)) + "[" +
                    std::to_string(elements(*biggest)) + "]): the " + what + " take " +
                    quantity(total, "byte") + (shared ? " a threadgroup" : " a thread") +
                    ", over the limit of " + quantity(limit, "byte") +
                    (shared ? " of threadgroup memory" : " (max_thread_array_bytes)"));
  }
}

}  // namespace mt
