// sample's radix path (top_k 0 or > 128 with temperature > 0) on every backend: `sample` run by
// name (its own kernel for rows of one segment, the segment kernels for longer rows) draws
// exactly the oracle's token for every row and seed, and so does its own kernel dispatched on
// rows of several segments. Cases: top-p alone, plain temperature, min-p alone, large top-k with
// and without top-p, a penalty; vocabularies of 1, 2, 33, 300 (one segment) and 2049, 5000
// (two and three segments, the last partial); ties at the top-p cut, a flat row, one dominant
// logit, NaN and
// +-inf; rows that differ; a row of two penalty chunks (V 33000). Also the segment plan and the
// launches of each request.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "../../../kernels/ffai/sampling_params.hpp"
#include "kernels/ffai/sampling_oracle.hpp"
#include "kernels/ffai/sampling_requests.hpp"
#include "metaltile/kernels/ffai/sampling.hpp"
#include "metaltile/kernels/registry.hpp"
#include "support/backends.hpp"

namespace {

using mt::DType;
using namespace mt::test::sampling;  // NOLINT: the requests and the oracle
namespace s = mt::kernels::ffai::sampling;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Rows of `vocab` logits (one vector each) and their penalty ids (the same count per row).
struct Rows {
  std::uint32_t vocab = 1;
  std::vector<std::vector<float>> logits;
  std::vector<std::vector<std::uint32_t>> penalty;

  std::vector<float> flat_logits() const {
    std::vector<float> all;
    for (const auto& r : logits) all.insert(all.end(), r.begin(), r.end());
    return all;
  }
  std::vector<std::uint32_t> flat_penalty() const {
    std::vector<std::uint32_t> all;
    for (const auto& p : penalty) all.insert(all.end(), p.begin(), p.end());
    return all;
  }
};

// Every row's token from `sample` by name equals the oracle's (in index order on the radix path,
// rank order where top_k is small enough for the two-kernel path); where a row spans several
// segments, sample's own kernel dispatched directly (a group per row) gives the same tokens.
void expect_oracle_tokens(const mt::Context& ctx, const Rows& rows, const Filters& f, DType t,
                          std::uint32_t seed_lo, std::uint32_t offset) {
  const Request r{rows.vocab, f, seed_lo, 77, offset};
  const std::size_t n = rows.logits.size();
  const bool two_kernel = s::candidate_plan(rows.vocab, f.top_k, f.temperature).fits;
  std::vector<std::uint32_t> expected;
  for (std::uint32_t row = 0; row < n; ++row) {
    const std::vector<std::uint32_t> ids =
        rows.penalty.empty() ? std::vector<std::uint32_t>{} : rows.penalty[row];
    expected.push_back(draw(rows.logits[row], ids, f, seed_lo, 77, offset, row,
                            two_kernel ? DrawOrder::Rank : DrawOrder::Index));
  }
  const std::vector<float> logits = rows.flat_logits();
  const std::vector<std::uint32_t> penalty = rows.flat_penalty();
  EXPECT_EQ(sample(ctx, r, t, logits, n, penalty), expected) << "sample by name";
  const s::SegmentPlan plan = s::segment_plan(rows.vocab, n, f.top_k, f.top_p, f.temperature);
  if (!two_kernel && plan.segments > 1) {
    const mt::DispatchResult own =
        ctx.dispatch_with_grid(s::sample::kernel_ir_for(t), buffers(r, t, logits, n, penalty), {},
                               {n, 1, 1}, {s::kThreads, 1, 1});
    EXPECT_EQ(mt::test::unpack_u32(own.outputs.at("out")), expected) << "sample's own kernel";
  }
}

Rows model_rows(std::uint32_t vocab, std::size_t n, DType t, std::uint64_t seed) {
  Rows rows{vocab, {}, {}};
  for (std::size_t i = 0; i < n; ++i) rows.logits.push_back(model_row(vocab, seed + i, t));
  return rows;
}

struct Case {
  const char* what;
  Filters f;
};

const Case kCases[] = {
    {"top-p alone", {.temperature = 1.0f, .top_p = 0.9f}},
    {"temperature alone", {.temperature = 0.8f}},
    {"min-p alone", {.temperature = 1.2f, .min_p = 0.05f}},
    {"top-k 150", {.temperature = 1.5f, .top_k = 150}},
    {"top-k 200 + top-p", {.temperature = 1.0f, .top_k = 200, .top_p = 0.8f}},
    {"top-p + min-p + penalty",
     {.temperature = 0.9f, .top_p = 0.85f, .min_p = 0.02f, .repetition_penalty = 1.2f}},
};

TEST(SampleRadix, EveryFilterAndVocabularyDrawsTheOraclesToken) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (std::uint32_t vocab : {1u, 2u, 33u, 300u, 2049u, 5000u}) {
      for (const Case& c : kCases) {
        SCOPED_TRACE(std::string(c.what) + " V" + std::to_string(vocab));
        Rows rows = model_rows(vocab, 3, DType::F32, vocab);
        for (std::uint32_t row = 0; row < 3; ++row) {
          rows.penalty.push_back({row % vocab, (7 * row + 3) % vocab, (vocab - 1) / 2});
        }
        expect_oracle_tokens(ctx, rows, c.f, DType::F32, vocab + 5, 11);
      }
    }
  });
}

