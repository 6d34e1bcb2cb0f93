// rms_norm and layer_norm x {f32, f16, bf16} on every backend against the double oracles of
// rows_oracle.hpp: every shape of shapes(), zero and constant rows, a large eps, and
// precondition errors for the row length and the weight and bias lengths.
#include <gtest/gtest.h>

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

constexpr float kEps = 1e-5f;

struct NormInputs {
  std::vector<float> x, w, b;  // b empty for rms_norm
  float eps = kEps;
  float weight_offset = 0.0f;  // rms_norm only
};

NormInputs random_inputs(const rows::Case& c, bool with_bias) {
  NormInputs in;
  // A mean away from zero, so layer_norm's centring matters.
  in.x = rows::random_values(c.shape.elements(), c.seed, c.t, -2.5f, 3.5f);
  in.w = rows::random_values(c.shape.n, c.seed + 1, c.t, -2.0f, 2.0f);
  if (with_bias) in.b = rows::random_values(c.shape.n, c.seed + 2, c.t, -1.0f, 1.0f);
  return in;
}

mt::BufferMap buffers(DType t, const rows::Shape& s, const NormInputs& in) {
  mt::BufferMap b;
  b["x"] = mt::test::pack(in.x, t);
  b["w"] = mt::test::pack(in.w, t);
  if (!in.b.empty()) b["b"] = mt::test::pack(in.b, t);
  if (in.b.empty()) b["weight_offset"] = le_bytes(in.weight_offset);
  b["out"] = mt::test::poisoned(s.elements(), t);
  b["n"] = le_bytes(s.n);
  b["eps"] = le_bytes(in.eps);
  return b;
}

// Runs rms_norm (no bias) or layer_norm (bias) and returns the output rows, checking the
// length (exactly the rows: idle threadgroups must write nothing).
std::vector<float> run_norm(const mt::Context& ctx, DType t, const rows::Shape& s,
                            const NormInputs& in) {
  const mt::Kernel k =
      in.b.empty() ? mlx::rms_norm::kernel_ir_for(t) : mlx::layer_norm::kernel_ir_for(t);
  const mt::DispatchResult r = rows::launch(ctx, k, buffers(t, s, in), s);
  return mt::test::unpack(rows::checked_output(r, "out", s.elements(), t), t);
}

rows::Expected oracle(const rows::Shape& s, const NormInputs& in) {
  return in.b.empty() ? rows::rms_norm(in.x, in.w, s.n, in.eps, in.weight_offset)
                      : rows::layer_norm(in.x, in.w, in.b, s.n, in.eps);
}

TEST(MlxRmsNorm, MatchesOracleOnEveryShape) {
  rows::for_each_case([](const rows::Case& c) {
    const NormInputs in = random_inputs(c, false);
    rows::expect_within(run_norm(*c.ctx, c.t, c.shape, in), oracle(c.shape, in), c.t, "out");
  });
}

// Gemma's weights are stored as w - 1: weight_offset = 1 adds it back.
TEST(MlxRmsNorm, WeightOffsetIsAddedToEachWeight) {
  rows::for_each_case([](const rows::Case& c) {
    NormInputs in = random_inputs(c, false);
    in.weight_offset = 1.0f;
    rows::expect_within(run_norm(*c.ctx, c.t, c.shape, in), oracle(c.shape, in), c.t, "out");
  });
}

TEST(MlxLayerNorm, MatchesOracleOnEveryShape) {
  rows::for_each_case([](const rows::Case& c) {
    const NormInputs in = random_inputs(c, true);
    rows::expect_within(run_norm(*c.ctx, c.t, c.shape, in), oracle(c.shape, in), c.t, "out");
  });
}

