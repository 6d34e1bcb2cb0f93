// Asynchronous barriers of the lockstep interpreter (see barrier_phases.hpp).
#include "backends/cpu/barrier_phases.hpp"

#include <algorithm>
#include <string>

#include "backends/cpu/checks.hpp"
#include "metaltile/core/async_barrier.hpp"

namespace mt::cpu {

void BarrierPhases::reset(const Kernel& k, std::size_t lanes) {
  k_ = &k;
  first_slot_.clear();
  set_of_.clear();
  slots_ = 0;
  for (std::size_t s = 0; s < k.async_barriers.size(); ++s) {
    first_slot_.push_back(slots_);
    slots_ += k.async_barriers[s].size;
    set_of_.insert(set_of_.end(), k.async_barriers[s].size, static_cast<std::uint32_t>(s));
  }
  barriers_.assign(slots_, Barrier{});
  seen_.assign(lanes * slots_, 0);
}

void BarrierPhases::begin_group() {
  std::fill(barriers_.begin(), barriers_.end(), Barrier{});
  std::fill(seen_.begin(), seen_.end(), 0);
}

std::string BarrierPhases::slot_name(std::uint32_t slot) const {
  const std::uint32_t set = set_of_[slot];
  return "'" + k_->async_barriers[set].name + "'[" + std::to_string(slot - first_slot_[set]) + "]";
}

void BarrierPhases::end_group(const Kernel& k, const ThreadLocator& where) const {
  for (std::uint32_t s = 0; s < slots_; ++s) {
    const Barrier& b = barriers_[s];
    if (b.bytes <= 0) continue;
    throw kernel_error(k.name, "async barrier " + slot_name(s) + " ends threadgroup " +
                                   format_axes(where.group()) + " with " +
                                   quantity(static_cast<std::uint64_t>(b.bytes), "byte") +
                                   " of bulk copies expected in phase " +
                                   std::to_string(b.completed) +
                                   " and never waited for: wait on every phase a copy completes");
  }
}

std::uint32_t BarrierPhases::slot(const Kernel& k, const Instr& in, std::int64_t index, Lane lane,
                                  std::uint64_t epoch, const ThreadLocator& where) const {
  const AsyncBarrier& set = k.async_barrier(in.async_barrier);
  if (index < 0 || index >= set.size) {
    throw thread_error(k, in,
                       "async barrier index " + std::to_string(index) + " out of bounds ('" +
                           set.name + "' has " + std::to_string(set.size) + ")",
                       where, lane);
  }
  const std::uint32_t s = first_slot_[in.async_barrier.index] + static_cast<std::uint32_t>(index);
  if (in.op == OpKind::AsyncBarrierInit) return s;
  const Barrier& b = barriers_[s];
  if (!b.initialised) {
    throw thread_error(k, in, "async barrier " + slot_name(s) + " is used before its init", where,
                       lane);
  }
  if (b.init_epoch == epoch && b.initialiser != lane) {
    throw thread_error(k, in,
                       "async barrier " + slot_name(s) + " is used in the epoch of its init by " +
                           where.describe(b.initialiser) +
                           ": put a barrier() between the init and other threads' uses",
                       where, lane);
  }
  return s;
}

void BarrierPhases::init(const Kernel& k, const Instr& in, ActiveLanes active, const Scalar* index,
                         std::uint64_t epoch, const ThreadLocator& where) {
  for (Lane lane : active) {
    const std::uint32_t s = slot(k, in, index[lane].i, lane, epoch, where);
    Barrier& b = barriers_[s];
    if (b.initialised) {
      throw thread_error(k, in,
                         "async barrier " + slot_name(s) + " is initialised twice (first by " +
                             where.describe(b.initialiser) + ")",
                         where, lane);
    }
    b = Barrier{true, lane, epoch, in.lanes, in.lanes, 0, 0};
  }
}

void BarrierPhases::try_complete(Barrier& b) {
  if (b.pending != 0 || b.bytes != 0) return;
  ++b.completed;
  b.pending = b.arrivals;
}

void BarrierPhases::arrive(const Kernel& k, const Instr& in, ActiveLanes active,
                           const Scalar* index, const Scalar* bytes, std::uint64_t epoch,
                           const ThreadLocator& where) {
  for (Lane lane : active) {
    const std::uint32_t s = slot(k, in, index[lane].i, lane, epoch, where);
    Barrier& b = barriers_[s];
    if (b.pending == 0) {
      throw thread_error(
          k, in,
          "async barrier " + slot_name(s) + ": more than its " + quantity(b.arrivals, "arrival") +
              " in phase " + std::to_string(b.completed) + " (it still waits for " +
              quantity(static_cast<std::uint64_t>(std::max<std::int64_t>(b.bytes, 0)), "byte") +
              ")",
          where, lane);
    }
    if (bytes != nullptr) {
      b.bytes += bytes[lane].i;
      if (b.bytes > kMaxAsyncBarrierBytes) {
        throw thread_error(k, in,
                           "async barrier " + slot_name(s) + " expects " + std::to_string(b.bytes) +
                               " bytes in phase " + std::to_string(b.completed) +
                               "; a phase counts at most " + std::to_string(kMaxAsyncBarrierBytes),
                           where, lane);
      }
    }
    --b.pending;
    if (b.pending == 0 && b.bytes < 0) {
      throw thread_error(k, in,
                         "async barrier " + slot_name(s) + ": bulk copies delivered " +
                             quantity(static_cast<std::uint64_t>(-b.bytes), "byte") +
                             " more than its phase " + std::to_string(b.completed) +
                             " expected (arrive_expect counts the whole boxes of its copies)",
                         where, lane);
    }
    try_complete(b);
  }
}

void BarrierPhases::complete_bytes(std::uint32_t slot, std::uint32_t bytes) {
  Barrier& b = barriers_[slot];
  b.bytes -= bytes;
  try_complete(b);
}

void BarrierPhases::wait(const Kernel& k, const Instr& in, ActiveLanes active, const Scalar* index,
                         const Scalar* parity, std::uint64_t epoch, const ThreadLocator& where) {
  for (Lane lane : active) {
    const std::uint32_t s = slot(k, in, index[lane].i, lane, epoch, where);
    const Barrier& b = barriers_[s];
    const std::int64_t p = parity[lane].i;
    if (p != 0 && p != 1) {
      throw thread_error(k, in, "async barrier parity " + std::to_string(p) + " is not 0 or 1",
                         where, lane);
    }
    // The phase of parity p has completed when the current phase has the other parity.
    if (static_cast<std::int64_t>(b.completed % 2) == p) {
      std::string lacks;
      if (b.pending > 0) lacks = quantity(static_cast<std::uint64_t>(b.pending), "arrival");
      if (b.bytes != 0) {
        lacks += (lacks.empty() ? "" : " and ") +
                 (b.bytes > 0 ? quantity(static_cast<std::uint64_t>(b.bytes), "byte") +
                                    " of bulk copies expected but not delivered"
                              : quantity(static_cast<std::uint64_t>(-b.bytes), "byte") +
                                    " delivered beyond what arrive_expect announced");
      }
      throw thread_error(k, in,
                         "async_barrier_wait on " + slot_name(s) + " for parity " +
                             std::to_string(p) + " can never complete: phase " +
                             std::to_string(b.completed) + " still lacks " + lacks +
                             " (threads run in lockstep, so nothing else can arrive before "
                             "this wait returns)",
                         where, lane);
    }
    seen_[std::size_t{lane} * slots_ + s] = b.completed;
  }
}

}  // namespace mt::cpu
