// rope_frequencies against transformers: fixtures made by fixtures/make_rope_fixtures.py (inv_freq
// and attention factor of default, linear, llama3 and yarn configurations of real models) must
// match in every bit, except where torch's f32 pow is not correctly rounded, which may move an
// inv_freq by one ulp; bad parameters are mt::Errors.
#include "metaltile/kernels/ffai/rope_scaling.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "metaltile/core/error.hpp"
#include "support/errors.hpp"

namespace {

using mt::kernels::ffai::rope::parse_rope_type;
using mt::kernels::ffai::rope::rope_frequencies;
using mt::kernels::ffai::rope::RopeScaling;
using mt::kernels::ffai::rope::RopeType;

struct RopeFixture {
  const char* label;
  RopeScaling scaling;
  std::uint32_t rotary_dim;
  std::uint32_t attention_bits;
  std::vector<std::uint32_t> inv_freq_bits;
};

const std::vector<RopeFixture>& fixtures() {
  static const std::vector<RopeFixture> all = {
#include "kernels/ffai/fixtures/rope_scaling_fixtures.inc"
  };
  return all;
}

TEST(RopeScaling, MatchesTransformersForEveryType) {
  int exact_cases = 0;
  std::vector<int> types_seen(4, 0);
  for (const RopeFixture& f : fixtures()) {
    SCOPED_TRACE(f.label);
    ++types_seen[static_cast<int>(f.scaling.type)];
    const auto r = rope_frequencies(f.scaling, f.rotary_dim);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(r.attn_factor), f.attention_bits)
        << "attn_factor " << r.attn_factor;
    ASSERT_EQ(r.inv_freq.size(), f.inv_freq_bits.size());
    int differing = 0;
    for (std::size_t i = 0; i < r.inv_freq.size(); ++i) {
      const auto ours = static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(r.inv_freq[i]));
      const auto theirs = static_cast<std::int64_t>(f.inv_freq_bits[i]);
      EXPECT_LE(std::llabs(ours - theirs), 1)
          << "inv_freq[" << i << "]: " << r.inv_freq[i] << " against "
          << std::bit_cast<float>(f.inv_freq_bits[i]);
      differing += ours != theirs;
    }
    // One-ulp differences come only from pow's last bit: a handful at most.
    EXPECT_LE(differing, 4) << "of " << r.inv_freq.size();
    exact_cases += differing == 0;
  }
  for (int seen : types_seen) EXPECT_GE(seen, 2) << "every rope type has fixtures";
  EXPECT_GE(exact_cases, int(fixtures().size()) / 2) << "most cases match in every bit";
}

TEST(RopeScaling, ParsesTheTypeNames) {
  EXPECT_EQ(parse_rope_type("default"), RopeType::Default);
  EXPECT_EQ(parse_rope_type("linear"), RopeType::Linear);
  EXPECT_EQ(parse_rope_type("llama3"), RopeType::Llama3);
  EXPECT_EQ(parse_rope_type("yarn"), RopeType::Yarn);
  EXPECT_FALSE(parse_rope_type("dynamic").has_value());
  EXPECT_EQ(mt::kernels::ffai::rope::name_of(RopeType::Llama3), "llama3");
}

TEST(RopeScaling, BadParametersAreErrors) {
  auto error = [](const RopeScaling& s, std::uint32_t rotary_dim) {
    return mt::test::error_of([&] { rope_frequencies(s, rotary_dim); });
  };
  mt::test::expect_mentions(error(RopeScaling{}, 0), {"rope_frequencies", "rotary_dim", "0"});
  mt::test::expect_mentions(error(RopeScaling{}, 7), {"rotary_dim", "7"});
  mt::test::expect_mentions(error(RopeScaling{.theta = 0.0}, 8), {"theta"});
  mt::test::expect_mentions(error(RopeScaling{.type = RopeType::Linear, .factor = 0.0}, 8),
                            {"factor"});
  mt::test::expect_mentions(
      error(RopeScaling{.type = RopeType::Llama3, .low_freq_factor = 4.0, .high_freq_factor = 4.0},
            8),
      {"high_freq_factor"});
  mt::test::expect_mentions(
      error(RopeScaling{.type = RopeType::Yarn, .original_max_position_embeddings = 0.0}, 8),
      {"original_max_position_embeddings"});
  EXPECT_EQ(rope_frequencies(RopeScaling{}, 2).inv_freq, std::vector<float>{1.0f});
}

}  // namespace
