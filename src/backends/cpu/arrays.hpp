// Array memory of the lockstep interpreter: threadgroup arrays (one storage per group) and
// per-thread arrays (one per thread), with what the checks need to know about each element:
// whether it was written, and for threadgroup memory by whom and since which barrier.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "backends/cpu/barrier_phases.hpp"
#include "backends/cpu/lanes.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt::cpu {

// Time is counted in epochs: each group starts a new one, and so does each barrier. An element
// is written if its last write falls in the group's epochs; two accesses race if they fall in
// one epoch (no barrier between) unless one thread made both, both are atomic, or the threads
// share a warp and a warp barrier lies between. Write-write, read-after-write and
// write-after-read (a plain read, then another thread's write) are all races; an atomic's own
// read is not tracked as a read, so atomics do not race among themselves.
class ArrayMemory {
 public:
  // Lays out k's arrays for groups of `lanes` threads. Sizes must be fixed (check_array_sizes).
  // Storage is zero-initialised, and kept from group to group: reading an element that nothing
  // wrote in the current group is an error, so a value left by an earlier group is never seen.
  // `phases` (kept by the caller) says which bulk copies each thread may read.
  void reset(const Kernel& k, std::size_t lanes, const BarrierPhases& phases);
  // The current epoch (async barriers check that a barrier() published their init).
  std::uint64_t epoch() const { return epoch_; }

  // A new group: nothing is written yet.
  void begin_group();
  // A threadgroup barrier: every earlier write is visible to every thread.
  void barrier();
  // A warp barrier in each warp of `active`: earlier writes by its threads are visible to them.
  void warp_barrier(ActiveLanes active);

  // ArrayLoad, ArrayStore, AtomicArray over the active lanes (bounds, written and race checks;
  // a failed check throws the error of the first failing lane, in lane order). A store checks
  // every index before it writes. Atomics apply in lane order and return the old values.
  void load(const Instr& in, ActiveLanes active, const Scalar* index, Scalar* out,
            const ThreadLocator& where);
  void store(const Instr& in, ActiveLanes active, const Scalar* index, const Scalar* value,
             const ThreadLocator& where);
  void atomic(const Instr& in, ActiveLanes active, const Scalar* index, const Scalar* value,
              Scalar* out, const ThreadLocator& where);

  // Element `element` of lane's per-thread array in.array (element < the array's size), for
  // vector access: read checks that the thread wrote it, write records that it did.
  Scalar read_thread(const Instr& in, std::uint32_t element, Lane lane, const ThreadLocator& where);
  // The same for element `element` of a fragment's array (Mma, LoadMatrix).
  Scalar read_thread(const Instr& in, ArrayId array, std::uint32_t element, Lane lane,
                     const ThreadLocator& where);
  void write_thread(const Instr& in, ArrayId array, std::uint32_t element, Lane lane, Scalar value,
                    const ThreadLocator& where);
  // write_thread without the in-flight check: a warpgroup MMA writing its own D.
  void write_accumulator(ArrayId array, std::uint32_t element, Lane lane, Scalar value);

  // Element `element` of threadgroup array `array`, read by `lane` with every check a load
  // makes (bounds, written, races, a pending asynchronous copy): LoadMatrix's rows.
  Scalar read_shared(const Instr& in, ArrayId array, std::int64_t element, Lane lane,
                     const ThreadLocator& where);

  // Asynchronous copies (CopyAsync). write_async stores `value` into in.array[element] for
  // `lane` at once but marks it pending: until the lane's wait retires its group, any read of
  // it, and any other thread's write, is a race. commit closes the lane's open copies into a
  // group; wait retires its oldest groups until `pending` remain, and each retired element
  // counts as written by the lane at the wait (other threads see it after a barrier).
  void write_async(const Instr& in, std::int64_t element, Lane lane, Scalar value,
                   const ThreadLocator& where);
  void commit_async(Lane lane);
  void wait_async(Lane lane, std::uint32_t pending);

  // Bulk copies (BulkTensorLoad): write_bulk stores `value` into in.array[element] at once,
  // written by the asynchronous proxy for `issuer` and counted on `phase` of the barrier in
  // `slot`. Until a thread has seen that phase complete (an async_barrier_wait), its reads and
  // writes of the element are races; a later bulk copy into it must wait for the phase to
  // complete, and none may land on an element an in-flight warpgroup MMA reads. Other threads'
  // plain reads of the element before the copy are not checked (no barrier orders a copy).
  void write_bulk(const Instr& in, std::int64_t element, Lane issuer, Scalar value,
                  std::uint32_t slot, std::uint64_t phase, const ThreadLocator& where);

  // Warpgroup MMAs in flight (backends/cpu/warpgroup.hpp marks and retires them). While an
  // accumulator register is marked, any other op that reads or writes it is an error; while a
  // threadgroup element is marked as read, a write to it is a race. Marks count, so several
  // MMAs may read one element.
  void mark_in_flight_register(ArrayId array, std::uint32_t element, Lane lane, bool busy);
  void mark_in_flight_read(ArrayId array, std::int64_t element, int delta);
  // fence_async_shared by each lane of `active`: the lane's earlier writes of threadgroup
  // memory become visible to the asynchronous proxy (warpgroup MMA operand reads).
  void fence_async_shared(ActiveLanes active);
  // Whether the last write of in.array[element] (threadgroup) was followed by a
  // fence_async_shared of its writer; if not, returns false and sets `writer`.
  bool fenced_for_async(ArrayId array, std::int64_t element, Lane& writer) const;

