// The elementwise family on every backend and dtype, launched by name: each unary, binary and
// gated op against an f64 oracle with PyTorch's semantics (1 ulp of T plus 8 f32 roundings of the
// result), lengths with and without a tail (1, 7, 1003 elements: not multiples of any vector
// width), special values (NaN, inf, signed zeros, halves) against PyTorch's answers, the casts
// bit for bit, and length and dtype errors naming the kernel and the buffer.
#include "metaltile/kernels/mlx/elementwise.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/ffai/tolerance.hpp"
#include "kernels/mlx/elementwise_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/registry.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::Bytes;
namespace ew = mt::test::elementwise;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
constexpr std::size_t kLengths[] = {1, 7, 1003};

// 1 ulp of T plus 8 f32 roundings of the result, plus the op's absolute term.
double tolerance(DType t, double expected, double absolute) {
  return mt::test::ulp_of(t, expected) + 8 * 0x1p-24 * std::fabs(expected) + absolute;
}

std::vector<float> values(std::size_t n, std::uint64_t seed, DType t, double lo, double hi) {
  return mt::test::rows::random_values(n, seed, t, static_cast<float>(lo), static_cast<float>(hi));
}

using Inputs = std::vector<std::pair<std::string, std::vector<float>>>;

// Runs `kernel` by name for dtype t on inputs of in_type, returning out (of out_type).
std::vector<float> run(mt::Context& ctx, const std::string& kernel, DType t, const Inputs& inputs,
                       DType in_type, DType out_type) {
  mt::BufferMap b;
  for (const auto& [name, v] : inputs) b[name] = mt::test::pack(v, in_type);
  b["out"] = mt::test::poisoned(inputs.front().second.size(), out_type);
  const mt::DispatchResult r = mt::kernels::run(ctx, kernel, t, b);
  return mt::test::unpack(r.outputs.at("out"), out_type);
}

std::vector<float> run(mt::Context& ctx, const std::string& kernel, DType t, const Inputs& inputs) {
  return run(ctx, kernel, t, inputs, t, t);
}

TEST(Elementwise, EveryOpIsGeneratedAndRegistered) {
  std::size_t unary = 0, binary = 0;
#define MT_COUNT_UNARY(op, formula) ++unary;
#define MT_COUNT_BINARY(op, formula) ++binary;
  MT_MLX_UNARY_OPS(MT_COUNT_UNARY)
  MT_MLX_BINARY_OPS(MT_COUNT_BINARY)
#undef MT_COUNT_UNARY
#undef MT_COUNT_BINARY
  EXPECT_EQ(unary, ew::unary_cases().size()) << "an op without an oracle";
  EXPECT_EQ(binary, ew::binary_cases().size()) << "an op without an oracle";
  for (const ew::UnaryCase& c : ew::unary_cases()) {
    EXPECT_NE(mt::find_kernel("unary_" + c.op), nullptr) << c.op;
  }
  for (const ew::BinaryCase& c : ew::binary_cases()) {
    EXPECT_NE(mt::find_kernel("binary_" + c.op), nullptr) << c.op;
  }
  for (const char* name : {"swiglu", "geglu_tanh", "cast_to_f32", "cast_from_f32"}) {
    const mt::KernelInfo* info = mt::find_kernel(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->family, "mlx::elementwise");
  }
}

TEST(Elementwise, UnaryOpsMatchTheirOracles) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const ew::UnaryCase& c : ew::unary_cases()) {
      for (DType t : kDTypes) {
        for (std::size_t n : kLengths) {
          SCOPED_TRACE("unary_" + c.op + " " + std::string(mt::name_of(t)) + " n" +
                       std::to_string(n));
          std::vector<float> x = values(n, 11 + n, t, c.lo, c.hi);
          if (n > 4 && (c.op == "round" || c.op == "floor" || c.op == "ceil")) {
            x[0] = 2.5f, x[1] = -0.5f, x[2] = 0.5f, x[3] = -3.5f;  // halves
          }
          if (n > 2 && c.op == "sign") x[0] = 0.0f, x[1] = -0.0f;
          const std::vector<float> out = run(ctx, "unary_" + c.op, t, {{"x", x}});
          std::vector<double> want(n);
          for (std::size_t i = 0; i < n; ++i) want[i] = c.f(x[i]);
          mt::test::expect_within(
              out, want, [&](std::size_t i) { return tolerance(t, want[i], c.absolute); }, c.op);
        }
      }
    }
  });
}

