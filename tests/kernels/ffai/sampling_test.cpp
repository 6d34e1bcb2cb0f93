// sample x {f32, f16, bf16} on every backend, on both of its paths (the two-kernel path for
// 1 <= top_k <= 128 or temperature 0; the radix path otherwise, sampling_radix_test.cpp): the
// deterministic limits are the argmax (temperature 0, top_k 1, a tiny top_p); many draws of one row
// (rows of the same logits, each its own Philox counter) never leave the oracle's filtered set and
// match its distribution (sampling_distribution_test.cpp); the repetition penalty divides positive
// logits, multiplies negative ones and counts an id once; fixed seeds give a fixed list of tokens
// (the same on every backend); every contract and a penalty id past the vocabulary are mt::Errors
// naming the kernel.
#include "metaltile/kernels/ffai/sampling.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../../../kernels/ffai/sampling_params.hpp"
#include "kernels/ffai/sampling_oracle.hpp"
#include "kernels/ffai/sampling_requests.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
using namespace mt::test::sampling;  // NOLINT: the requests and the oracle
namespace oracle = mt::test::sampling;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

// The two paths: top_k within the two-kernel path's reach, and off (the radix path).
const std::uint32_t kTopKs[] = {20, 0};

TEST(Sample, GreedyIsTheArgmaxLowestIndexOnTies) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (std::uint32_t vocab : {1u, 7u, 300u, 2100u}) {
        for (std::uint32_t top_k : kTopKs) {
          SCOPED_TRACE(std::string(mt::name_of(t)) + " V" + std::to_string(vocab) + " top_k " +
                       std::to_string(top_k));
          Request r{vocab, {.temperature = 0.0f, .top_k = top_k}, 1, 2, 3};
          std::vector<float> logits;
          for (std::uint32_t row = 0; row < 3; ++row) {
            std::vector<float> x = mt::test::rows::random_values(vocab, 40 + row, t, -3.0f, 3.0f);
            if (row == 1 && vocab > 5) x[vocab - 1] = x[2] = 9.0f;         // a tie: index 2 wins
            if (row == 2 && vocab > 5) x[4] = std::nanf(""), x[1] = 8.0f;  // NaN never wins
            logits.insert(logits.end(), x.begin(), x.end());
          }
          const std::vector<std::uint32_t> got = sample(ctx, r, t, logits, 3);
          for (std::uint32_t row = 0; row < 3; ++row) {
            const std::vector<float> x(logits.begin() + row * vocab,
                                       logits.begin() + (row + 1) * vocab);
            EXPECT_EQ(got[row], oracle::argmax(x)) << "row " << row;
          }
        }
      }
    }
  });
}

// top_k = 1 and a top_p too small for a second token both leave only the argmax.
TEST(Sample, DeterministicLimitsEqualTheArgmax) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      const std::uint32_t vocab = 500;
      const std::vector<float> row = model_row(vocab, 3, t);
      const std::uint32_t best = oracle::argmax(row);
      for (const oracle::Filters& f :
           {oracle::Filters{.temperature = 1.5f, .top_k = 1},
            oracle::Filters{.temperature = 1.0f, .top_k = 0, .top_p = 1e-6f},
            oracle::Filters{.temperature = 0.7f, .top_k = 40, .top_p = 1e-6f},
            oracle::Filters{.temperature = 1.0f, .top_k = 0, .min_p = 1.0f}}) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " top_k " + std::to_string(f.top_k));
        const Request r{vocab, f, 11, 0, 0};
        for (std::uint32_t token : sample(ctx, r, t, repeat(row, 4), 4)) EXPECT_EQ(token, best);
      }
    }
  });
}

// A larger vocabulary, so that the two-kernel path has 20 slices in 3 groups (runs shorter than
// keep merge whole before they are cut), one slice whose every report makes the cut (it holds
// most of the top-k: its unreported logits must be gathered), and ties at the cut (bf16 logits
// repeat).
constexpr std::uint32_t kCrowdedVocab = 5000;

