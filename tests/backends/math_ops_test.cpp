// Every float math op of the op list (unary and binary) traced with the DSL and run on every
// available backend against scalar_eval, the one statement of its semantics: the interpreter
// bit for bit, the CUDA emitter within the op's documented ulps (the Ulps column of the op list;
// bit for bit where that is 0). The ops come from the list, so a new op is tested here without
// a change to this file.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/ffai/tolerance.hpp"
#include "metaltile/core/scalar_eval.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
using mt::OpKind;

std::vector<OpKind> float_math_ops(mt::OpShape shape) {
  std::vector<OpKind> ops;
#define MT_FLOAT_OP(name, printed, op_shape, operands, ...)                                    \
  if (mt::OpShape::op_shape == shape && mt::OperandClass::operands == mt::OperandClass::Float) \
    ops.push_back(OpKind::name);
  MT_FOR_EACH_OP(MT_FLOAT_OP)
#undef MT_FLOAT_OP
  return ops;
}

// out[i] = op(a[i]) or op(a[i], b[i]) in T, one element per thread.
mt::Kernel op_kernel(OpKind op, DType t) {
  return mt::trace(std::string(mt::op_name(op)) + "_" + std::string(mt::name_of(t)),
                   mt::KernelMode::Grid3D, [op, t](mt::KernelBuilder& k) {
                     mt::Tensor a = k.input("a", t), b = k.input("b", t);
                     mt::Tensor out = k.output("out", t);
                     mt::Val i = mt::program_id(0);
                     mt::if_(i < out.len(), [&] {
                       mt::Val x = a[i];
                       if (mt::is_binary(op)) {
                         mt::Val y = b[i];
                         out[i] = mt::dsl_detail::binary(op, x, y);
                       } else {
                         out[i] = mt::dsl_detail::unary(op, x);
                       }
                     });
                   });
}

// Edge values first, then a spread of magnitudes and signs.
std::vector<float> operands(std::size_t n, std::uint32_t seed) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.0f,  -0.0f,  1.0f,  -1.0f, 0.5f,
                          2.5f,  -2.5f,  inf,   -inf,  std::numeric_limits<float>::quiet_NaN(),
                          1e-6f, -3e-5f, 40.0f, -90.0f};
  std::uint32_t s = seed;
  while (v.size() < n) {
    s = s * 1664525u + 1013904223u;
    const float unit = static_cast<float>(s >> 8) / 16777216.0f;  // [0, 1)
    const float scale = std::ldexp(1.0f, static_cast<int>(s % 9) - 4);
    v.push_back((unit * 2.0f - 1.0f) * 8.0f * scale);
  }
  return v;
}

// Within `ulps` f32 ulps before the rounding to t (so 1 ulp of a narrower t) plus `absolute`,
// or both NaN.
bool close(float got, float want, int ulps, double absolute, DType t) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
  if (ulps == 0) return std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(want);
  if (got == want || std::fabs(double(got) - want) <= absolute) return true;
  if (t != DType::F32) return std::fabs(double(got) - want) <= mt::test::ulp_of(t, want);
  const auto a = std::bit_cast<std::int32_t>(got), b = std::bit_cast<std::int32_t>(want);
  return (a < 0) == (b < 0) && std::abs(static_cast<std::int64_t>(a) - b) <= ulps;
}

TEST(MathOps, EveryFloatMathOpMatchesScalarEvalOnEveryBackend) {
  const std::size_t n = 300;
  std::vector<OpKind> ops = float_math_ops(mt::OpShape::Unary);
  for (OpKind op : float_math_ops(mt::OpShape::Binary)) ops.push_back(op);
  ASSERT_GE(ops.size(), 20u);
  mt::test::for_each_backend([&](mt::Context& ctx) {
    const bool interpreter = ctx.backend() == mt::Backend::Cpu;
    for (OpKind op : ops) {
      for (DType t : {DType::F32, DType::F16, DType::BF16}) {
        SCOPED_TRACE(std::string(mt::op_name(op)) + " " + std::string(mt::name_of(t)));
        const std::vector<float> a = mt::test::round_all(operands(n, 1), t);
        const std::vector<float> b = mt::test::round_all(operands(n, 2), t);
        mt::BufferMap buffers{{"a", mt::test::pack(a, t)},
                              {"b", mt::test::pack(b, t)},
                              {"out", mt::test::poisoned(n, t)}};
        const mt::DispatchResult r = ctx.dispatch_with_grid(op_kernel(op, t), buffers, {},
                                                            {(n + 127) / 128, 1, 1}, {128, 1, 1});
        const std::vector<float> out = mt::test::unpack(r.outputs.at("out"), t);
        ASSERT_EQ(out.size(), n);
        const int ulps = interpreter ? 0 : mt::op_ulps(op);
        // gelu's 1 + erf(x / sqrt 2) cancels for x < 0, and composed functions may give 0
        // against a subnormal where an exp overflows on one side only.
        const double absolute = ulps == 0             ? 0.0
                                : op == OpKind::Gelu  ? 2e-6
                                : mt::op_ulps(op) > 4 ? 1e-30
                                                      : 0.0;
        int failures = 0;
        for (std::size_t i = 0; i < n && failures < 10; ++i) {
          std::vector<mt::Scalar> args = {mt::Scalar::of_float(a[i])};
          if (mt::is_binary(op)) args.push_back(mt::Scalar::of_float(b[i]));
          const auto want = static_cast<float>(mt::scalar_eval(op, t, t, args).f);
          if (!close(out[i], want, ulps, absolute, t)) {
            ++failures;
            ADD_FAILURE() << "[" << i << "] " << mt::op_name(op) << "(" << a[i]
                          << (mt::is_binary(op) ? ", " + std::to_string(b[i]) : "")
                          << ") = " << out[i] << ", scalar_eval " << want << " (" << ulps
                          << " ulps)";
          }
        }
      }
    }
  });
}

}  // namespace