TEST(SampleRadix, HalfPrecisionLogits) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : {DType::F16, DType::BF16}) {
      SCOPED_TRACE(std::string(mt::name_of(t)));
      expect_oracle_tokens(ctx, model_rows(3000, 3, t, 31), {.temperature = 1.0f, .top_p = 0.9f}, t,
                           3, 4);
    }
  });
}

// bf16-like logits: a few distinct values, so the cut's key is shared by hundreds of logits and
// top-p keeps only the first n of them by index. Eight rows of the same logits, each with its
// own counter (the row is Philox's counter word 1).
TEST(SampleRadix, TiesAtTheTopPCutAreKeptInIndexOrder) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::uint32_t vocab = 3000;
    std::vector<float> row(vocab);
    for (std::uint32_t i = 0; i < vocab; ++i) row[i] = float((i * 7919u) % 4u);  // 0, 1, 2, 3
    Rows rows{vocab, std::vector<std::vector<float>>(8, row), {}};
    for (float top_p : {0.3f, 0.6f, 0.75f}) {
      SCOPED_TRACE("top_p " + std::to_string(top_p));
      const Filters f{.temperature = 1.0f, .top_p = top_p};
      const Distribution d = filtered(row, {}, f);
      // The cut falls inside a group of ties: some logits of the cut's value are left out.
      std::set<float> kept_values;
      for (std::uint32_t token : d.tokens) kept_values.insert(row[token]);
      std::size_t ties = 0;
      for (float v : row) ties += v == *kept_values.begin();
      std::size_t kept_ties = 0;
      for (std::uint32_t token : d.tokens) kept_ties += row[token] == *kept_values.begin();
      EXPECT_LT(kept_ties, ties);
      expect_oracle_tokens(ctx, rows, f, DType::F32, 9, 2);
    }
  });
}

// Every logit equal: top-p 0.5 keeps exactly the first half by index; 0.97 nearly all.
TEST(SampleRadix, FlatRow) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::uint32_t vocab = 3000;
    Rows rows{vocab, std::vector<std::vector<float>>(6, std::vector<float>(vocab, 0.5f)), {}};
    const Distribution half = filtered(rows.logits[0], {}, {.temperature = 1.0f, .top_p = 0.5f});
    EXPECT_EQ(half.tokens.size(), vocab / 2);
    EXPECT_EQ(*std::max_element(half.tokens.begin(), half.tokens.end()), vocab / 2 - 1);
    expect_oracle_tokens(ctx, rows, {.temperature = 1.0f, .top_p = 0.5f}, DType::F32, 1, 1);
    expect_oracle_tokens(ctx, rows, {.temperature = 1.0f, .top_p = 0.97f}, DType::F32, 2, 1);
    expect_oracle_tokens(ctx, rows, {.temperature = 2.0f}, DType::F32, 3, 1);
  });
}