std::vector<float> crowded_row(DType t) {
  std::vector<float> row = model_row(kCrowdedVocab, 5, t);
  for (std::uint32_t i = 512; i < 560; ++i) row[i] = mt::round_to(t, 2.5f + 0.01f * float(i % 7));
  return row;
}

TEST(Sample, ManySlicesStayInsideTheFilteredSet) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      const std::vector<float> row = crowded_row(t);
      for (std::uint32_t top_k : {1u, 8u, 50u, 128u}) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " top_k " + std::to_string(top_k));
        const Request r{kCrowdedVocab, {.temperature = 1.0f, .top_k = top_k}, 5, 6, 7};
        const oracle::Distribution expected = oracle::filtered(row, {}, r.filters);
        const std::set<std::uint32_t> allowed(expected.tokens.begin(), expected.tokens.end());
        for (std::uint32_t token : sample(ctx, r, t, repeat(row, 8), 8)) {
          EXPECT_EQ(allowed.count(token), 1u) << "token " << token;
        }
      }
    }
  });
}

// The kept set is the exact top-k, not just inside it: at a temperature that makes the top 16
// (6 strong tokens and 10 of the crowded slice) nearly equally likely, 150 draws show all 16
// (with these seeds; any token is missed with probability < 1e-2).
TEST(Sample, TheTopKIsComplete) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const std::vector<float> row = crowded_row(t);
    const Request r{kCrowdedVocab, {.temperature = 1000.0f, .top_k = 16}, 9, 8, 7};
    const oracle::Distribution expected = oracle::filtered(row, {}, r.filters);
    ASSERT_EQ(expected.tokens.size(), 16u);
    const std::vector<std::uint32_t> got = sample(ctx, r, t, repeat(row, 150), 150);
    EXPECT_EQ(std::set<std::uint32_t>(got.begin(), got.end()),
              std::set<std::uint32_t>(expected.tokens.begin(), expected.tokens.end()));
  });
}

// Many groups of slices (V = 20000: 79 slices, 10 runs of 32 reports for top_k 64), so that
// sample_pick merges its runs over four levels: every row's token is the oracle's, drawn in rank
// order, which it is only if the merged top 64 are the row's, in order. The flat temperature
// spreads the mass over the whole top 64, so a lost or misplaced entry changes most tokens.
// Rows 1 and 2 crowd 60 strong logits into the vocabulary's end and start, so that one side of
// a merge holds more than half of the top 64.
TEST(Sample, ManyRunsMergeToTheExactTopK) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::uint32_t vocab = 20000, rows = 6;
    const Request r{vocab, {.temperature = 4.0f, .top_k = 64}, 11, 12, 13};
    std::vector<float> logits;
    std::vector<std::uint32_t> expected;
    for (std::uint32_t row = 0; row < rows; ++row) {
      std::vector<float> x = model_row(vocab, 300 + row, DType::F32);
      const std::uint32_t crowd_start = row == 1 ? 16400 : 0;
      for (std::uint32_t j = 0; (row == 1 || row == 2) && j < 60; ++j) {
        x[crowd_start + 53 * j] = 2.5f + 0.01f * float(j % 17);
      }
      logits.insert(logits.end(), x.begin(), x.end());
      expected.push_back(oracle::draw(x, {}, r.filters, r.seed_lo, r.seed_hi, r.offset, row,
                                      oracle::DrawOrder::Rank));
    }
    EXPECT_EQ(sample(ctx, r, DType::F32, logits, rows), expected);
  });
}

