// Per-thread state of one threadgroup for the lockstep interpreter: value rows (one mt::Scalar
// per thread), thread coordinates, and active-thread masks held as lists of active lanes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "metaltile/core/launch_dims.hpp"
#include "metaltile/core/scalar.hpp"

namespace mt::cpu {

// A lane is one thread of the group, numbered x fastest: lane = x + tpg.x * (y + tpg.y * z).
using Lane = std::uint32_t;

// Warps are runs of 32 consecutive lanes: lane_id = lane % 32, warp_id = lane / 32. The last
// warp of a group whose size is not a multiple of 32 has fewer threads.
constexpr Lane kWarpSize = 32;

// The active-thread mask: the lanes that execute the current block, in increasing order.
// A list rather than a bitmap so that a sparse mask costs only its active lanes.
using ActiveLanes = std::span<const Lane>;

// A table of rows, each holding one Scalar per lane (SSA values, or locals). Storage is kept
// across resets, so a launch allocates once and reuses it for every group.
class LaneRows {
 public:
  // rows x lanes values. Their contents are left as they were: SSA values are written before
  // they are read, and locals carry their own written flags, so clearing would be wasted work.
  void reset(std::size_t rows, std::size_t lanes);
  Scalar* row(std::size_t r) { return data_.data() + r * lanes_; }
  const Scalar* row(std::size_t r) const { return data_.data() + r * lanes_; }
  std::size_t lanes() const { return lanes_; }

 private:
  std::vector<Scalar> data_;
  std::size_t lanes_ = 0;
};

// Where each lane sits inside its threadgroup, per axis.
class LaneGeometry {
 public:
  explicit LaneGeometry(std::array<std::uint32_t, 3> tpg);
  std::size_t lanes() const { return local_[0].size(); }
  std::array<std::uint32_t, 3> tpg() const { return tpg_; }
  // The thread index within the group on `axis` (CUDA threadIdx).
  std::uint32_t local(Lane lane, int axis) const { return local_[axis][lane]; }
  // Every lane, in order: the mask of a whole group.
  ActiveLanes all() const { return all_; }

 private:
  std::array<std::uint32_t, 3> tpg_;
  std::array<std::vector<std::uint32_t>, 3> local_;
  std::vector<Lane> all_;
};

// Where the lanes of one threadgroup sit in the launch; names a thread in error messages.
class ThreadLocator {
 public:
  ThreadLocator(const LaneGeometry& geometry, std::array<std::uint32_t, 3> group)
      : geometry_(&geometry), group_(group) {}
  std::array<std::uint32_t, 3> group() const { return group_; }
  // The global thread index per axis: group * tpg + local index.
  std::array<std::uint32_t, 3> global_thread(Lane lane) const;
  // "thread (12,0,0) of threadgroup (3,0,0)", with global thread indices.
  std::string describe(Lane lane) const;

 private:
  const LaneGeometry* geometry_;
  std::array<std::uint32_t, 3> group_;
};

// Storage for the masks of nested control flow: level d holds the mask an If or For at
// nesting depth d hands to its blocks. Blocks at depth d only write levels >= d, so a level is
// reused by sibling ops and by every iteration of a loop without allocating.
class MaskStack {
 public:
  void reset(std::size_t depth, std::size_t lanes);
  std::vector<Lane>& level(std::size_t d) { return levels_[d]; }

 private:
  std::vector<std::vector<Lane>> levels_;
};

// Keeps the lanes of `lanes` for which keep(lane) holds, in place, preserving order.
template <class Pred>
void retain_lanes(std::vector<Lane>& lanes, Pred keep) {
  std::size_t n = 0;
  for (Lane lane : lanes) {
    if (keep(lane)) lanes[n++] = lane;
  }
  lanes.resize(n);
}

// Writes into `out` the lanes of `active` for which keep(lane) holds, preserving order.
template <class Pred>
void filter_lanes(ActiveLanes active, std::vector<Lane>& out, Pred keep) {
  out.clear();
  for (Lane lane : active) {
    if (keep(lane)) out.push_back(lane);
  }
}

}  // namespace mt::cpu
