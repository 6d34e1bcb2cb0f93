// argmax, row_sum and row_max x {f32, f16, bf16} on every backend against the oracles of
// rows_oracle.hpp: every shape of shapes() with planted ties (lowest index wins, also across
// threads), edge rows (all equal, -inf, NaN, all negative), and precondition errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/mlx/rows.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace rows = mt::test::rows;
namespace mlx = mt::kernels::mlx::rows;

constexpr float kPlanted = 5.0f;  // above every random value, exact in every dtype

// Random rows with copies of the row maximum planted where the lowest index is easy to lose:
// rows 0, 3, ...: at tpg - 1 and tpg (the lower index belongs to the higher thread);
// rows 1, 4, ...: at j and j + tpg (both in one thread's strided loop) and at n - 1;
// rows 2, 5, ...: random only (bf16 and f16 rows of 1000+ elements tie by themselves).
std::vector<float> rows_with_ties(const rows::Case& c) {
  const rows::Shape& s = c.shape;
  std::vector<float> x = rows::random_values(s.elements(), c.seed, c.t, -4.0f, 4.0f);
  for (std::size_t r = 0; r < s.rows; ++r) {
    float* row = x.data() + r * s.n;
    auto plant = [&](std::size_t i) {
      if (i < s.n) row[i] = kPlanted;
    };
    if (r % 3 == 0) {
      plant(std::min<std::size_t>(s.tpg, s.n) - 1);
      plant(s.tpg);
    } else if (r % 3 == 1) {
      plant(s.n / 3);
      plant(s.n / 3 + s.tpg);
      plant(s.n - 1);
    }
  }
  return x;
}

// Dispatches a row reduction and returns the `rows` results as raw bytes, checking the output
// length (exactly the rows: idle threadgroups must write nothing).
mt::test::Bytes run_reduction(const mt::Context& ctx, const mt::Kernel& k, DType t, DType out_t,
                              const rows::Shape& s, const std::vector<float>& x) {
  mt::BufferMap b;
  b["x"] = mt::test::pack(x, t);
  b["out"] = mt::test::poisoned(s.rows, out_t);
  b["n"] = le_bytes(s.n);
  const mt::DispatchResult r = rows::launch(ctx, k, b, s);
  return rows::checked_output(r, "out", s.rows, out_t);
}

std::vector<std::uint32_t> run_argmax(const mt::Context& ctx, DType t, const rows::Shape& s,
                                      const std::vector<float>& x) {
  return mt::test::unpack_u32(
      run_reduction(ctx, mlx::argmax::kernel_ir_for(t), t, DType::U32, s, x));
}
std::vector<float> run_row_max(const mt::Context& ctx, DType t, const rows::Shape& s,
                               const std::vector<float>& x) {
  return mt::test::unpack(run_reduction(ctx, mlx::row_max::kernel_ir_for(t), t, t, s, x), t);
}

TEST(MlxArgmax, MatchesOracleWithTiesOnEveryShape) {
  rows::for_each_case([](const rows::Case& c) {
    const std::vector<float> x = rows_with_ties(c);
    mt::test::expect_equal(run_argmax(*c.ctx, c.t, c.shape, x), rows::argmax(x, c.shape.n), "out");
  });
}

TEST(MlxRowMax, MatchesOracleExactlyOnEveryShape) {
  rows::for_each_case([](const rows::Case& c) {
    const std::vector<float> x = rows_with_ties(c);
    rows::expect_exact(run_row_max(*c.ctx, c.t, c.shape, x), rows::row_max(x, c.shape.n), "out");
  });
}

TEST(MlxRowSum, MatchesOracleOnEveryShape) {
  rows::for_each_case([](const rows::Case& c) {
    const std::vector<float> x = rows::random_values(c.shape.elements(), c.seed, c.t, -4.0f, 4.0f);
    const std::vector<float> out = mt::test::unpack(
        run_reduction(*c.ctx, mlx::row_sum::kernel_ir_for(c.t), c.t, c.t, c.shape, x), c.t);
    rows::expect_within(out, rows::row_sum(x, c.shape.n), c.t, "out");
  });
}

// Edge rows of length 100 in 33-thread groups (a partial last warp), one per row:
//  0 all equal -> 0;  1 all -inf -> 0;  2 NaNs from index 40 on, around a maximum at 57 -> 40
//  (NaN is the largest value; its first index wins);  3 all NaN -> 0;  4 -inf except the last
//  element -> 99;  5 all negative -> the largest of them (a maximum started at 0 instead of
//  -inf would give 0 and index 0).
std::vector<float> edge_rows(DType t, std::uint32_t n) {
  std::vector<float> x(6 * std::size_t{n});
  const std::vector<float> negative = rows::random_values(n, 11, t, -9.0f, -1.0f);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = -2.5f;
    x[n + i] = -rows::kInf;
    x[2 * n + i] = i >= 40 && i % 2 == 0 ? rows::kNaN : mt::round_to(t, 0.01f * float(i));
    x[3 * n + i] = rows::kNaN;
    x[4 * n + i] = -rows::kInf;
    x[5 * n + i] = negative[i];
  }
  x[2 * n + 57] = 3.0f;
  x[4 * n + n - 1] = -7.0f;
  return x;
}