// top_k above the two-kernel path's reach: the radix path finds the k-th logit by histograms
// of the order keys (and top-p's cut after it). With every logit equal, the top 150 are exactly the
// indices below 150 (ties broken by index): a cut by value alone would keep all 400.
TEST(Sample, LargeTopKOnTheOneKernelPath) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::size_t draws = ctx.backend() == mt::Backend::Cuda ? 2000 : 8;
    const std::uint32_t vocab = 400;
    const Request flat{vocab, {.temperature = 1.0f, .top_k = 150}, 3, 1, 4};
    for (std::uint32_t token :
         sample(ctx, flat, DType::BF16, repeat(std::vector<float>(vocab, 1.0f), draws), draws)) {
      EXPECT_LT(token, 150u);
    }
    const std::vector<float> row = model_row(vocab, 17, DType::F32);
    for (const oracle::Filters& f :
         {oracle::Filters{.temperature = 2.0f, .top_k = 150},
          oracle::Filters{.temperature = 1.0f, .top_k = 200, .top_p = 0.8f}}) {
      SCOPED_TRACE("top_k " + std::to_string(f.top_k));
      const oracle::Distribution expected = oracle::filtered(row, {}, f);
      ASSERT_GT(expected.margin, 1e-3);
      const std::set<std::uint32_t> allowed(expected.tokens.begin(), expected.tokens.end());
      for (std::uint32_t token :
           sample(ctx, Request{vocab, f, 3, 1, 4}, DType::F32, repeat(row, draws), draws)) {
        EXPECT_EQ(allowed.count(token), 1u) << "token " << token;
      }
    }
  });
}

TEST(Sample, RepetitionPenaltyDividesMultipliesAndCountsOnce) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (std::uint32_t top_k : kTopKs) {
      const Request r{4, {.temperature = 0.0f, .top_k = top_k, .repetition_penalty = 1.2f}};
      // 2 / 1.2 = 1.67 still beats 1.5; penalised twice (2 / 1.44 = 1.39) it would not.
      EXPECT_EQ(sample(ctx, r, DType::F32, {2.0f, 1.5f, -3.0f, 0.0f}, 1, {0, 0}),
                std::vector<std::uint32_t>{0});
      // -1 * 1.2 = -1.2 falls below -1.1.
      EXPECT_EQ(sample(ctx, r, DType::F32, {-1.0f, -1.1f, -3.0f, -2.0f}, 1, {0, 2}),
                std::vector<std::uint32_t>{1});
      // Rows have their own ids.
      EXPECT_EQ(sample(ctx, r, DType::F32, {2.0f, 1.9f, 0.0f, 0.0f, 2.0f, 1.9f, 0.0f, 0.0f}, 2,
                       {0, 3, 3, 2}),
                (std::vector<std::uint32_t>{1, 0}));
    }
  });
}

// Fixed seeds and offsets give these tokens on every backend, and they are the host oracle's
// (sampling_oracle.hpp's draw: the two-kernel path draws in rank order, the radix path in index
// order).
TEST(Sample, FixedSeedsGiveTheSameTokensOnEveryBackend) {
  const std::uint32_t vocab = 1000;
  std::vector<float> logits;
  std::vector<std::vector<float>> rows;
  for (std::uint32_t row = 0; row < 6; ++row) {
    rows.push_back(model_row(vocab, 100 + row, DType::BF16));
    logits.insert(logits.end(), rows.back().begin(), rows.back().end());
  }
  const std::vector<std::uint32_t> penalty = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const Request two_kernel{
      vocab,
      {.temperature = 0.9f, .top_k = 50, .top_p = 0.95f, .repetition_penalty = 1.1f},
      0xDEADBEEFu,
      42,
      1000};
  const Request radix{vocab, {.temperature = 1.1f, .top_p = 0.9f, .min_p = 0.01f}, 7, 0, 3};
  const std::vector<std::uint32_t> two_kernel_tokens = {612, 935, 656, 131, 131, 562};
  const std::vector<std::uint32_t> radix_tokens = {612, 479, 656, 131, 639, 166};
  for (std::uint32_t row = 0; row < 6; ++row) {
    const std::vector<std::uint32_t> ids(penalty.begin() + 2 * row, penalty.begin() + 2 * row + 2);
    EXPECT_EQ(oracle::draw(rows[row], ids, two_kernel.filters, two_kernel.seed_lo,
                           two_kernel.seed_hi, two_kernel.offset, row, oracle::DrawOrder::Rank),
              two_kernel_tokens[row]);
    EXPECT_EQ(oracle::draw(rows[row], ids, radix.filters, radix.seed_lo, radix.seed_hi,
                           radix.offset, row, oracle::DrawOrder::Index),
              radix_tokens[row]);
  }
  mt::test::for_each_backend([&](mt::Context& ctx) {
    EXPECT_EQ(sample(ctx, two_kernel, DType::BF16, logits, 6, penalty), two_kernel_tokens);
    EXPECT_EQ(sample(ctx, radix, DType::BF16, logits, 6, penalty), radix_tokens);
  });
}

