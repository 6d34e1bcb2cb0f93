// Lane numbering, thread coordinates in messages, mask filtering and reusable lane storage.
#include "backends/cpu/lanes.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace mt::cpu {
namespace {

TEST(Lanes, GeometryNumbersLanesXFastest) {
  const LaneGeometry g({3, 2, 2});
  ASSERT_EQ(g.lanes(), 12u);
  Lane lane = 0;
  for (std::uint32_t z = 0; z < 2; ++z) {
    for (std::uint32_t y = 0; y < 2; ++y) {
      for (std::uint32_t x = 0; x < 3; ++x, ++lane) {
        EXPECT_EQ(g.local(lane, 0), x) << "lane " << lane;
        EXPECT_EQ(g.local(lane, 1), y) << "lane " << lane;
        EXPECT_EQ(g.local(lane, 2), z) << "lane " << lane;
      }
    }
  }
  const std::vector<Lane> all(g.all().begin(), g.all().end());
  EXPECT_EQ(all, (std::vector<Lane>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
}

TEST(Lanes, LocatorGivesGlobalThreadAndGroup) {
  const LaneGeometry g({4, 2, 1});
  const ThreadLocator where(g, {3, 1, 2});
  // lane 6 is (2,1,0) in its group
  EXPECT_EQ(where.global_thread(6), (std::array<std::uint32_t, 3>{14, 3, 2}));
  EXPECT_EQ(where.describe(6), "thread (14,3,2) of threadgroup (3,1,2)");
  EXPECT_EQ(format_axes({1, 22, 333}), "(1,22,333)");
}

TEST(Lanes, FilterAndRetainKeepOrder) {
  const std::vector<Lane> active{1, 2, 4, 5, 7, 8};
  std::vector<Lane> out{99, 98};
  filter_lanes(active, out, [](Lane l) { return l % 2 == 0; });
  EXPECT_EQ(out, (std::vector<Lane>{2, 4, 8}));
  std::vector<Lane> live = active;
  retain_lanes(live, [](Lane l) { return l > 4; });
  EXPECT_EQ(live, (std::vector<Lane>{5, 7, 8}));
  retain_lanes(live, [](Lane) { return false; });
  EXPECT_TRUE(live.empty());
}

TEST(Lanes, RowsAreDistinctAndSurviveAReset) {
  LaneRows rows;
  rows.reset(3, 4);
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t l = 0; l < 4; ++l) rows.row(r)[l] = Scalar::of_int(10 * r + l);
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t l = 0; l < 4; ++l) EXPECT_EQ(rows.row(r)[l].i, 10 * r + l);
  // A smaller table reuses the storage; rows are laid out for the new lane count.
  rows.reset(2, 2);
  EXPECT_EQ(rows.lanes(), 2u);
  EXPECT_EQ(rows.row(1), rows.row(0) + 2);
}

TEST(Lanes, MaskLevelsAreIndependent) {
  MaskStack masks;
  masks.reset(2, 8);
  masks.level(0) = {1, 2, 3};
  masks.level(1) = {5};
  EXPECT_EQ(masks.level(0), (std::vector<Lane>{1, 2, 3}));
  EXPECT_EQ(masks.level(1), (std::vector<Lane>{5}));
  masks.reset(3, 8);
  EXPECT_TRUE(masks.level(0).empty());
  EXPECT_TRUE(masks.level(2).empty());
}

}  // namespace
}  // namespace mt::cpu
