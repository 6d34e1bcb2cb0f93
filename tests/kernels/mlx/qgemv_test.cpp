// qgemv_affine x {f32, f16, bf16} on every backend against the f64 GEMV oracle of the exact
// dequantised weights (scale * q + bias, affine_oracle.hpp), for every bits value and group
// size: launched by name (the rule picks qgemv_affine_m1/_m4/_m8 or qgemv_affine itself) and
// each variant by name, M = 1, 3 and 16 (and 2, 8), odd N, rows long enough for the unrolled
// units and a remainder; specialised scalars; every precondition error.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/mlx/affine_oracle.hpp"
#include "kernels/mlx/affine_problem.hpp"
#include "kernels/mlx/gemv_oracle.hpp"
#include "kernels/mlx/rows_oracle.hpp"
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

// A GEMV problem: the weights of affine_problem.hpp, M rows of activations `x`, checked against
// the exact dequantised weights.
struct Problem : affine::Problem {
  oracle::Expected expected() const {
    const std::vector<double> w =
        affine::dequantize_exact(q.wq, q.scales, q.biases, n, k, group_size, bits);
    return oracle::gemv(w, input, n, k);
  }
  mt::BufferMap buffers() const { return affine::Problem::buffers("x"); }
};

Problem problem(DType t, std::uint32_t bits, std::uint32_t group_size, std::uint32_t n,
                std::uint32_t k, std::uint32_t m, std::uint64_t seed) {
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

std::vector<std::string> variants_for(std::uint32_t m) {
  std::vector<std::string> names = {"qgemv_affine"};
  if (m <= 1) names.insert(names.end(), {"qgemv_affine_m1", "qgemv_affine_m1_r2"});
  if (m <= 4) names.push_back("qgemv_affine_m4");
  if (m <= 8) names.push_back("qgemv_affine_m8");
  return names;
}

// Every dtype, bits value and group size with M = 1, 3 and 16 (K = 2 groups, 3 for 32).
TEST(MlxQgemv, EveryFormatMatchesTheOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 500;
    for (DType t : kDTypes) {
      for (std::uint32_t bits : affine::kBits) {
        for (std::uint32_t g : affine::kGroupSizes) {
          for (std::uint32_t m : {1u, 3u, 16u}) {
            const Problem p = problem(t, bits, g, 5, g == 32 ? 96 : 2 * g, m, seed += 2);
            SCOPED_TRACE(p.text());
            oracle::expect_within(run_specialised(ctx, "qgemv_affine", p), p.expected(), t, "out");
          }
        }
      }
    }
  });
}

// Each variant by name on rows of 64 * U + 2 units: qgemv_affine_m1 takes U units a lane and
// step (2 for 2 and 4 bits, else 1), so its last step is partial (lanes 0 and 1 only, and for
// U = 2 their second unit lies past the row); the other variants take runs of 8 codes, the last
// of their steps partial as well. Odd N.
TEST(MlxQgemv, EveryVariantCoversFullAndPartialSteps) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 900;
    for (DType t : {DType::BF16, DType::F32}) {
      for (std::uint32_t bits : affine::kBits) {
        const std::uint32_t unroll = bits == 2 || bits == 4 ? 2 : 1;
        const std::uint32_t k = 32 * (64 * unroll + 2);
        for (std::uint32_t m : {1u, 2u, 8u}) {
          const Problem p = problem(t, bits, 32, 3, k, m, seed += 2);
          const oracle::Expected want = p.expected();
          for (const std::string& name : variants_for(m)) {
            SCOPED_TRACE(p.text() + " " + name);
            oracle::expect_within(run_specialised(ctx, name, p), want, t, "out");
          }
        }
      }
    }
  });
}

// bits, group_size, k and n passed at run time (every bits branch in the kernel) and
// specialised give the same bits, and the oracle's result.
TEST(MlxQgemv, SpecialisedScalarsGiveTheSameResult) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::uint64_t seed = 77;
    for (std::uint32_t bits : affine::kBits) {
      for (std::uint32_t m : {1u, 16u}) {
        const Problem p = problem(DType::BF16, bits, 64, 9, 4160, m, seed += 2);
        SCOPED_TRACE(p.text() + " specialised");
        mt::BufferMap b = p.buffers();
        const std::vector<float> plain = run(ctx, "qgemv_affine", p, b);
        oracle::expect_within(plain, p.expected(), p.t, "out");
        for (const char* s : {"k", "n", "group_size", "bits"}) b.erase(s);
        const mt::ConstMap consts{
            {"k", p.k}, {"n", p.n}, {"group_size", p.group_size}, {"bits", p.bits}};
        mt::test::expect_close(run(ctx, "qgemv_affine", p, b, consts), plain, 0.0, 0.0, "out");
      }
    }
  });
}

TEST(MlxQgemv, PreconditionErrorsNameKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const Problem p = problem(DType::F16, 4, 32, 3, 64, 2, 5);
    const mt::BufferMap good = p.buffers();
    const auto error = [&](const std::string& name, const mt::BufferMap& b) {
      return mt::test::error_of([&] { mt::kernels::run(ctx, name, p.t, b); });
    };
    mt::BufferMap bad = good;
    bad["k"] = le_bytes(48u);
    bad["x"] = mt::test::pack(std::vector<float>(96, 0.0f), p.t);
    mt::test::expect_mentions(error("qgemv_affine", bad),
                              {"kernel 'qgemv_affine'", "k % group_size == 0", "k=48"});
    bad = good;
    bad["wq"] = mt::test::poisoned(p.q.wq.size() - 8, DType::U32);
    mt::test::expect_length_error(error("qgemv_affine", bad), "qgemv_affine", "wq",
                                  std::to_string(p.q.wq.size()), p.q.wq.size() - 8);
    bad = good;
    bad["scales"] = mt::test::poisoned(p.q.scales.size() + 2, p.t);
    mt::test::expect_length_error(error("qgemv_affine", bad), "qgemv_affine", "scales",
                                  std::to_string(p.q.scales.size()), p.q.scales.size() + 2);
    bad = good;
    bad["biases"] = mt::test::poisoned(p.q.biases.size() - 2, p.t);
    mt::test::expect_length_error(error("qgemv_affine", bad), "qgemv_affine", "biases",
                                  std::to_string(p.q.biases.size()), p.q.biases.size() - 2);
    bad = good;
    bad["bits"] = le_bytes(7u);
    mt::test::expect_mentions(error("qgemv_affine", bad), {"kernel 'qgemv_affine'", "param 'bits'",
                                                           "bits in {2, 3, 4, 5, 6, 8}"});
    bad = good;
    bad["group_size"] = le_bytes(256u);
    mt::test::expect_mentions(error("qgemv_affine", bad),
                              {"param 'group_size'", "group_size in {32, 64, 128}"});
    bad = good;
    bad["x"] = mt::test::pack(std::vector<float>(17 * 64, 0.0f), p.t);
    bad["out"] = mt::test::poisoned(17 * 3, p.t);
    mt::test::expect_mentions(error("qgemv_affine", bad), {"1 <= len(x) / k <= 16"});
    mt::test::expect_mentions(error("qgemv_affine_m1", good),
                              {"kernel 'qgemv_affine_m1'", "1 <= len(x) / k <= 1"});
    bad = good;
    bad["out"] = mt::test::poisoned(5, p.t);
    mt::test::expect_length_error(error("qgemv_affine", bad), "qgemv_affine", "out", "6", 5);
    oracle::expect_within(run(ctx, "qgemv_affine", p, good), p.expected(), p.t, "out");
  });
}

}  // namespace