// sample_candidates on two rows of 1000 logits: 4 slices in one group of 4 warps (top_k 50).
struct CandidateRequest {
  mt::kernels::ffai::sampling::CandidatePlan plan =
      mt::kernels::ffai::sampling::candidate_plan(1000, 50, 1.0f);
  std::size_t rows = 2;
  mt::BufferMap buffers(DType t) const {
    mt::BufferMap b;
    b["logits"] = mt::test::pack(repeat(model_row(1000, 7, t), rows), t);
    b["penalty_ids"] = mt::test::pack_u32(std::vector<std::uint32_t>{3, 999});
    for (const char* name : {"cand_keys", "cand_idx"}) {
      b[name] = mt::test::poisoned(rows * plan.groups * plan.run, DType::U32);
    }
    for (const char* name : {"last_keys", "last_idx"}) {
      b[name] = mt::test::poisoned(rows * plan.slices, DType::U32);
    }
    b["vocab"] = le_bytes(1000u);
    b["temperature"] = le_bytes(1.0f);
    b["n_penalty"] = le_bytes(1u);
    b["repetition_penalty"] = le_bytes(1.5f);
    b["reports"] = le_bytes(plan.reports);
    b["group_slices"] = le_bytes(plan.group_slices);
    return b;
  }
};

// A group past a row's groups (grid axis 0 over-dispatched) used to store its empty run over the
// next row's first run (and past the end for the last row). It now stores nothing: the reports
// equal those of the exact launch.
TEST(SampleCandidates, OverDispatchedGroupsWriteNothing) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const CandidateRequest r;
    ASSERT_EQ(r.plan.groups, 1u);
    const mt::Kernel k = mt::kernels::ffai::sampling::sample_candidates::kernel_ir_for(t);
    const std::array<std::size_t, 3> tpg{32 * r.plan.group_slices, 1, 1};
    const mt::DispatchResult exact =
        ctx.dispatch_with_grid(k, r.buffers(t), {}, {r.plan.groups, r.rows, 1}, tpg);
    const mt::DispatchResult over =
        ctx.dispatch_with_grid(k, r.buffers(t), {}, {r.plan.groups + 2, r.rows + 1, 1}, tpg);
    for (const char* name : {"cand_keys", "cand_idx", "last_keys", "last_idx"}) {
      EXPECT_EQ(over.outputs.at(name), exact.outputs.at(name)) << name;
    }
  });
}

// A group of fewer warps than group_slices used to leave part of its run unwritten (sorted in as
// whatever threadgroup memory held); more, or a 2-D group, is no layout the kernel knows.
TEST(SampleCandidates, GroupOtherThanAWarpPerSliceIsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const CandidateRequest r;
    const mt::Kernel k = mt::kernels::ffai::sampling::sample_candidates::kernel_ir_for(t);
    const std::size_t warps = r.plan.group_slices;
    for (const std::array<std::size_t, 3> tpg : {std::array<std::size_t, 3>{16 * warps, 1, 1},
                                                 std::array<std::size_t, 3>{64 * warps, 1, 1},
                                                 std::array<std::size_t, 3>{16 * warps, 2, 1}}) {
      mt::test::expect_mentions(mt::test::error_of([&] {
                                  ctx.dispatch_with_grid(k, r.buffers(t), {}, {1, r.rows, 1}, tpg);
                                }),
                                {"kernel 'sample_candidates'", "tpg = (32 * group_slices, 1, 1)"});
    }
    mt::test::expect_mentions(
        mt::test::error_of([&] {
          ctx.dispatch_with_grid(k, r.buffers(t), {}, {1, 1, 2}, {32 * warps, 1, 1});
        }),
        {"kernel 'sample_candidates'", "a 2-D grid"});
  });
}