// One logit far above the rest: every other weight rounds to 0 in fixed point, so it is drawn
// whatever the filters.
TEST(SampleRadix, OneDominantLogit) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::uint32_t vocab = 3000;
    std::vector<float> row(vocab, -10.0f);
    row[2345] = 20.0f;
    Rows rows{vocab, std::vector<std::vector<float>>(2, row), {}};
    for (const Case& c : kCases) {
      SCOPED_TRACE(c.what);
      const Request r{vocab, c.f, 5, 6, 7};
      for (std::uint32_t token : sample(ctx, r, DType::F32, rows.flat_logits(), 2)) {
        EXPECT_EQ(token, 2345u);
      }
    }
  });
}

// NaN never drawn; +inf logits take all the mass; -inf weighs nothing beside a finite logit but
// a row of -inf (and NaN) draws among its -inf logits; a row of NaN gives index 0.
TEST(SampleRadix, NanAndInfinities) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const float nan = std::nanf("");
    for (std::uint32_t vocab : {33u, 2500u}) {
      SCOPED_TRACE("V" + std::to_string(vocab));
      Rows rows = model_rows(vocab, 4, DType::F32, 8);
      rows.logits[0][3] = rows.logits[0][vocab - 2] = kInf;  // two +inf
      rows.logits[0][5] = nan;
      for (std::uint32_t i = 0; i < vocab; i += 3) rows.logits[1][i] = nan;  // NaN, -inf, finite
      for (std::uint32_t i = 1; i < vocab; i += 3) rows.logits[1][i] = -kInf;
      for (std::uint32_t i = 0; i < vocab; ++i) rows.logits[2][i] = i % 2 ? -kInf : nan;
      for (float& x : rows.logits[3]) x = nan;
      for (const Case& c : kCases) {
        SCOPED_TRACE(c.what);
        expect_oracle_tokens(ctx, rows, c.f, DType::F32, 12, 34);
      }
      const Request r{vocab, {.temperature = 1.0f, .top_p = 0.9f}, 1, 2, 3};
      const std::vector<std::uint32_t> got = sample(ctx, r, DType::F32, rows.flat_logits(), 4);
      EXPECT_TRUE(got[0] == 3u || got[0] == vocab - 2) << got[0];
      EXPECT_EQ(got[2] % 2, 1u) << "an -inf logit";
      EXPECT_EQ(got[3], 0u) << "a row of NaN";
    }
  });
}

// sample's own kernel reads a row longer than 32768 logits in chunks, each with its penalty
// bitmap (a direct dispatch; by name such a row takes the segment kernels).
TEST(SampleRadix, OwnKernelOverSeveralChunks) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::uint32_t vocab = 33000;
    std::vector<float> row = model_row(vocab, 44, DType::F32);
    row[32900] = 7.5f;  // the top, penalised below the others in the second chunk
    const std::vector<std::uint32_t> ids = {32900, 5, 32767, 32768};
    const Filters f{.temperature = 1.0f, .top_p = 0.9f, .repetition_penalty = 3.0f};
    const Request r{vocab, f, 21, 22, 23};
    std::vector<std::uint32_t> expected;
    for (std::uint32_t row_index = 0; row_index < 2; ++row_index) {
      expected.push_back(draw(row, ids, f, 21, 22, 23, row_index, DrawOrder::Index));
    }
    std::vector<std::uint32_t> penalty = ids;
    penalty.insert(penalty.end(), ids.begin(), ids.end());
    const mt::DispatchResult own = ctx.dispatch_with_grid(
        s::sample::kernel_ir_for(DType::F32), buffers(r, DType::F32, repeat(row, 2), 2, penalty),
        {}, {2, 1, 1}, {s::kThreads, 1, 1});
    EXPECT_EQ(mt::test::unpack_u32(own.outputs.at("out")), expected);
    EXPECT_EQ(sample(ctx, r, DType::F32, repeat(row, 2), 2, penalty), expected) << "by name";
  });
}