// Row 0 all zero (rms_norm: exactly 0, eps keeps rsqrt finite), row 1 constant (layer_norm:
// zero variance, so the output is the bias), and eps both tiny and large enough to change
// every output (eps = 4 against a mean square of about 3).
void check_edge_rows(bool with_bias) {
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      for (float eps : {kEps, 4.0f}) {
        const rows::Shape s{100, 64, 3, 1};
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " eps=" + std::to_string(eps));
        NormInputs in = random_inputs(rows::Case{&ctx, t, s, 41}, with_bias);
        in.eps = eps;
        for (std::size_t i = 0; i < s.n; ++i) {
          in.x[i] = 0.0f;
          in.x[s.n + i] = 1.5f;
        }
        const std::vector<float> out = run_norm(ctx, t, s, in);
        const rows::Expected expected = oracle(s, in);
        rows::expect_within(out, expected, t, "out");
        ASSERT_EQ(out.size(), s.elements());
        for (std::size_t i = 0; i < s.n; ++i) {
          // x - mean is exactly 0 on the constant row (150 / 100 is exact in f32).
          if (with_bias) {
            EXPECT_EQ(out[s.n + i], in.b[i]) << "constant row, element " << i;
          } else {
            EXPECT_EQ(out[i], 0.0f) << "zero row, element " << i;
          }
        }
        if (eps == 4.0f) {
          // The large eps must have been applied: the kernel's row 2 is far from eps = 0's.
          NormInputs no_eps = in;
          no_eps.eps = 0.0f;
          const double with = expected.value[2 * s.n + 3];
          const double without = oracle(s, no_eps).value[2 * s.n + 3];
          EXPECT_GT(std::fabs(with - without), 0.1 * std::fabs(without));
        }
      }
    }
  });
}

TEST(MlxRmsNorm, ZeroRowsAndEps) { check_edge_rows(false); }
TEST(MlxLayerNorm, ConstantRowsAndEps) { check_edge_rows(true); }

// Each bad buffer must raise an mt::Error naming the kernel, a param and the failed
// condition with its values; afterwards the good buffers still dispatch correctly.
void check_preconditions(bool with_bias) {
  const std::string name(with_bias ? mlx::layer_norm::name : mlx::rms_norm::name);
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      SCOPED_TRACE(name + " " + std::string(mt::name_of(t)));
      const rows::Shape s{7, 32, 3, 0};
      const NormInputs in = random_inputs(rows::Case{&ctx, t, s, 3}, with_bias);
      const mt::Kernel k =
          with_bias ? mlx::layer_norm::kernel_ir_for(t) : mlx::rms_norm::kernel_ir_for(t);
      const mt::BufferMap good = buffers(t, s, in);
      auto expect_bad = [&](const std::function<void(mt::BufferMap&)>& spoil,
                            const std::vector<std::string>& details) {
        mt::BufferMap b = good;
        spoil(b);
        rows::expect_error([&] { rows::launch(ctx, k, b, s); }, name, details);
      };
      expect_bad([](mt::BufferMap& b) { b["n"] = le_bytes(5u); },
                 {"param 'x'", "expected a multiple of 5 elements", "n=5", "got 21 elements"});
      expect_bad([](mt::BufferMap& b) { b["n"] = le_bytes(0u); }, {"n > 0", "n=0"});
      expect_bad([&](mt::BufferMap& b) { b["w"] = mt::test::pack(std::vector<float>(8, 1.0f), t); },
                 {"param 'w'", "expected 7 elements", "n=7", "got 8 elements"});
      if (with_bias) {
        expect_bad(
            [&](mt::BufferMap& b) { b["b"] = mt::test::pack(std::vector<float>(6, 0.0f), t); },
            {"param 'b'", "expected 7 elements", "n=7", "got 6 elements"});
      }
      const mt::DispatchResult r = rows::launch(ctx, k, good, s);
      rows::expect_within(mt::test::unpack(r.outputs.at("out"), t), oracle(s, in), t, "out");
    }
  });
}

TEST(MlxRmsNorm, PreconditionErrorsNameKernelAndParam) { check_preconditions(false); }
TEST(MlxLayerNorm, PreconditionErrorsNameKernelAndParam) { check_preconditions(true); }

}  // namespace