TEST(Sample, ContractErrorsNameKernelAndScalar) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const std::vector<float> logits = model_row(30, 1, t);
    for (std::uint32_t top_k : kTopKs) {
      const Request r{10, {.temperature = 1.0f, .top_k = top_k}, 1, 2, 3};
      const mt::BufferMap good = buffers(r, t, logits, 3, {1, 2, 3});
      auto expect_bad = [&](const std::function<void(mt::BufferMap&)>& spoil,
                            const std::vector<std::string>& parts) {
        mt::BufferMap b = good;
        spoil(b);
        std::vector<std::string> all = parts;
        all.push_back("kernel 'sample");
        mt::test::expect_mentions(
            mt::test::error_of([&] { mt::kernels::run(ctx, "sample", t, b); }), all);
      };
      expect_bad([](mt::BufferMap& b) { b["vocab"] = le_bytes(0u); }, {"vocab > 0"});
      auto expect_len = [&](const std::function<void(mt::BufferMap&)>& spoil,
                            const std::string& param, const std::string& expected,
                            std::size_t got) {
        mt::BufferMap b = good;
        spoil(b);
        mt::test::expect_length_error(
            mt::test::error_of([&] { mt::kernels::run(ctx, "sample", t, b); }), "sample", param,
            expected, got);
      };
      expect_len([](mt::BufferMap& b) { b["vocab"] = le_bytes(7u); }, "logits", "a multiple of 7",
                 30);
      expect_len([](mt::BufferMap& b) { b["out"] = mt::test::poisoned(4, DType::U32); }, "out", "3",
                 4);
      expect_len([](mt::BufferMap& b) { b["n_penalty"] = le_bytes(2u); }, "penalty_ids", "6", 3);
      // A vocabulary within a chunk of 2^32 would wrap a logit's index (no rows: no memory).
      expect_bad(
          [](mt::BufferMap& b) {
            b["vocab"] = le_bytes(0xFFFFFFFFu - 32768u + 1u);
            for (const char* name : {"logits", "penalty_ids", "out"}) b[name].clear();
          },
          {"param 'vocab'", "vocab <= 2^32 - 1 - 32768"});
      expect_bad([](mt::BufferMap& b) { b["temperature"] = le_bytes(-1.0f); },
                 {"temperature >= 0"});
      expect_bad([](mt::BufferMap& b) { b["top_p"] = le_bytes(0.0f); }, {"0 < top_p <= 1"});
      expect_bad([](mt::BufferMap& b) { b["top_p"] = le_bytes(1.5f); }, {"0 < top_p <= 1"});
      expect_bad([](mt::BufferMap& b) { b["min_p"] = le_bytes(2.0f); }, {"0 <= min_p <= 1"});
      expect_bad([](mt::BufferMap& b) { b["repetition_penalty"] = le_bytes(0.0f); },
                 {"repetition_penalty > 0"});
      // A penalty id past the vocabulary: checked mode names penalty_ids.
      expect_bad(
          [](mt::BufferMap& b) {
            b["penalty_ids"] = mt::test::pack_u32(std::vector<std::uint32_t>{1, 10, 3});
          },
          {"param 'penalty_ids'", "10"});
      EXPECT_EQ(
          mt::test::unpack_u32(mt::kernels::run(ctx, "sample", t, good).outputs.at("out")).size(),
          3u);
    }
  });
}

}  // namespace
