// Row softmax x {f32, f16, bf16} on every backend against the double oracle of
// rows_oracle.hpp: every shape of shapes(), rows far from zero and with -inf, a specialised row
// length, the device-resident launch path, and precondition errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/mlx/rows.hpp"
#include "metaltile/runtime/device.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace rows = mt::test::rows;
namespace mlx = mt::kernels::mlx::rows;

// Dispatches softmax over x (rows of s.n) and returns the output rows, checking the length
// (exactly the rows: idle threadgroups must write nothing).
std::vector<float> run_softmax(const mt::Context& ctx, DType t, const rows::Shape& s,
                               const std::vector<float>& x, const mt::ConstMap& consts = {}) {
  mt::BufferMap b;
  b["x"] = mt::test::pack(x, t);
  b["out"] = mt::test::poisoned(s.elements(), t);
  if (consts.count("n") == 0) b["n"] = le_bytes(s.n);
  const mt::DispatchResult r = rows::launch(ctx, mlx::softmax::kernel_ir_for(t), b, s, consts);
  return mt::test::unpack(rows::checked_output(r, "out", s.elements(), t), t);
}

TEST(MlxSoftmax, MatchesOracleOnEveryShape) {
  rows::for_each_case([](const rows::Case& c) {
    const std::vector<float> x = rows::random_values(c.shape.elements(), c.seed, c.t, -4.0f, 4.0f);
    const std::vector<float> out = run_softmax(*c.ctx, c.t, c.shape, x);
    rows::expect_within(out, rows::softmax(x, c.shape.n), c.t, "out");
  });
}

// Rows whose plain exponentials overflow (offset 1000: only x - max keeps them finite), a
// row with -inf entries (their outputs are exactly 0), and a row of equal values (1/n each).
TEST(MlxSoftmax, SubtractsTheRowMaxAndHandlesMinusInfinity) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      for (const rows::Shape s : {rows::Shape{100, 33, 4, 0}, rows::Shape{1000, 256, 4, 1}}) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text());
        std::vector<float> x = rows::random_values(s.elements(), 77 + s.n, t, -3.0f, 3.0f);
        for (std::size_t i = 0; i < s.n; ++i) {
          x[i] = mt::round_to(t, 1000.0f + x[i]);
          x[2 * s.n + i] = 0.25f;
        }
        x[s.n + 1] = -rows::kInf;
        x[s.n + s.n - 1] = -rows::kInf;
        x[3 * s.n + s.n / 2] = mt::round_to(t, 60.0f);  // one value dominating its row
        const std::vector<float> out = run_softmax(ctx, t, s, x);
        rows::expect_within(out, rows::softmax(x, s.n), t, "out");
        ASSERT_EQ(out.size(), s.elements());
        EXPECT_EQ(out[s.n + 1], 0.0f);
        EXPECT_EQ(out[s.n + s.n - 1], 0.0f);
      }
    }
  });
}

TEST(MlxSoftmax, SpecialisedRowLengthMatchesOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      const rows::Shape s{100, 64, 3, 1};
      SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " n specialised");
      const std::vector<float> x = rows::random_values(s.elements(), 5, t, -4.0f, 4.0f);
      const std::vector<float> out = run_softmax(ctx, t, s, x, {{"n", s.n}});
      rows::expect_within(out, rows::softmax(x, s.n), t, "out");
    }
  });
}

// The path the benchmark takes: device buffers, a prepared kernel, a launch on a stream.
TEST(MlxSoftmax, DeviceResidentLaunchMatchesOracle) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      const rows::Shape s{1000, 128, 3, 0};
      SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() + " device-resident");
      const std::vector<float> x = rows::random_values(s.elements(), 9, t, -4.0f, 4.0f);
      const mt::DeviceBuffer in = ctx.upload(mt::test::pack(x, t));
      const mt::DeviceBuffer out = ctx.upload(mt::test::poisoned(s.elements(), t));
      const mt::PreparedKernel k = ctx.prepare(mlx::softmax::kernel_ir_for(t));
      const mt::Stream stream = ctx.create_stream();
      ctx.launch(k, {{"x", in}, {"out", out}, {"n", s.n}}, {s.rows, 1, 1}, {s.tpg, 1, 1}, stream);
      stream.synchronize();
      rows::expect_within(mt::test::unpack(out.download(), t), rows::softmax(x, s.n), t, "out");
    }
  });
}

TEST(MlxSoftmax, PreconditionErrorsNameKernelAndParam) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : rows::kDTypes) {
      SCOPED_TRACE(mt::name_of(t));
      const mt::Kernel k = mlx::softmax::kernel_ir_for(t);
      const rows::Shape s{7, 32, 3, 0};
      mt::BufferMap good;
      good["x"] = mt::test::pack(rows::random_values(21, 1, t, -1.0f, 1.0f), t);
      good["out"] = mt::test::poisoned(21, t);
      good["n"] = le_bytes(7u);

      mt::BufferMap bad = good;
      bad["n"] = le_bytes(5u);  // 21 elements are not whole rows of 5
      rows::expect_error(
          [&] { rows::launch(ctx, k, bad, s); }, "softmax",
          {"param 'x'", "expected a multiple of 5 elements", "n=5", "got 21 elements"});
      bad["n"] = le_bytes(0u);
      rows::expect_error([&] { rows::launch(ctx, k, bad, s); }, "softmax", {"n > 0", "n=0"});
      // The context stays usable, and the valid buffers still give the oracle's rows.
      const mt::DispatchResult r = rows::launch(ctx, k, good, s);
      rows::expect_within(mt::test::unpack(r.outputs.at("out"), t),
                          rows::softmax(mt::test::unpack(good["x"], t), 7), t, "out");
    }
  });
}

TEST(MlxSoftmax, RejectsNonFloatDTypes) {
  for (DType t : {DType::U32, DType::I32, DType::F8E4M3}) {
    try {
      mlx::softmax::kernel_ir_for(t);
      ADD_FAILURE() << "no error for " << mt::name_of(t);
    } catch (const mt::Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("kernel 'softmax'"), std::string::npos) << what;
      EXPECT_NE(what.find(std::string(mt::name_of(t))), std::string::npos) << what;
    }
  }
}

}  // namespace
