// Non-finite values in the row kernels, on every backend and dtype. Finite rows give finite
// results beside them, and NaN propagates as in PyTorch and MLX: softmax, rms_norm, layer_norm
// and row_sum give NaN for a row with a NaN (and for inf - inf), row_max gives NaN, argmax the
// index of the first NaN (PyTorch and NumPy; MLX's argmax skips NaN).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <functional>
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

constexpr std::uint32_t kN = 70;  // not a multiple of the vector width: both loop forms run
constexpr float kNaN = rows::kNaN, kInf = rows::kInf;

// Row r of `rows_` rows of kN values in [-2, 2), with `spoil(r, row)` applied.
std::vector<float> make_rows(DType t, std::uint32_t count,
                             const std::function<void(std::size_t, float*)>& spoil) {
  std::vector<float> x = rows::random_values(std::size_t{count} * kN, 21, t, -2.0f, 2.0f);
  for (std::size_t r = 0; r < count; ++r) spoil(r, x.data() + r * kN);
  return x;
}

// Runs row kernel k over x with tpg threads a row (and w = 1, b = 0 where it takes them).
mt::test::Bytes run(const mt::Context& ctx, const mt::Kernel& k, DType t,
                    const std::vector<float>& x, std::uint32_t tpg) {
  const std::uint32_t count = static_cast<std::uint32_t>(x.size() / kN);
  mt::BufferMap b;
  b["x"] = mt::test::pack(x, t);
  if (k.find_param("w").valid()) b["w"] = mt::test::pack(std::vector<float>(kN, 1.0f), t);
  if (k.find_param("b").valid()) b["b"] = mt::test::pack(std::vector<float>(kN, 0.0f), t);
  if (k.find_param("eps").valid()) b["eps"] = le_bytes(1e-5f);
  if (k.find_param("weight_offset").valid()) b["weight_offset"] = le_bytes(0.0f);
  b["n"] = le_bytes(kN);
  const mt::Param& out = k.param(k.find_param("out"));
  const bool per_row = k.name == "argmax" || k.name == "row_sum" || k.name == "row_max";
  b["out"] = mt::test::poisoned(per_row ? count : std::size_t{count} * kN, out.dtype);
  return ctx.dispatch_with_grid(k, b, {}, {count, 1, 1}, {tpg, 1, 1}).outputs.at("out");
}

template <class F>
void for_each_case(F f) {
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      for (std::uint32_t tpg : {1u, 32u, 64u}) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " tpg " + std::to_string(tpg));
        f(ctx, t, tpg);
      }
    }
  });
}

// Rows: 0 finite; 1 one NaN; 2 all NaN; 3 +inf and -inf (inf - inf); 4 one +inf.
void spoil_rows(std::size_t r, float* row) {
  if (r == 1) row[37] = kNaN;
  if (r == 2) std::fill(row, row + kN, kNaN);
  if (r == 3) row[5] = kInf, row[60] = -kInf;
  if (r == 4) row[11] = kInf;
}

TEST(MlxRowsNonFinite, NormsAndSoftmaxPropagateNaNAndStayFiniteOnFiniteRows) {
  for_each_case([](mt::Context& ctx, DType t, std::uint32_t tpg) {
    const std::vector<float> x = make_rows(t, 5, spoil_rows);
    for (const mt::Kernel& k : {mlx::softmax::kernel_ir_for(t), mlx::rms_norm::kernel_ir_for(t),
                                mlx::layer_norm::kernel_ir_for(t)}) {
      SCOPED_TRACE(k.name);
      const std::vector<float> out = mt::test::unpack(run(ctx, k, t, x, tpg), t);
      for (std::size_t i = 0; i < kN; ++i) {
        EXPECT_TRUE(std::isfinite(out[i])) << "row 0 [" << i << "] = " << out[i];
        EXPECT_TRUE(std::isnan(out[kN + i])) << "row 1 (one NaN) [" << i << "] = " << out[kN + i];
        EXPECT_TRUE(std::isnan(out[2 * kN + i])) << "row 2 (all NaN) [" << i << "]";
      }
      // inf and -inf in a row: the mean or the max is not finite; PyTorch gives NaN throughout
      // for softmax and layer_norm (a NaN variance stays NaN), and rms_norm gives x * 0 (NaN at
      // the infinities, 0 elsewhere).
      for (std::size_t i = 0; i < kN; ++i) {
        const float v = out[3 * kN + i];
        if (k.name == "rms_norm") {
          EXPECT_TRUE(i == 5 || i == 60 ? std::isnan(v) : v == 0.0f) << "row 3 [" << i << "] " << v;
        } else {
          EXPECT_TRUE(std::isnan(v)) << "row 3 [" << i << "] = " << v;
        }
      }
    }
  });
}

