// Lane tables, thread coordinates and mask storage for the lockstep interpreter.
#include "backends/cpu/lanes.hpp"

#include "metaltile/core/error.hpp"

namespace mt::cpu {

void LaneRows::reset(std::size_t rows, std::size_t lanes) {
  lanes_ = lanes;
  if (data_.size() < rows * lanes) data_.resize(rows * lanes);
}

LaneGeometry::LaneGeometry(std::array<std::uint32_t, 3> tpg) : tpg_(tpg) {
  MT_ASSERT(tpg[0] > 0 && tpg[1] > 0 && tpg[2] > 0) << "empty threadgroup";
  const std::size_t n = std::size_t{tpg[0]} * tpg[1] * tpg[2];
  for (auto& axis : local_) axis.resize(n);
  all_.resize(n);
  for (std::size_t lane = 0; lane < n; ++lane) {
    local_[0][lane] = static_cast<std::uint32_t>(lane % tpg[0]);
    local_[1][lane] = static_cast<std::uint32_t>(lane / tpg[0] % tpg[1]);
    local_[2][lane] = static_cast<std::uint32_t>(lane / (std::size_t{tpg[0]} * tpg[1]));
    all_[lane] = static_cast<Lane>(lane);
  }
}

std::array<std::uint32_t, 3> ThreadLocator::global_thread(Lane lane) const {
  std::array<std::uint32_t, 3> out{};
  for (int a = 0; a < 3; ++a) out[a] = group_[a] * geometry_->tpg()[a] + geometry_->local(lane, a);
  return out;
}

std::string ThreadLocator::describe(Lane lane) const {
  return "thread " + format_axes(global_thread(lane)) + " of threadgroup " + format_axes(group_);
}

void MaskStack::reset(std::size_t depth, std::size_t lanes) {
  levels_.resize(depth);
  for (auto& level : levels_) {
    level.clear();
    level.reserve(lanes);
  }
}

}  // namespace mt::cpu
