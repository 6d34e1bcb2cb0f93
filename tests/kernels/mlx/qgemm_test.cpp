// qgemm_affine x {f32, f16, bf16} on every backend against the f64 product of a with the
// dequantised weights (dequantize_affine's, T(T(q) * scale) + bias: affine_oracle.hpp), within
// ulp_T(ref) + 2^-16 * sum_k |a w| (docs/kernels/gemm.md): every bits value and group size;
// the entry launched by name (its rule picks its own 64 x 64 kernel or qgemm_affine_128x128) and
// each variant by name, with tails in M and N (M = 1, 3, 17, 65, 130; odd N) and K not a
// multiple of the 64-code slice; the same results as gemm on dequantize_affine's output;
// specialised scalars; over-dispatched groups; every precondition error. CPU shapes stay small:
// the interpreter computes every mma from its fragments.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/mlx/affine_oracle.hpp"
#include "kernels/mlx/affine_problem.hpp"
#include "kernels/mlx/gemv_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/mlx/quantized.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace affine = mt::test::affine;
namespace oracle = mt::test::gemv;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};

// A GEMM problem: the weights of affine_problem.hpp, M rows of activations `a`, checked against
// the product with dequantize_affine's weights.
struct Problem : affine::Problem {
  const std::vector<float>& a() const { return input; }
  // dequantize_affine's weights, values of T.
  std::vector<float> weights() const {
    return affine::dequantize(q.wq, q.scales, q.biases, n, k, group_size, bits, t);
  }
  oracle::Expected expected() const { return oracle::gemv(weights(), input, n, k); }
  mt::BufferMap buffers() const {
    mt::BufferMap b = affine::Problem::buffers("a");
    b["m"] = le_bytes(m);
    return b;
  }
};

Problem problem(DType t, std::uint32_t bits, std::uint32_t group_size, std::uint32_t m,
                std::uint32_t n, std::uint32_t k, std::uint64_t seed) {
  return {affine::make_problem(t, bits, group_size, m, n, k, seed)};
}

std::vector<float> run(const mt::Context& ctx, const std::string& name, const Problem& p,
                       const mt::BufferMap& b, const mt::ConstMap& consts = {}) {
  return affine::run(ctx, name, p, b, consts);
}

std::vector<float> run_specialised(const mt::Context& ctx, const std::string& name,
                                   const Problem& p) {
  return affine::run_specialised(ctx, name, p, p.buffers());
}

void expect_product(const std::vector<float>& out, const Problem& p) {
  oracle::expect_within(out, p.expected(), p.t, "out", oracle::kGemmRelative);
}

const std::vector<std::string>& tensor_core_variants() {
  static const std::vector<std::string> names = {"qgemm_affine", "qgemm_affine_128x128",
                                                 "qgemm_affine_128x128_w8"};
  return names;
}

// Every dtype, bits value and group size at M = 3, odd N; K = three groups of 32 (one whole
// 64-code slice and a half one) or two groups of 64 or 128.
TEST(MlxQgemm, EveryFormatMatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 300;
    for (DType t : kDTypes) {
      for (std::uint32_t bits : affine::kBits) {
        for (std::uint32_t g : affine::kGroupSizes) {
          const Problem p = problem(t, bits, g, 3, 9, g == 32 ? 96 : 2 * g, seed += 2);
          SCOPED_TRACE(p.text());
          expect_product(run_specialised(ctx, "qgemm_affine", p), p);
        }
      }
    }
  });
}