TEST(MlxRowsNonFinite, RowSumPropagatesNaNAndInfinity) {
  for_each_case([](mt::Context& ctx, DType t, std::uint32_t tpg) {
    const std::vector<float> x = make_rows(t, 5, spoil_rows);
    const std::vector<float> out =
        mt::test::unpack(run(ctx, mlx::row_sum::kernel_ir_for(t), t, x, tpg), t);
    EXPECT_TRUE(std::isfinite(out[0]));
    EXPECT_TRUE(std::isnan(out[1]));
    EXPECT_TRUE(std::isnan(out[2]));
    EXPECT_TRUE(std::isnan(out[3]));  // inf + -inf
    EXPECT_EQ(out[4], kInf);
  });
}

// The case: row_max of an all-NaN row gave -inf. A NaN anywhere gives NaN now, and
// rows without one give exactly the oracle's maximum (+0 above -0).
TEST(MlxRowMax, NaNIsTheLargestValue) {
  for_each_case([](mt::Context& ctx, DType t, std::uint32_t tpg) {
    std::vector<float> x = make_rows(t, 6, spoil_rows);
    std::fill(x.begin() + 5 * kN, x.end(), -0.0f);
    x[5 * kN + 3] = 0.0f;
    const std::vector<float> out =
        mt::test::unpack(run(ctx, mlx::row_max::kernel_ir_for(t), t, x, tpg), t);
    const std::vector<float> expected = rows::row_max(x, kN);
    ASSERT_EQ(out.size(), expected.size());
    for (std::size_t r = 0; r < out.size(); ++r) {
      // NaN's payload is unspecified (the interpreter and CUDA make different ones).
      if (std::isnan(out[r]) && std::isnan(expected[r])) continue;
      EXPECT_EQ(std::bit_cast<std::uint32_t>(out[r]), std::bit_cast<std::uint32_t>(expected[r]))
          << "row " << r << ": " << out[r] << ", expected " << expected[r];
    }
    EXPECT_TRUE(std::isnan(out[1]) && std::isnan(out[2]));
    EXPECT_EQ(out[3], kInf);
    EXPECT_FALSE(std::signbit(out[5])) << "+0 is above -0";
  });
}

// argmax as PyTorch: the first NaN's index, also past an inf and across threads.
TEST(MlxArgmax, TheFirstNaNWins) {
  for_each_case([](mt::Context& ctx, DType t, std::uint32_t tpg) {
    const std::vector<float> x = make_rows(t, 6, [](std::size_t r, float* row) {
      if (r == 0) row[50] = kNaN, row[63] = kNaN;                  // 50 wins
      if (r == 1) std::fill(row, row + kN, kNaN);                  // 0
      if (r == 2) row[0] = kInf, row[1] = kNaN, row[2] = -kInf;    // 1 (inf is below NaN)
      if (r == 3) row[69] = kNaN;                                  // the last element
      if (r == 4) row[20] = 5.0f, row[30] = 5.0f;                  // a tie: 20
      if (r == 5) std::fill(row, row + kN, -0.0f), row[9] = 0.0f;  // -0 equals +0: 0
    });
    const std::vector<std::uint32_t> expected = rows::argmax(x, kN);
    EXPECT_EQ(expected, (std::vector<std::uint32_t>{50, 0, 1, 69, 20, 0}));
    mt::test::expect_equal(mt::test::unpack_u32(run(ctx, mlx::argmax::kernel_ir_for(t), t, x, tpg)),
                           expected, "out");
  });
}

}  // namespace
