// The interpreter's asynchronous barriers: each barrier's arrival and transaction-byte counts
// and the phases it has completed, which phases each thread has seen complete through a wait
// (what makes bulk-copied data readable for it), and the misuse it reports. The group runs in
// lockstep, so a wait whose phase has not completed when it is reached can never complete:
// it is reported, naming the barrier, instead of hanging.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/cpu/lanes.hpp"
#include "metaltile/core/kernel.hpp"

namespace mt::cpu {

class BarrierPhases {
 public:
  // For groups of `lanes` threads of kernel k (its async barrier sets).
  void reset(const Kernel& k, std::size_t lanes);
  // A new group: no barrier is initialised.
  void begin_group();
  // The group's body has ended: a barrier still owed transaction bytes (a bulk copy whose
  // phase never completed) is an error naming it.
  void end_group(const Kernel& k, const ThreadLocator& where) const;

  // The slot of barrier `index` of set `set` for `lane`, checked: inside the set and
  // initialised, and, for a thread other than the initialising one, not in the epoch of the
  // init (a barrier() must publish it). `epoch` is the array memory's current epoch.
  std::uint32_t slot(const Kernel& k, const Instr& in, std::int64_t index, Lane lane,
                     std::uint64_t epoch, const ThreadLocator& where) const;

  // AsyncBarrierInit for each active lane (one thread normally); `epoch` as above.
  void init(const Kernel& k, const Instr& in, ActiveLanes active, const Scalar* index,
            std::uint64_t epoch, const ThreadLocator& where);
  // AsyncBarrierArrive (bytes == nullptr) or AsyncBarrierExpect, lane by lane in lane order.
  void arrive(const Kernel& k, const Instr& in, ActiveLanes active, const Scalar* index,
              const Scalar* bytes, std::uint64_t epoch, const ThreadLocator& where);
  // AsyncBarrierWait: each lane's phase of `parity` must have completed (else the error says
  // what the phase still lacks); the lane has then seen every phase completed so far.
  void wait(const Kernel& k, const Instr& in, ActiveLanes active, const Scalar* index,
            const Scalar* parity, std::uint64_t epoch, const ThreadLocator& where);

  // A bulk copy of `bytes` on `slot` has landed: its bytes count towards the current phase.
  void complete_bytes(std::uint32_t slot, std::uint32_t bytes);
  // The phase the barrier in `slot` is in (the number of phases it has completed).
  std::uint64_t phase(std::uint32_t slot) const { return barriers_[slot].completed; }
  // Whether `phase` of the barrier in `slot` has completed, and whether `lane` has seen it
  // complete (a wait that returned after it).
  bool has_completed(std::uint32_t slot, std::uint64_t phase) const {
    return barriers_[slot].completed > phase;
  }
  bool has_seen(Lane lane, std::uint32_t slot, std::uint64_t phase) const {
    return seen_[std::size_t{lane} * slots_ + slot] > phase;
  }
  // "full[2]": the barrier in `slot`, for messages.
  std::string slot_name(std::uint32_t slot) const;

 private:
  struct Barrier {
    bool initialised = false;
    Lane initialiser = 0;
    std::uint64_t init_epoch = 0;
    std::uint32_t arrivals = 0;   // expected a phase
    std::int64_t pending = 0;     // arrivals still missing from the current phase
    std::int64_t bytes = 0;       // transaction bytes expected and not yet delivered
    std::uint64_t completed = 0;  // phases completed
  };
  // Completes the current phase if its arrivals and bytes are in.
  void try_complete(Barrier& b);

  const Kernel* k_ = nullptr;
  std::vector<std::uint32_t> first_slot_;  // by AsyncBarrierId
  std::vector<std::uint32_t> set_of_;      // by slot: its AsyncBarrierId index
  std::uint32_t slots_ = 0;
  std::vector<Barrier> barriers_;    // by slot
  std::vector<std::uint64_t> seen_;  // [lane][slot]: phases the lane has seen complete
};

}  // namespace mt::cpu