TEST(MlxArgmax, EdgeRows) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      SCOPED_TRACE(mt::name_of(t));
      const rows::Shape s{100, 33, 6, 1};
      const std::vector<float> x = edge_rows(t, s.n);
      const std::vector<std::uint32_t> expected = rows::argmax(x, s.n);
      ASSERT_EQ(expected[2], 40u);  // the oracle agrees with the comment above
      ASSERT_EQ(expected[4], 99u);
      mt::test::expect_equal(run_argmax(ctx, t, s, x), expected, "out");
    }
  });
}

// Rows 0, 4 and 5 of edge_rows (the NaN rows give NaN: MlxRowMax.NaNIsTheLargestValue in
// rows_nonfinite_test.cpp; all -inf is checked on its own since the float comparisons fail on
// infinities).
TEST(MlxRowMax, EdgeRows) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      SCOPED_TRACE(mt::name_of(t));
      const rows::Shape s{100, 33, 3, 0};
      const std::vector<float> all = edge_rows(t, s.n);
      std::vector<float> x(all.begin(), all.begin() + s.n);
      x.insert(x.end(), all.begin() + 4 * s.n, all.end());
      const std::vector<float> expected = rows::row_max(x, s.n);
      ASSERT_EQ(expected[1], -7.0f);
      ASSERT_LT(expected[2], -1.0f);
      rows::expect_exact(run_row_max(ctx, t, s, x), expected, "out");

      const rows::Shape one{100, 33, 1, 0};
      const std::vector<float> minus_inf(s.n, -rows::kInf);
      const std::vector<float> out = run_row_max(ctx, t, one, minus_inf);
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0], -rows::kInf);
    }
  });
}

// Pairs x, -x cancel exactly: the sum is 0 up to f32 rounding, checked against the bound.
TEST(MlxRowSum, CancellingRows) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      SCOPED_TRACE(mt::name_of(t));
      const rows::Shape s{1000, 100, 2, 0};
      std::vector<float> x = rows::random_values(s.elements(), 13, t, 0.0f, 4000.0f);
      for (std::size_t i = 0; i < s.elements(); i += 2) x[i + 1] = -x[i];
      const std::vector<float> out =
          mt::test::unpack(run_reduction(ctx, mlx::row_sum::kernel_ir_for(t), t, t, s, x), t);
      const rows::Expected expected = rows::row_sum(x, s.n);
      ASSERT_EQ(expected.value[0], 0.0);
      rows::expect_within(out, expected, t, "out");
    }
  });
}

TEST(MlxRowReductions, PreconditionErrorsNameKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      for (auto build :
           {mlx::argmax::kernel_ir_for, mlx::row_sum::kernel_ir_for, mlx::row_max::kernel_ir_for}) {
        const mt::Kernel k = build(t);
        SCOPED_TRACE(k.name + " " + std::string(mt::name_of(t)));
        const DType out_t = k.name == "argmax" ? DType::U32 : t;
        const rows::Shape s{7, 32, 3, 0};
        const std::vector<float> x = rows::random_values(21, 2, t, -1.0f, 1.0f);
        mt::BufferMap b;
        b["x"] = mt::test::pack(x, t);
        b["out"] = mt::test::poisoned(3, out_t);
        b["n"] = le_bytes(5u);
        rows::expect_error(
            [&] { rows::launch(ctx, k, b, s); }, k.name,
            {"param 'x'", "expected a multiple of 5 elements", "n=5", "got 21 elements"});
        b["n"] = le_bytes(0u);
        rows::expect_error([&] { rows::launch(ctx, k, b, s); }, k.name, {"n > 0", "n=0"});
        b["n"] = le_bytes(7u);  // the context stays usable
        const mt::DispatchResult r = rows::launch(ctx, k, b, s);
        if (out_t == DType::U32) {
          mt::test::expect_equal(mt::test::unpack_u32(r.outputs.at("out")), rows::argmax(x, 7),
                                 "out");
        } else if (k.name == "row_max") {
          rows::expect_exact(mt::test::unpack(r.outputs.at("out"), t), rows::row_max(x, 7), "out");
        } else {
          rows::expect_within(mt::test::unpack(r.outputs.at("out"), t), rows::row_sum(x, 7), t,
                              "out");
        }
      }
    }
  });
}

}  // namespace
