// sample's draws against the oracle's filtered distribution on every backend, on both paths:
// rows of one set of logits, each with its own Philox counter, never leave the filtered set, and
// their counts pass a chi-square test (p > 1e-3): 20000 draws on CUDA, a few hundred on the
// interpreter.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/ffai/sampling_oracle.hpp"
#include "kernels/ffai/sampling_requests.hpp"
#include "support/backends.hpp"

namespace {

using mt::DType;
using namespace mt::test::sampling;  // NOLINT: the requests and the oracle

// Rows of one set of logits, each with its own counter: every token drawn lies in the filtered
// set, and the counts match the oracle's probabilities (chi-square, p > 1e-3, tokens expected
// fewer than 5 times pooled into one cell). CUDA draws 20000 times; the interpreter, which
// needs ~10 ms a draw, `cpu_draws`.
void check_distribution(const mt::Context& ctx, DType t, const std::vector<float>& row,
                        const std::vector<std::uint32_t>& penalty, const Request& r,
                        std::size_t cpu_draws) {
  const Distribution expected = filtered(row, penalty, r.filters);
  ASSERT_GT(expected.margin, 1e-3) << "a cut too close to call in f32: choose other filters";
  const std::size_t draws = ctx.backend() == mt::Backend::Cuda ? 20000 : cpu_draws;
  std::vector<std::uint32_t> penalties;
  for (std::size_t i = 0; i < draws; ++i)
    penalties.insert(penalties.end(), penalty.begin(), penalty.end());
  const std::vector<std::uint32_t> got = sample(ctx, r, t, repeat(row, draws), draws, penalties);
  std::map<std::uint32_t, std::size_t> counts;
  for (std::uint32_t token : got) ++counts[token];
  std::map<std::uint32_t, double> p;
  for (std::size_t j = 0; j < expected.tokens.size(); ++j)
    p[expected.tokens[j]] = expected.probability[j];
  for (const auto& drawn : counts) {
    ASSERT_EQ(p.count(drawn.first), 1u)
        << "token " << drawn.first << " is outside the filtered set";
  }
  // Cells: each token expected at least 5 times, the rest pooled.
  double chi2 = 0.0, pooled_expected = 0.0, pooled_observed = 0.0;
  std::size_t cells = 0;
  for (const auto& [token, prob] : p) {
    const double e = prob * double(draws);
    const double o = counts.count(token) ? double(counts[token]) : 0.0;
    if (e < 5.0) {
      pooled_expected += e;
      pooled_observed += o;
      continue;
    }
    chi2 += (o - e) * (o - e) / e;
    ++cells;
  }
  if (pooled_expected > 0.0) {
    chi2 +=
        (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) / pooled_expected;
    ++cells;
  }
  if (cells > 1) {
    EXPECT_GT(chi_square_p_value(chi2, double(cells - 1)), 1e-3)
        << "chi2 " << chi2 << " over " << cells << " cells, " << draws << " draws";
  }
}

TEST(Sample, DrawsFollowTheFilteredDistribution) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    // The interpreter checks f32 logits only (the dtype changes only how logits are read).
    const std::vector<DType> dtypes = ctx.backend() == mt::Backend::Cuda
                                          ? std::vector<DType>{DType::F32, DType::F16, DType::BF16}
                                          : std::vector<DType>{DType::F32};
    for (DType t : dtypes) {
      const std::vector<std::uint32_t> penalty = {3, 17, 17, 40};
      struct Case {
        const char* what;
        Filters f;
        std::size_t cpu_draws;
        std::uint32_t vocab = 48;
      };
      for (const Case& c : {
               Case{"top-k", {.temperature = 1.0f, .top_k = 12}, 200},
               Case{"top-k + top-p + penalty",
                    {.temperature = 0.8f, .top_k = 20, .top_p = 0.9f, .repetition_penalty = 1.3f},
                    400},
               Case{"top-k + min-p", {.temperature = 1.2f, .top_k = 30, .min_p = 0.05f}, 200},
               Case{"temperature only (radix path)", {.temperature = 1.0f}, 800},
               Case{"top-p + min-p (radix path)",
                    {.temperature = 0.9f,
                    .top_p = 0.85f,
                    .min_p = 0.02f,
                    .repetition_penalty = 1.2f},
                    200},
               // Rows of two segments: the segment kernels.
               Case{"top-p (radix path, 2 segments)",
                    {.temperature = 0.5f, .top_p = 0.8f},
                    150,
                    3000},
           }) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + c.what);
        const std::vector<float> row = model_row(c.vocab, 21, t);
        check_distribution(ctx, t, row, penalty, Request{c.vocab, c.f, 0xC0FFEEu, 0x12345u, 99},
                           c.cpu_draws);
      }
    }
  });
}

// The p-value the test relies on, at textbook points (the 5 % and 0.1 % critical values).
TEST(ChiSquare, PValuesAtKnownPoints) {
  EXPECT_NEAR(chi_square_p_value(3.841, 1), 0.05, 1e-4);
  EXPECT_NEAR(chi_square_p_value(18.307, 10), 0.05, 1e-4);
  EXPECT_NEAR(chi_square_p_value(29.588, 10), 0.001, 1e-5);
  EXPECT_NEAR(chi_square_p_value(124.342, 100), 0.05, 1e-4);
  EXPECT_EQ(chi_square_p_value(0.0, 4), 1.0);
}

}  // namespace