TEST(Elementwise, BinaryOpsMatchTheirOracles) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const ew::BinaryCase& c : ew::binary_cases()) {
      for (DType t : kDTypes) {
        for (std::size_t n : kLengths) {
          SCOPED_TRACE("binary_" + c.op + " " + std::string(mt::name_of(t)) + " n" +
                       std::to_string(n));
          const std::vector<float> a = values(n, 21 + n, t, c.lo, c.hi);
          std::vector<float> b = values(n, 31 + n, t, c.b_lo, c.b_hi);
          if (c.b_random_sign) {
            for (std::size_t i = 0; i < n; i += 2) b[i] = -b[i];
          }
          const std::vector<float> out = run(ctx, "binary_" + c.op, t, {{"a", a}, {"b", b}});
          std::vector<double> want(n);
          for (std::size_t i = 0; i < n; ++i) want[i] = c.f(a[i], b[i]);
          mt::test::expect_within(
              out, want, [&](std::size_t i) { return tolerance(t, want[i], 0.0); }, c.op);
        }
      }
    }
  });
}

TEST(Elementwise, GatedProductsMatchTheirOracles) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (std::size_t n : kLengths) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " n" + std::to_string(n));
        const std::vector<float> gate = values(n, 41 + n, t, -6, 6);
        const std::vector<float> up = values(n, 51 + n, t, -4, 4);
        // `absolute` is the gate function's absolute term (gelu_tanh's), scaled by |up|.
        const auto check = [&](const std::string& kernel, double (*g)(double), double absolute) {
          const std::vector<float> out = run(ctx, kernel, t, {{"gate", gate}, {"up", up}});
          std::vector<double> want(n);
          for (std::size_t i = 0; i < n; ++i) want[i] = g(gate[i]) * up[i];
          mt::test::expect_within(
              out, want,
              [&](std::size_t i) { return tolerance(t, want[i], absolute * std::fabs(up[i])); },
              kernel);
        };
        check("swiglu", ew::silu, 0.0);
        check("geglu_tanh", ew::gelu_tanh, 2e-6);
      }
    }
  });
}