// Tails in M and N around both block sizes (64 and 128), M = 1 and odd N, K = 96 (a half
// slice at the end; 128 for groups of 64) and 192; each tensor-core variant by name, 4 bits in
// groups of 64 and 3 bits (codes straddling words) in groups of 32.
TEST(MlxQgemm, EveryVariantHandlesTailsInMAndN) {
  struct Shape {
    std::uint32_t m, n, k;
  };
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 700;
    for (const Shape& s :
         {Shape{1, 7, 96}, Shape{17, 33, 192}, Shape{65, 130, 96}, Shape{130, 67, 192}}) {
      for (DType t : {DType::F16, DType::BF16}) {
        for (const auto& [bits, g] : {std::pair{4u, 64u}, std::pair{3u, 32u}}) {
          const std::uint32_t k = (s.k + g - 1) / g * g;  // 96 is three groups of 32, not 64
          const Problem p = problem(t, bits, g, s.m, s.n, k, seed += 2);
          for (const std::string& name : tensor_core_variants()) {
            SCOPED_TRACE(p.text() + " " + name);
            expect_product(run_specialised(ctx, name, p), p);
          }
        }
      }
    }
  });
}

// f32 runs on the CUDA cores, with the same tails.
TEST(MlxQgemm, F32MatchesTheOracleWithTails) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 900;
    for (const auto& [m, n] : {std::pair{1u, 5u}, std::pair{17u, 65u}, std::pair{66u, 129u}}) {
      for (const auto& [bits, g] : {std::pair{4u, 32u}, std::pair{5u, 64u}, std::pair{8u, 128u}}) {
        const Problem p = problem(DType::F32, bits, g, m, n, 256, seed += 2);
        SCOPED_TRACE(p.text());
        expect_product(run_specialised(ctx, "qgemm_affine", p), p);
      }
    }
  });
}

// The tensor-core kernels multiply dequantize_affine's weights exactly as gemm multiplies them
// (each output's k steps of 16 in increasing order, into f32), so both give the same values.
TEST(MlxQgemm, EqualsGemmOnTheDequantisedWeights) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 1100;
    for (DType t : {DType::F16, DType::BF16}) {
      for (std::uint32_t bits : affine::kBits) {
        const Problem p = problem(t, bits, 64, 33, 40, 192, seed += 2);
        mt::BufferMap dense{{"a", mt::test::pack(p.a(), t)},
                            {"b", mt::test::pack(p.weights(), t)},
                            {"out", mt::test::poisoned(std::size_t{p.m} * p.n, t)},
                            {"m", le_bytes(p.m)},
                            {"n", le_bytes(p.n)},
                            {"k", le_bytes(p.k)}};
        const std::vector<float> want =
            mt::test::unpack(mt::kernels::run(ctx, "gemm", t, dense).outputs.at("out"), t);
        expect_product(want, p);
        for (const std::string& name : tensor_core_variants()) {
          SCOPED_TRACE(p.text() + " " + name);
          mt::test::expect_close(run_specialised(ctx, name, p), want, 0.0, 0.0, "out");
        }
      }
    }
  });
}

// Every scalar passed at run time (every bits branch in the kernel) and every scalar
// specialised give the same values, and the oracle's.
TEST(MlxQgemm, SpecialisedScalarsGiveTheSameResult) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 1300;
    for (DType t : {DType::F32, DType::BF16}) {
      for (std::uint32_t bits : affine::kBits) {
        const Problem p = problem(t, bits, 32, 5, 11, 160, seed += 2);
        SCOPED_TRACE(p.text());
        mt::BufferMap b = p.buffers();
        const std::vector<float> plain = run(ctx, "qgemm_affine", p, b);
        expect_product(plain, p);
        for (const char* s : {"m", "n", "k", "group_size", "bits"}) b.erase(s);
        const mt::ConstMap consts{
            {"m", p.m}, {"n", p.n}, {"k", p.k}, {"group_size", p.group_size}, {"bits", p.bits}};
        mt::test::expect_close(run(ctx, "qgemm_affine", p, b, consts), plain, 0.0, 0.0, "out");
      }
    }
  });
}

