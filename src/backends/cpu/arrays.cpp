// Threadgroup and per-thread arrays of the lockstep interpreter, with the written and race
// tracking behind the threadgroup-memory checks (see arrays.hpp for the epoch model).
#include "backends/cpu/arrays.hpp"

#include <algorithm>

#include "backends/cpu/checks.hpp"
#include "backends/cpu/collectives.hpp"
#include "metaltile/core/error.hpp"

namespace mt::cpu {

void ArrayMemory::reset(const Kernel& k, std::size_t lanes, const BarrierPhases& phases) {
  k_ = &k;
  phases_ = &phases;
  lanes_ = lanes;
  layout_.assign(k.arrays.size(), Layout{});
  std::size_t shared = 0, thread = 0;
  for (std::size_t a = 0; a < k.arrays.size(); ++a) {
    const Array& array = k.arrays[a];
    MT_ASSERT(!array.size_param.valid()) << "array '" << array.name << "' has no fixed size";
    Layout& l = layout_[a];
    l.space = array.space;
    l.size = array.size;
    std::size_t& next = array.space == MemorySpace::Threadgroup ? shared : thread;
    l.offset = next;
    next += array.space == MemorySpace::Threadgroup ? array.size : std::size_t{array.size} * lanes;
  }
  shared_.assign(shared, Scalar{});
  cells_.assign(shared, Cell{});
  thread_.assign(thread, Scalar{});
  thread_written_.assign(thread, 0);
  register_in_flight_.assign(thread, 0);
  read_in_flight_.assign(shared, 0);
  warp_epochs_.assign((lanes + kWarpSize - 1) / kWarpSize, 0);
  async_fences_.assign(lanes, 0);
  pending_.assign(shared, 0);
  open_copies_.assign(lanes, {});
  copy_groups_.assign(lanes, {});
  epoch_ = 0;
  group_start_ = 0;
}

void ArrayMemory::begin_group() {
  group_start_ = ++epoch_;
  // Copies a group left in flight (it ended without waiting) do not reach the next group.
  for (Lane lane = 0; lane < open_copies_.size(); ++lane) {
    if (open_copies_[lane].empty() && copy_groups_[lane].empty()) continue;
    for (std::size_t cell : open_copies_[lane]) pending_[cell] = 0;
    for (const std::vector<std::size_t>& group : copy_groups_[lane]) {
      for (std::size_t cell : group) pending_[cell] = 0;
    }
    open_copies_[lane].clear();
    copy_groups_[lane].clear();
  }
  // Bulk copies count on the group's own barriers, which start again at phase 0.
  if (!k_->async_barriers.empty()) {
    for (Cell& c : cells_) c.bulk_slot = 0;
  }
  // Likewise warpgroup MMAs: the group that left them in flight was reported.
  std::fill(register_in_flight_.begin(), register_in_flight_.end(), 0);
  std::fill(read_in_flight_.begin(), read_in_flight_.end(), 0);
}

void ArrayMemory::barrier() { ++epoch_; }

void ArrayMemory::warp_barrier(ActiveLanes active) {
  for_each_warp(active, [&](ActiveLanes warp) { ++warp_epochs_[warp.front() / kWarpSize]; });
}

bool ArrayMemory::conflicts(const Cell& c, Lane lane, bool atomic) const {
  if (c.epoch != epoch_) return false;  // a barrier lies between (or it is unwritten)
  if (c.bulk_slot != 0) return false;   // ordered by its async barrier (check_not_pending)
  if (atomic && c.atomic) return false;
  if (c.many) return true;
  if (c.writer == lane) return false;
  const bool same_warp = c.writer / kWarpSize == lane / kWarpSize;
  return !(same_warp && warp_epochs_[lane / kWarpSize] != c.warp_epoch);
}

void ArrayMemory::record_write(Cell& c, Lane lane, bool atomic) {
  const bool same_epoch = c.epoch == epoch_;
  if (same_epoch && atomic && c.atomic && (c.many || c.writer != lane)) {
    c.many = true;  // another thread's atomic: both stay in the epoch
    return;
  }
  // A rewrite by the same thread keeps whether all of its writes were atomic.
  const bool earlier_atomic = same_epoch && !c.many && c.writer == lane ? c.atomic : true;
  // Field by field: the reads of the epoch stay recorded.
  c.epoch = epoch_;
  c.warp_epoch = warp_epochs_[lane / kWarpSize];
  c.writer = lane;
  c.writer_fences = async_fences_[lane];
  c.atomic = atomic && earlier_atomic;
  c.many = false;
  c.bulk_slot = 0;
}

Lane ArrayMemory::racing_reader(const Cell& c, Lane lane) const {
  if (c.read_epoch != epoch_) return lane;  // no read since the last barrier
  const Lane warp = lane / kWarpSize;
  if (c.reader / kWarpSize != c.other_reader / kWarpSize) {
    // Readers in two warps: at least one is in another warp than lane's, which no warp
    // barrier orders.
    return c.reader / kWarpSize != warp ? c.reader : c.other_reader;
  }
  // Every read is in one warp, at read_warp_epoch: a warp barrier since orders them before
  // a write of that warp.
  if (c.reader / kWarpSize == warp && warp_epochs_[warp] != c.read_warp_epoch) return lane;
  // Reading then writing one's own element is fine: name another reader if there is one.
  return c.reader != lane ? c.reader : c.other_reader;
}

void ArrayMemory::record_read(Cell& c, Lane lane) const {
  const Lane warp = lane / kWarpSize;
  const std::uint64_t warp_epoch = warp_epochs_[warp];
  const bool one_warp = c.reader / kWarpSize == c.other_reader / kWarpSize;
  // First read since the barrier; or every earlier read was in lane's warp before a warp
  // barrier: ordered before any write of that warp, and a write from another warp races
  // with this read too, so lane alone stands for them all.
  if (c.read_epoch != epoch_ ||
      (one_warp && c.reader / kWarpSize == warp && c.read_warp_epoch != warp_epoch)) {
    c.read_epoch = epoch_;
    c.read_warp_epoch = warp_epoch;
    c.reader = c.other_reader = lane;
    return;
  }
  if (!one_warp) return;  // readers in two warps already: every writer races with one of them
  if (c.reader / kWarpSize != warp || c.other_reader == c.reader) c.other_reader = lane;
}

void ArrayMemory::check_indices(const Instr& in, ActiveLanes active, const Scalar* index,
                                const ThreadLocator& where) const {
  const std::uint32_t size = layout_[in.array.index].size;
  for (Lane lane : active) check_array_index(*k_, in, index[lane].i, size, where, lane);
}

void ArrayMemory::load(const Instr& in, ActiveLanes active, const Scalar* index, Scalar* out,
                       const ThreadLocator& where) {
  const Layout& a = layout_[in.array.index];
  if (a.space == MemorySpace::Thread) {
    for (Lane lane : active) {
      check_array_index(*k_, in, index[lane].i, a.size, where, lane);
      const std::size_t slot = thread_slot(a, index[lane].i, lane);
      check_register_idle(in, in.array, index[lane].i, slot, lane, where);
      check_array_written(*k_, in, in.array, index[lane].i, thread_written_[slot] >= group_start_,
                          where, lane);
      out[lane] = thread_[slot];
    }
    return;
  }
  for (Lane lane : active) out[lane] = read_shared(in, in.array, index[lane].i, lane, where);
}

void ArrayMemory::fence_async_shared(ActiveLanes active) {
  for (Lane lane : active) ++async_fences_[lane];
}

bool ArrayMemory::fenced_for_async(ArrayId array, std::int64_t e, Lane& writer) const {
  const Cell& c = cells_[layout_[array.index].offset + static_cast<std::size_t>(e)];
  writer = c.writer;
  // A bulk copy writes through the asynchronous proxy itself: nothing to fence.
  return c.bulk_slot != 0 || async_fences_[c.writer] > c.writer_fences;
}

Scalar ArrayMemory::read_shared(const Instr& in, ArrayId array, std::int64_t e, Lane lane,
                                const ThreadLocator& where) {
  const Layout& a = layout_[array.index];
  MT_ASSERT(a.space == MemorySpace::Threadgroup) << "read_shared of a per-thread array";
  check_array_index(*k_, in, e, a.size, where, lane);
  const std::size_t cell = a.offset + static_cast<std::size_t>(e);
  check_not_pending(in, array, e, cell, lane, false, where);
  Cell& c = cells_[cell];
  check_array_written(*k_, in, array, e, c.epoch >= group_start_, where, lane);
  check_no_read_race(*k_, in, e, conflicts(c, lane, false), c.writer, where, lane);
  record_read(c, lane);
  return shared_[cell];
}

void ArrayMemory::check_not_pending(const Instr& in, ArrayId array, std::int64_t element,
                                    std::size_t cell, Lane lane, bool write,
                                    const ThreadLocator& where) const {
  const Cell& c = cells_[cell];
  if (c.bulk_slot != 0 && !phases_->has_seen(lane, c.bulk_slot - 1, c.bulk_phase)) [[unlikely]] {
    throw thread_error(*k_, in,
                       "array '" + k_->array(array).name + "': element " + std::to_string(element) +
                           (write ? " written" : " read") +
                           " before this thread waited for the bulk_tensor_load into it (race: "
                           "no async_barrier_wait on " +
                           phases_->slot_name(c.bulk_slot - 1) + " saw its phase " +
                           std::to_string(c.bulk_phase) + " complete)",
                       where, lane);
  }
  const Lane owner = pending_[cell];
  if (owner == 0 || (write && owner == lane + 1)) [[likely]]
    return;
  const std::string& name = k_->array(array).name;
  throw thread_error(*k_, in,
                     "array '" + name + "': element " + std::to_string(element) +
                         (write ? " written" : " read") + " while the copy_async of thread " +
                         format_axes(where.global_thread(owner - 1)) +
                         " into it is in flight (race: no copy_async_wait retired it)",
                     where, lane);
}

void ArrayMemory::write_async(const Instr& in, std::int64_t e, Lane lane, Scalar value,
                              const ThreadLocator& where) {
  const Layout& a = layout_[in.array.index];
  check_array_index(*k_, in, e, a.size, where, lane);
  const std::size_t cell = a.offset + static_cast<std::size_t>(e);
  check_not_pending(in, in.array, e, cell, lane, true, where);
  check_not_read_in_flight(in, in.array, e, cell, lane, where);
  Cell& c = cells_[cell];
  check_no_write_race(*k_, in, e, conflicts(c, lane, false), c.writer, where, lane);
  const Lane reader = racing_reader(c, lane);
  check_no_write_after_read(*k_, in, e, reader != lane, reader, where, lane);
  record_write(c, lane, false);
  shared_[cell] = value;
  if (pending_[cell] == 0) open_copies_[lane].push_back(cell);
  pending_[cell] = lane + 1;
}

void ArrayMemory::write_bulk(const Instr& in, std::int64_t e, Lane issuer, Scalar value,
                             std::uint32_t slot, std::uint64_t phase, const ThreadLocator& where) {
  const Layout& a = layout_[in.array.index];
  check_array_index(*k_, in, e, a.size, where, issuer);
  const std::size_t cell = a.offset + static_cast<std::size_t>(e);
  Cell& c = cells_[cell];
  if (c.bulk_slot != 0 && !phases_->has_completed(c.bulk_slot - 1, c.bulk_phase)) {
    throw thread_error(*k_, in,
                       "array '" + k_->array(in.array).name + "': element " + std::to_string(e) +
                           " written while an earlier bulk_tensor_load into it is in flight "
                           "(its phase " +
                           std::to_string(c.bulk_phase) + " of " +
                           phases_->slot_name(c.bulk_slot - 1) + " has not completed)",
                       where, issuer);
  }
  if (pending_[cell] != 0) {
    throw thread_error(*k_, in,
                       "array '" + k_->array(in.array).name + "': element " + std::to_string(e) +
                           " written while a copy_async into it is in flight",
                       where, issuer);
  }
  check_not_read_in_flight(in, in.array, e, cell, issuer, where);
  record_write(c, issuer, false);
  c.bulk_slot = slot + 1;
  c.bulk_phase = phase;
  shared_[cell] = value;
}

void ArrayMemory::commit_async(Lane lane) {
  copy_groups_[lane].push_back(std::move(open_copies_[lane]));
  open_copies_[lane].clear();
}

void ArrayMemory::wait_async(Lane lane, std::uint32_t pending) {
  std::deque<std::vector<std::size_t>>& groups = copy_groups_[lane];
  while (groups.size() > pending) {
    for (std::size_t cell : groups.front()) {
      pending_[cell] = 0;
      record_write(cells_[cell], lane, false);  // the data lands now, for this thread
    }
    groups.pop_front();
  }
}

void ArrayMemory::store(const Instr& in, ActiveLanes active, const Scalar* index,
                        const Scalar* value, const ThreadLocator& where) {
  const Layout& a = layout_[in.array.index];
  check_indices(in, active, index, where);
  if (a.space == MemorySpace::Thread) {
    for (Lane lane : active) {
      const std::size_t slot = thread_slot(a, index[lane].i, lane);
      check_register_idle(in, in.array, index[lane].i, slot, lane, where);
      thread_[slot] = value[lane];
      thread_written_[slot] = epoch_;
    }
    return;
  }
  for (Lane lane : active) {
    const std::int64_t e = index[lane].i;
    Cell& c = cells_[a.offset + e];
    check_not_pending(in, in.array, e, a.offset + static_cast<std::size_t>(e), lane, true, where);
    check_not_read_in_flight(in, in.array, e, a.offset + static_cast<std::size_t>(e), lane, where);
    check_no_write_race(*k_, in, e, conflicts(c, lane, false), c.writer, where, lane);
    const Lane reader = racing_reader(c, lane);
    check_no_write_after_read(*k_, in, e, reader != lane, reader, where, lane);
    record_write(c, lane, false);
    shared_[a.offset + e] = value[lane];
  }
}

void ArrayMemory::atomic(const Instr& in, ActiveLanes active, const Scalar* index,
                         const Scalar* value, Scalar* out, const ThreadLocator& where) {
  const Layout& a = layout_[in.array.index];
  MT_ASSERT(a.space == MemorySpace::Threadgroup) << "atomic on a per-thread array";
  check_indices(in, active, index, where);
  for (Lane lane : active) {
    const std::int64_t e = index[lane].i;
    Cell& c = cells_[a.offset + e];
    check_not_pending(in, in.array, e, a.offset + static_cast<std::size_t>(e), lane, false, where);
    check_not_read_in_flight(in, in.array, e, a.offset + static_cast<std::size_t>(e), lane, where);
    // An atomic reads the element: it must hold a value, written with no race.
    check_array_written(*k_, in, in.array, e, c.epoch >= group_start_, where, lane);
    check_no_write_race(*k_, in, e, conflicts(c, lane, true), c.writer, where, lane);
    const Lane reader = racing_reader(c, lane);
    check_no_write_after_read(*k_, in, e, reader != lane, reader, where, lane);
    record_write(c, lane, true);
    Scalar& element = shared_[a.offset + e];
    out[lane] = element;
    element = combine(in.combine, in.dtype, element, value[lane]);
  }
}

Scalar ArrayMemory::read_thread(const Instr& in, std::uint32_t element, Lane lane,
                                const ThreadLocator& where) {
  return read_thread(in, in.array, element, lane, where);
}

Scalar ArrayMemory::read_thread(const Instr& in, ArrayId array, std::uint32_t element, Lane lane,
                                const ThreadLocator& where) {
  const Layout& a = layout_[array.index];
  MT_ASSERT(a.space == MemorySpace::Thread && element < a.size) << "per-thread element " << element;
  const std::size_t slot = thread_slot(a, element, lane);
  check_register_idle(in, array, element, slot, lane, where);
  check_array_written(*k_, in, array, element, thread_written_[slot] >= group_start_, where, lane);
  return thread_[slot];
}

Scalar ArrayMemory::read_accumulator(const Instr& in, ArrayId array, std::uint32_t element,
                                     Lane lane, const ThreadLocator& where) {
  const Layout& a = layout_[array.index];
  MT_ASSERT(a.space == MemorySpace::Thread && element < a.size) << "per-thread element " << element;
  const std::size_t slot = thread_slot(a, element, lane);
  check_array_written(*k_, in, array, element, thread_written_[slot] >= group_start_, where, lane);
  return thread_[slot];
}

void ArrayMemory::mark_in_flight_register(ArrayId array, std::uint32_t element, Lane lane,
                                          bool busy) {
  register_in_flight_[thread_slot(layout_[array.index], element, lane)] = busy ? 1 : 0;
}

void ArrayMemory::mark_in_flight_read(ArrayId array, std::int64_t element, int delta) {
  std::uint32_t& readers = read_in_flight_[layout_[array.index].offset + element];
  readers = static_cast<std::uint32_t>(static_cast<std::int64_t>(readers) + delta);
}

void ArrayMemory::check_register_idle(const Instr& in, ArrayId array, std::int64_t element,
                                      std::size_t slot, Lane lane,
                                      const ThreadLocator& where) const {
  if (register_in_flight_[slot] == 0) [[likely]]
    return;
  throw thread_error(*k_, in,
                     "accumulator '" + k_->array(array).name + "'[" + std::to_string(element) +
                         "] is used while a warpgroup_mma that writes it is in flight (no "
                         "warpgroup_wait retired it)",
                     where, lane);
}

void ArrayMemory::check_not_read_in_flight(const Instr& in, ArrayId array, std::int64_t element,
                                           std::size_t cell, Lane lane,
                                           const ThreadLocator& where) const {
  if (read_in_flight_[cell] == 0) [[likely]]
    return;
  throw thread_error(*k_, in,
                     "array '" + k_->array(array).name + "': element " + std::to_string(element) +
                         " written while a warpgroup_mma reading it is in flight (race: no "
                         "warpgroup_wait retired it)",
                     where, lane);
}

void ArrayMemory::write_thread(const Instr& in, ArrayId array, std::uint32_t element, Lane lane,
                               Scalar value, const ThreadLocator& where) {
  const Layout& a = layout_[array.index];
  MT_ASSERT(a.space == MemorySpace::Thread && element < a.size) << "per-thread element " << element;
  check_register_idle(in, array, element, thread_slot(a, element, lane), lane, where);
  write_accumulator(array, element, lane, value);
}

void ArrayMemory::write_accumulator(ArrayId array, std::uint32_t element, Lane lane, Scalar value) {
  const Layout& a = layout_[array.index];
  MT_ASSERT(a.space == MemorySpace::Thread && element < a.size) << "per-thread element " << element;
  const std::size_t slot = thread_slot(a, element, lane);
  thread_[slot] = value;
  thread_written_[slot] = epoch_;
}

}  // namespace mt::cpu
