// The engine family's small kernels x every dtype they take, on every backend:
// swiglu_gate_up against an f64 oracle (row lengths that are and are not multiples of the
// vector width), step_positions advancing several sequences, fill_uniform's range, its
// determinism and its independence of the backend; length contracts name kernel and buffer.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/engine/decoder.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

double tolerance(DType t) { return t == DType::F32 ? 1e-6 : t == DType::F16 ? 1e-3 : 8e-3; }

TEST(SwigluGateUp, MatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 7;
    for (DType t : kDTypes) {
      for (std::uint32_t n : {1u, 3u, 8u, 20u, 64u, 100u}) {
        for (std::size_t tokens : {1u, 4u}) {
          SCOPED_TRACE("n " + std::to_string(n) + " T" + std::to_string(tokens) + " " +
                       std::string(mt::name_of(t)));
          const std::vector<float> gu =
              mt::test::rows::random_values(tokens * 2 * n, seed++, t, -6.0f, 6.0f);
          std::vector<float> want(tokens * n);
          for (std::size_t r = 0; r < tokens; ++r) {
            for (std::uint32_t j = 0; j < n; ++j) {
              const double g = gu[r * 2 * n + j], u = gu[r * 2 * n + n + j];
              want[r * n + j] = float(g / (1.0 + std::exp(-g)) * u);
            }
          }
          const mt::DispatchResult res =
              mt::kernels::run(ctx, "swiglu_gate_up", t,
                               {{"gate_up", mt::test::pack(gu, t)},
                                {"out", mt::test::poisoned(tokens * n, t)},
                                {"n", le_bytes(n)}});
          const double tol = tolerance(t);
          mt::test::expect_close(mt::test::unpack(res.outputs.at("out"), t), want, tol, tol, "out");
        }
      }
    }
  });
}

TEST(SwigluGateUp, ErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    auto launch = [&](std::size_t gate_up, std::size_t out, std::uint32_t n) {
      return mt::kernels::run(ctx, "swiglu_gate_up", t,
                              {{"gate_up", mt::test::poisoned(gate_up, t)},
                               {"out", mt::test::poisoned(out, t)},
                               {"n", le_bytes(n)}});
    };
    mt::test::expect_mentions(mt::test::error_of([&] { launch(16, 8, 0); }),
                              {"swiglu_gate_up", "n > 0"});
    mt::test::expect_mentions(mt::test::error_of([&] { launch(18, 9, 4); }),
                              {"swiglu_gate_up", "'gate_up'", "got 18 elements"});
    mt::test::expect_mentions(mt::test::error_of([&] { launch(16, 7, 4); }),
                              {"swiglu_gate_up", "'out'", "got 7 elements"});
    const std::vector<float> gu = {1, 2, 3, 4};
    const mt::DispatchResult r = mt::kernels::run(ctx, "swiglu_gate_up", t,
                                                  {{"gate_up", mt::test::pack(gu, t)},
                                                   {"out", mt::test::poisoned(2, t)},
                                                   {"n", le_bytes(2u)}});
    EXPECT_NEAR(mt::test::unpack(r.outputs.at("out"), t)[1], 2.0 / (1 + std::exp(-2.0)) * 4, 1e-5);
  });
}

TEST(StepPositions, AdvancesEverySequence) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::vector<std::uint32_t> positions = {0, 5, 4095};
    const mt::DispatchResult r = mt::kernels::run(ctx, "step_positions", DType::U32,
                                                  {{"positions", mt::test::pack_u32(positions)},
                                                   {"lengths", mt::test::poisoned(3, DType::U32)}});
    mt::test::expect_equal(mt::test::unpack_u32(r.outputs.at("positions")), {{1, 6, 4096}},
                           "positions");
    mt::test::expect_equal(mt::test::unpack_u32(r.outputs.at("lengths")), {{2, 7, 4097}},
                           "lengths");
    mt::test::expect_mentions(mt::test::error_of([&] {
                                mt::kernels::run(ctx, "step_positions", DType::U32,
                                                 {{"positions", mt::test::pack_u32(positions)},
                                                  {"lengths", mt::test::poisoned(2, DType::U32)}});
                              }),
                              {"step_positions", "'lengths'", "got 2 elements"});
  });
}

TEST(FillUniform, FillsTheRangeDeterministically) {
  std::vector<std::vector<std::uint8_t>> first_by_dtype;
  mt::test::for_each_backend([&](mt::Context& ctx) {
    std::size_t i = 0;
    for (DType t : kDTypes) {
      SCOPED_TRACE(std::string(mt::name_of(t)));
      auto fill = [&](std::uint32_t seed) {
        return mt::kernels::run(ctx, "fill_uniform", t,
                                {{"out", mt::test::poisoned(1000, t)},
                                 {"n", le_bytes(1000u)},
                                 {"seed", le_bytes(seed)},
                                 {"scale", le_bytes(0.5f)},
                                 {"offset", le_bytes(2.0f)}})
            .outputs.at("out");
      };
      const std::vector<std::uint8_t> a = fill(3), b = fill(3), c = fill(4);
      EXPECT_EQ(a, b);
      EXPECT_NE(a, c);
      const std::vector<float> v = mt::test::unpack(a, t);
      double mean = 0;
      for (float x : v) {
        ASSERT_TRUE(x >= 1.5f && x <= 2.5f) << x;  // NaN fails
        mean += x / double(v.size());
      }
      EXPECT_NEAR(mean, 2.0, 0.05);
      // The same bits on every backend.
      if (first_by_dtype.size() <= i) first_by_dtype.push_back(a);
      EXPECT_EQ(a, first_by_dtype[i]);
      ++i;
    }
  });
}

}  // namespace