// Which requests split rows into segments, and into how many.
TEST(SampleRadix, SegmentPlan) {
  const s::SegmentPlan llama = s::segment_plan(128256, 1, 0, 0.9f, 1.0f);
  EXPECT_EQ(llama.segment, s::kTile);
  EXPECT_EQ(llama.segments, 63u);
  EXPECT_EQ(llama.tiles, 63u);
  EXPECT_EQ(llama.passes, 3u);
  const s::SegmentPlan batch = s::segment_plan(128256, 64, 0, 0.9f, 1.0f);
  EXPECT_EQ(batch.segments, 16u);  // 1024 groups of 4 tiles
  EXPECT_EQ(batch.segment, 4 * s::kTile);
  EXPECT_LE(batch.segment, s::kChunk);
  EXPECT_EQ(batch.segment % s::kTile, 0u);
  EXPECT_EQ(s::segment_plan(128256, 1, 500, 0.9f, 1.0f).passes, 6u) << "top-k, then top-p";
  EXPECT_EQ(s::segment_plan(128256, 1, 500, 1.0f, 1.0f).passes, 3u);
  EXPECT_EQ(s::segment_plan(128256, 1, 128256, 1.0f, 1.0f).passes, 0u) << "top_k >= V is off";
  EXPECT_EQ(s::segment_plan(128256, 1, 0, 0.9f, 0.0f).passes, 0u) << "greedy";
  EXPECT_EQ(s::segment_plan(2048, 1, 0, 0.9f, 1.0f).segments, 1u);
  EXPECT_EQ(s::segment_plan(2049, 1, 0, 0.9f, 1.0f).segments, 2u);
  EXPECT_EQ(s::segment_plan(32768, 1024, 0, 0.9f, 1.0f).segments, 1u) << "many rows";
  EXPECT_EQ(s::segment_plan(1u << 20, 1000, 0, 0.9f, 1.0f).segment, s::kChunk);
}

// The launches of `sample` by name: top, one histogram launch a pass, kept, draw.
TEST(SampleRadix, LaunchesOfARequest) {
  const mt::KernelInfo& info = mt::kernel_info("sample");
  auto steps = [&](std::uint32_t vocab, std::size_t rows, std::uint32_t top_k, float top_p,
                   float temperature) {
    mt::LaunchShape shape("sample", DType::F32, {},
                          {{"logits", rows * vocab}, {"penalty_ids", 0}, {"out", rows}},
                          {{"vocab", mt::Scalar::of_int(vocab)},
                           {"top_k", mt::Scalar::of_int(top_k)},
                           {"top_p", mt::Scalar::of_float(top_p)},
                           {"temperature", mt::Scalar::of_float(temperature)}});
    std::vector<std::string> names;
    for (const mt::LaunchStep& step : info.geometry(shape).steps) {
      names.push_back(step.kernel.empty() ? "sample" : step.kernel);
    }
    return names;
  };
  using Names = std::vector<std::string>;
  const Names top_p = {"sample_top",       "sample_histogram", "sample_histogram",
                       "sample_histogram", "sample_kept",      "sample_draw"};
  EXPECT_EQ(steps(128256, 1, 0, 0.9f, 1.0f), top_p);
  EXPECT_EQ(steps(128256, 1, 0, 1.0f, 1.0f), (Names{"sample_top", "sample_kept", "sample_draw"}));
  EXPECT_EQ(steps(128256, 1, 500, 0.9f, 1.0f).size(), 9u);
  EXPECT_EQ(steps(300000, 1, 0, 1.0f, 0.0f), (Names{"sample_top", "sample_draw"})) << "greedy";
  EXPECT_EQ(steps(128256, 1, 50, 0.9f, 1.0f), (Names{"sample_candidates", "sample_pick"}));
  EXPECT_EQ(steps(2000, 1, 0, 0.9f, 1.0f), (Names{"sample"})) << "one segment a row";
}

}  // namespace