// The entry's kernel launched directly with more groups than blocks: the extra groups write
// nothing (out is poisoned, so a stray write or a missing one fails).
TEST(MlxQgemm, EntryKernelRunsDirectlyWithOverDispatch) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      const Problem p = problem(t, 4, 64, 70, 9, 128, 41);
      SCOPED_TRACE(p.text());
      const std::uint32_t blocks = (p.m + 63) / 64 * ((p.n + 63) / 64);
      const mt::DispatchResult r =
          ctx.dispatch_with_grid(mt::kernels::mlx::quantized::qgemm_affine::kernel_ir_for(t),
                                 p.buffers(), {}, {blocks + 3, 1, 1}, {128, 1, 1});
      expect_product(mt::test::unpack(r.outputs.at("out"), t), p);
    }
  });
}

TEST(MlxQgemm, PreconditionErrorsNameKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Problem p = problem(DType::F16, 4, 32, 3, 5, 64, 5);
    const mt::BufferMap good = p.buffers();
    const auto error = [&](const std::string& name, const mt::BufferMap& b) {
      return mt::test::error_of([&] { mt::kernels::run(ctx, name, p.t, b); });
    };
    const std::string kernel = "qgemm_affine";
    mt::BufferMap bad = good;
    bad["a"] = mt::test::poisoned(p.a().size() - 1, p.t);
    mt::test::expect_length_error(error(kernel, bad), kernel, "a", "192", p.a().size() - 1);
    bad = good;
    bad["wq"] = mt::test::poisoned(p.q.wq.size() - 8, DType::U32);
    mt::test::expect_length_error(error(kernel, bad), kernel, "wq", std::to_string(p.q.wq.size()),
                                  p.q.wq.size() - 8);
    bad = good;
    bad["scales"] = mt::test::poisoned(p.q.scales.size() + 2, p.t);
    mt::test::expect_length_error(error(kernel, bad), kernel, "scales",
                                  std::to_string(p.q.scales.size()), p.q.scales.size() + 2);
    bad = good;
    bad["biases"] = mt::test::poisoned(p.q.biases.size() - 2, p.t);
    mt::test::expect_length_error(error("qgemm_affine_128x128", bad), "qgemm_affine_128x128",
                                  "biases", std::to_string(p.q.biases.size()),
                                  p.q.biases.size() - 2);
    bad = good;
    bad["out"] = mt::test::poisoned(14, p.t);
    mt::test::expect_length_error(error(kernel, bad), kernel, "out", "15", 14);
    bad = good;
    bad["k"] = le_bytes(48u);
    bad["a"] = mt::test::poisoned(3 * 48, p.t);
    mt::test::expect_mentions(error(kernel, bad),
                              {"kernel 'qgemm_affine'", "k % group_size == 0", "k=48"});
    bad = good;
    bad["bits"] = le_bytes(7u);
    mt::test::expect_mentions(error(kernel, bad), {"kernel 'qgemm_affine'", "param 'bits'",
                                                   "bits in {2, 3, 4, 5, 6, 8}"});
    bad = good;
    bad["group_size"] = le_bytes(256u);
    mt::test::expect_mentions(error(kernel, bad),
                              {"param 'group_size'", "group_size in {32, 64, 128}"});
    bad = good;
    bad["m"] = le_bytes(0u);
    bad["a"] = {};
    bad["out"] = {};
    mt::test::expect_mentions(error(kernel, bad),
                              {"kernel 'qgemm_affine'", "param 'm'", "m and n are positive"});
    mt::test::expect_mentions(mt::test::error_of([&] {
                                ctx.dispatch_with_grid(
                                    mt::kernels::mlx::quantized::qgemm_affine::kernel_ir_for(p.t),
                                    good, {}, {1, 1, 1}, {256, 1, 1});
                              }),
                              {"kernel 'qgemm_affine'", "tpg = (128, 1, 1)"});
    mt::test::expect_mentions(
        mt::test::error_of(
            [] { mt::kernels::mlx::quantized::qgemm_affine_128x128::kernel_ir_for(DType::F32); }),
        {"kernel 'qgemm_affine_128x128'", "f32"});
    // The context stays usable.
    expect_product(run(ctx, kernel, p, good), p);
  });
}

}  // namespace