// Special values, with the answers PyTorch 2.x gives on the CPU in f32.
TEST(Elementwise, SpecialValuesFollowPyTorch) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  struct Special {
    std::string kernel;
    std::vector<float> a, b, want;
  };
  const std::vector<Special> cases = {
      {"unary_sign", {nan, -0.0f, 3.0f, -2.0f}, {}, {0.0f, 0.0f, 1.0f, -1.0f}},
      {"unary_relu", {nan, -2.0f, inf, -inf}, {}, {nan, 0.0f, inf, 0.0f}},
      {"unary_round", {2.5f, 0.5f, -0.5f, 1.5f, -2.5f}, {}, {2.0f, 0.0f, -0.0f, 2.0f, -2.0f}},
      {"unary_softplus", {20.0f, -100.0f, nan, inf}, {}, {20.0f, 3.7835e-44f, nan, inf}},
      {"unary_recip", {0.0f, -0.0f}, {}, {inf, -inf}},
      {"unary_log1p", {-1.0f, -2.0f}, {}, {-inf, nan}},
      {"binary_maximum", {nan, 1.0f, 2.0f}, {1.0f, nan, -inf}, {nan, nan, 2.0f}},
      {"binary_minimum", {nan, 1.0f, 2.0f}, {1.0f, nan, -inf}, {nan, nan, -inf}},
      {"binary_remainder",
       {-3.0f, 3.0f, -0.0f, 5.0f, -5.0f, 1.0f, inf, 3.0f},
       {2.0f, -2.0f, 2.0f, 0.0f, inf, -inf, 2.0f, nan},
       {1.0f, -1.0f, -0.0f, nan, inf, -inf, nan, nan}},
      {"binary_pow", {-2.0f, 0.0f, nan, 1.0f}, {0.5f, 0.0f, 0.0f, nan}, {nan, 1.0f, 1.0f, 1.0f}},
      {"binary_atan2",
       {0.0f, -0.0f, 0.0f},
       {-0.0f, -1.0f, 0.0f},
       {3.14159274f, -3.14159274f, 0.0f}},
  };
  mt::test::for_each_backend([&](mt::Context& ctx) {
    for (const Special& c : cases) {
      SCOPED_TRACE(c.kernel);
      const bool binary = !c.b.empty();
      const std::vector<float> out = binary
                                         ? run(ctx, c.kernel, DType::F32, {{"a", c.a}, {"b", c.b}})
                                         : run(ctx, c.kernel, DType::F32, {{"x", c.a}});
      ASSERT_EQ(out.size(), c.want.size());
      for (std::size_t i = 0; i < out.size(); ++i) {
        if (std::isnan(c.want[i])) {
          EXPECT_TRUE(std::isnan(out[i])) << "[" << i << "] " << out[i];
        } else {
          EXPECT_EQ(out[i], c.want[i]) << "[" << i << "]";
          if (c.want[i] == 0.0f && c.kernel != "unary_sign") {
            EXPECT_EQ(std::signbit(out[i]), std::signbit(c.want[i])) << "[" << i << "] sign";
          }
        }
      }
    }
  });
}

TEST(Elementwise, CastsAreExactAndRoundToNearestEven) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (std::size_t n : kLengths) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " n" + std::to_string(n));
        const std::vector<float> x = values(n, 61 + n, t, -100, 100);
        EXPECT_EQ(run(ctx, "cast_to_f32", t, {{"x", x}}, t, DType::F32), x);
        std::vector<float> wide = values(n, 71 + n, DType::F32, -100, 100);
        // Ties: 1 + half an ulp of bf16 and of f16 round to even (down).
        wide[0] = 1.0f + 0x1p-8f;
        if (n > 1) wide[1] = 1.0f + 0x1p-11f;
        std::vector<float> want(n);
        for (std::size_t i = 0; i < n; ++i) want[i] = mt::round_to(t, wide[i]);
        EXPECT_EQ(run(ctx, "cast_from_f32", t, {{"x", wide}}, DType::F32, t), want);
      }
    }
  });
}

TEST(Elementwise, LengthAndDTypeErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const std::vector<float> x = values(9, 3, t, -1, 1);
    mt::BufferMap good{{"a", mt::test::pack(x, t)},
                       {"b", mt::test::pack(x, t)},
                       {"out", mt::test::poisoned(9, t)}};
    const auto expect_bad = [&](const std::string& buffer, std::size_t n, const std::string& text) {
      mt::BufferMap b = good;
      b[buffer] = mt::test::poisoned(n, t);
      mt::test::expect_mentions(
          mt::test::error_of([&] { mt::kernels::run(ctx, "binary_add", t, b); }),
          {"binary_add", text});
    };
    expect_bad("a", 8, "param 'a': expected 9 elements");
    expect_bad("b", 10, "param 'b': expected 9 elements");
    expect_bad("out", 8, "param 'a': expected 8 elements");  // out sets the length
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "unary_exp", DType::I32, {}); }),
        {"unary_exp", "i32"});
    // The context still runs a good launch.
    const std::vector<float> out =
        mt::test::unpack(mt::kernels::run(ctx, "binary_add", t, good).outputs.at("out"), t);
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(out[i], mt::round_to(t, x[i] + x[i]));
  });
}

}  // namespace