  // read_thread without the in-flight check: a warpgroup MMA accumulating into its own D.
  Scalar read_accumulator(const Instr& in, ArrayId array, std::uint32_t element, Lane lane,
                          const ThreadLocator& where);

 private:
  struct Layout {
    MemorySpace space = MemorySpace::Threadgroup;
    std::uint32_t size = 0;
    std::size_t offset = 0;  // into shared_ (elements) or thread_ (elements x lanes)
  };
  // What the race and written checks know about one threadgroup element.
  struct Cell {
    std::uint64_t epoch = 0;          // of the last write; before the group's first: unwritten
    std::uint64_t warp_epoch = 0;     // the writer's warp epoch at that write
    Lane writer = 0;                  // the last thread to write it
    std::uint64_t writer_fences = 0;  // the writer's fence_async_shared count at that write
    bool atomic = false;              // every write in `epoch` was atomic
    bool many = false;                // several threads wrote it atomically in `epoch`
    // Written by a bulk copy (the asynchronous proxy): ordered by its barrier's phase
    // (bulk_slot - 1, bulk_phase), which readers must have seen complete, not by epochs.
    std::uint32_t bulk_slot = 0;
    std::uint64_t bulk_phase = 0;
    // Plain reads in `read_epoch` (none since the last barrier unless it is the current one).
    // Enough to name, for any writer, a reader it races with: `reader` and `other_reader` are
    // equal when one thread read it, two distinct readers of one warp when several of that
    // warp did, and readers in two warps when threads of several warps did.
    Lane reader = 0;
    Lane other_reader = 0;
    std::uint64_t read_epoch = 0;
    std::uint64_t read_warp_epoch = 0;  // one warp's readers: its warp epoch at their reads
  };

  // Whether `lane` accessing cell c conflicts with a write by another thread since the last
  // barrier. `atomic`: the access is an atomic (which conflicts only with plain writes).
  bool conflicts(const Cell& c, Lane lane, bool atomic) const;
  // Records a write by `lane` (which does not conflict).
  void record_write(Cell& c, Lane lane, bool atomic);
  // A thread whose plain read of cell c since the last barrier a write by `lane` races with;
  // `lane` itself when there is none.
  Lane racing_reader(const Cell& c, Lane lane) const;
  // Records a plain read by `lane`.
  void record_read(Cell& c, Lane lane) const;
  std::size_t thread_slot(const Layout& a, std::int64_t element, Lane lane) const {
    return a.offset + static_cast<std::size_t>(element) * lanes_ + lane;
  }
  // Bounds-checks every active lane's index.
  void check_indices(const Instr& in, ActiveLanes active, const Scalar* index,
                     const ThreadLocator& where) const;

  const Kernel* k_ = nullptr;
  const BarrierPhases* phases_ = nullptr;
  std::size_t lanes_ = 0;
  std::vector<Layout> layout_;                 // by ArrayId
  std::vector<Scalar> shared_;                 // threadgroup arrays, one after another
  std::vector<Cell> cells_;                    // beside shared_
  std::vector<Scalar> thread_;                 // per-thread arrays, element-major: [element][lane]
  std::vector<std::uint64_t> thread_written_;  // epoch of each thread_ element's last write
  std::vector<std::uint64_t> warp_epochs_;     // by warp; bumped by warp barriers
  std::vector<std::uint64_t> async_fences_;    // by lane; bumped by fence_async_shared
  std::uint64_t epoch_ = 0;
  std::uint64_t group_start_ = 0;  // the current group's first epoch
  // Asynchronous copies in flight: beside shared_, 0 or the copying lane + 1; per lane, the
  // cells of its open copies and of its committed groups (oldest first).
  std::vector<Lane> pending_;
  std::vector<std::vector<std::size_t>> open_copies_;
  std::vector<std::deque<std::vector<std::size_t>>> copy_groups_;
  // A read or a foreign write of a cell whose asynchronous copy is not waited for.
  void check_not_pending(const Instr& in, ArrayId array, std::int64_t element, std::size_t cell,
                         Lane lane, bool write, const ThreadLocator& where) const;
  // Warpgroup MMAs in flight: per thread_ slot, whether one writes it; per shared_ cell, how
  // many read it.
  std::vector<std::uint8_t> register_in_flight_;
  std::vector<std::uint32_t> read_in_flight_;
  void check_register_idle(const Instr& in, ArrayId array, std::int64_t element, std::size_t slot,
                           Lane lane, const ThreadLocator& where) const;
  void check_not_read_in_flight(const Instr& in, ArrayId array, std::int64_t element,
                                std::size_t cell, Lane lane, const ThreadLocator& where) const;
};

}  // namespace mt::cpu
