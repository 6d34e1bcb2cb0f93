// add_rms_norm and rms_norm_short_rows x {f32, f16, bf16} on every backend against f64 oracles:
// h exactly round_T(x + residual), out within 2 ulp of T (f16, bf16) or 1e-6 relative (f32);
// odd row lengths, lengths that are not multiples of the vector width, explicit group sizes,
// weight_offset 0 and 1; rms_norm by name hands short rows to rms_norm_short_rows; and every
// length contract is an mt::Error naming the kernel and the buffer.
#include "metaltile/kernels/ffai/norms.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/ffai/tolerance.hpp"
#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/mlx/rows.hpp"
#include "metaltile/kernels/run.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace rows = mt::test::rows;
namespace norms = mt::kernels::ffai::norms;

constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
constexpr float kEps = 1e-6f;

// The spec's bound: 2 ulp of T for f16/bf16 (either rounding order of the last steps passes),
// 1e-6 relative for f32 (plus the smallest normal, for results near zero).
double out_tolerance(DType t, double expected) {
  if (t == DType::F32) return 1e-6 * std::fabs(expected) + 0x1p-126;
  return 2.0 * mt::test::ulp_of(t, expected);
}

struct Rows {
  std::uint32_t rows = 1, n = 1;
  std::size_t elements() const { return std::size_t{rows} * n; }
  std::string text() const { return std::to_string(rows) + " x " + std::to_string(n); }
};

// out = x * rsqrt(mean(x^2) + eps) * (w + offset), per row, in double.
std::vector<double> rms_oracle(const std::vector<float>& x, const std::vector<float>& w,
                               std::size_t n, float eps, float offset) {
  std::vector<double> out(x.size());
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    double sum_sq = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum_sq += double(x[r * n + i]) * x[r * n + i];
    const double scale = 1.0 / std::sqrt(sum_sq / double(n) + double(eps));
    for (std::size_t i = 0; i < n; ++i) {
      out[r * n + i] = x[r * n + i] * scale * (double(w[i]) + double(offset));
    }
  }
  return out;
}

void expect_out(const std::vector<float>& actual, const std::vector<double>& expected, DType t,
                const std::string& label) {
  mt::test::expect_within(
      actual, expected, [&](std::size_t i) { return out_tolerance(t, expected[i]); }, label);
}

// ---- add_rms_norm -------------------------------------------------------------------------------

struct AddInputs {
  std::vector<float> x, residual, w;
  float offset = 0.0f;
};

AddInputs add_inputs(const Rows& s, DType t, std::uint64_t seed, float offset) {
  AddInputs in;
  in.x = rows::random_values(s.elements(), seed, t, -2.0f, 2.0f);
  in.residual = rows::random_values(s.elements(), seed + 1, t, -3.0f, 3.0f);
  in.w = rows::random_values(s.n, seed + 2, t, -1.5f, 1.5f);
  in.offset = offset;
  return in;
}

mt::BufferMap add_buffers(const Rows& s, DType t, const AddInputs& in) {
  mt::BufferMap b;
  b["x"] = mt::test::pack(in.x, t);
  b["residual"] = mt::test::pack(in.residual, t);
  b["w"] = mt::test::pack(in.w, t);
  b["h"] = mt::test::poisoned(s.elements(), t);
  b["out"] = mt::test::poisoned(s.elements(), t);
  b["n"] = le_bytes(s.n);
  b["eps"] = le_bytes(kEps);
  b["weight_offset"] = le_bytes(in.offset);
  return b;
}

// h must be exactly round_T(x + residual) (the sum taken in f32); out is checked against the
// oracle computed from that h.
void check_add_rms_norm(const mt::DispatchResult& r, const Rows& s, DType t, const AddInputs& in) {
  std::vector<float> h(s.elements());
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = mt::round_to(t, in.x[i] + in.residual[i]);
  ASSERT_EQ(r.outputs.count("h"), 1u);
  ASSERT_EQ(r.outputs.count("out"), 1u);
  rows::expect_exact(mt::test::unpack(r.outputs.at("h"), t), h, "h");
  expect_out(mt::test::unpack(r.outputs.at("out"), t), rms_oracle(h, in.w, s.n, kEps, in.offset), t,
             "out");
}

const Rows kAddShapes[] = {{1, 1},   {3, 7},   {2, 8},    {3, 33},
                           {2, 100}, {2, 256}, {1, 1000}, {2, 4096}};

TEST(AddRmsNorm, MatchesOracleOnEveryShapeByName) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (const Rows& s : kAddShapes) {
        for (float offset : {0.0f, 1.0f}) {
          SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() +
                       " offset=" + std::to_string(offset));
          const AddInputs in = add_inputs(s, t, 11 * s.n + s.rows, offset);
          check_add_rms_norm(mt::kernels::run(ctx, "add_rms_norm", t, add_buffers(s, t, in)), s, t,
                             in);
        }
      }
    }
  });
}

// Group sizes the geometry rule does not pick: one thread (fully serial), a partial warp, and
// more threads than the row has elements; plus a threadgroup past the last row.
TEST(AddRmsNorm, AnyThreadgroupSize) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      const Rows s{3, 40};
      for (std::size_t tpg : {1, 33, 64, 1024}) {
        SCOPED_TRACE(std::string(mt::name_of(t)) + " tpg=" + std::to_string(tpg));
        const AddInputs in = add_inputs(s, t, 5 + tpg, 0.0f);
        const mt::DispatchResult r =
            ctx.dispatch_with_grid(norms::add_rms_norm::kernel_ir_for(t), add_buffers(s, t, in), {},
                                   {s.rows + 1, 1, 1}, {tpg, 1, 1});
        check_add_rms_norm(r, s, t, in);
      }
    }
  });
}

TEST(AddRmsNorm, LengthErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const Rows s{3, 16};
    const AddInputs in = add_inputs(s, t, 3, 0.0f);
    const mt::BufferMap good = add_buffers(s, t, in);
    auto expect_bad = [&](const std::function<void(mt::BufferMap&)>& spoil,
                          const std::vector<std::string>& parts) {
      mt::BufferMap b = good;
      spoil(b);
      std::vector<std::string> all = parts;
      all.push_back("add_rms_norm");
      mt::test::expect_mentions(
          mt::test::error_of([&] { mt::kernels::run(ctx, "add_rms_norm", t, b); }), all);
    };
    auto expect_len = [&](const std::function<void(mt::BufferMap&)>& spoil,
                          const std::string& param, const std::string& expected, std::size_t got) {
      mt::BufferMap b = good;
      spoil(b);
      mt::test::expect_length_error(
          mt::test::error_of([&] { mt::kernels::run(ctx, "add_rms_norm", t, b); }), "add_rms_norm",
          param, expected, got);
    };
    expect_bad([](mt::BufferMap& b) { b["n"] = le_bytes(0u); }, {"n > 0"});
    expect_len([](mt::BufferMap& b) { b["n"] = le_bytes(5u); }, "x", "a multiple of 5", 48);
    expect_len([&](mt::BufferMap& b) { b["w"] = mt::test::poisoned(15, t); }, "w", "16", 15);
    expect_len([&](mt::BufferMap& b) { b["residual"] = mt::test::poisoned(32, t); }, "residual",
               "48", 32);
    expect_len([&](mt::BufferMap& b) { b["h"] = mt::test::poisoned(64, t); }, "h", "48", 64);
    expect_len([&](mt::BufferMap& b) { b["out"] = mt::test::poisoned(47, t); }, "out", "48", 47);
    check_add_rms_norm(mt::kernels::run(ctx, "add_rms_norm", t, good), s, t, in);
  });
}

// ---- rms_norm over short rows -------------------------------------------------------------------

struct NormInputs {
  std::vector<float> x, w;
  float offset = 0.0f;
};

mt::BufferMap norm_buffers(const Rows& s, DType t, const NormInputs& in) {
  mt::BufferMap b;
  b["x"] = mt::test::pack(in.x, t);
  b["w"] = mt::test::pack(in.w, t);
  b["out"] = mt::test::poisoned(s.elements(), t);
  b["n"] = le_bytes(s.n);
  b["eps"] = le_bytes(kEps);
  b["weight_offset"] = le_bytes(in.offset);
  return b;
}

NormInputs norm_inputs(const Rows& s, DType t, std::uint64_t seed, float offset) {
  return NormInputs{rows::random_values(s.elements(), seed, t, -3.0f, 3.0f),
                    rows::random_values(s.n, seed + 1, t, -1.5f, 1.5f), offset};
}

// Row lengths below, at and above each team size (1 to 32 lanes, vectors and single
// elements), row counts that leave the last threadgroup partly empty.
const Rows kShortShapes[] = {{1, 1},    {37, 1},   {5, 7},   {9, 8},   {17, 16},  {40, 64},
                             {33, 100}, {40, 128}, {7, 129}, {3, 250}, {21, 256}, {2, 96}};

TEST(RmsNormShortRows, MatchesOracleByBothNames) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : kDTypes) {
      for (const Rows& s : kShortShapes) {
        for (float offset : {0.0f, 1.0f}) {
          SCOPED_TRACE(std::string(mt::name_of(t)) + " " + s.text() +
                       " offset=" + std::to_string(offset));
          const NormInputs in = norm_inputs(s, t, 7 * s.n + s.rows, offset);
          const mt::BufferMap b = norm_buffers(s, t, in);
          const mt::DispatchResult direct = mt::kernels::run(ctx, "rms_norm_short_rows", t, b);
          expect_out(mt::test::unpack(direct.outputs.at("out"), t),
                     rms_oracle(in.x, in.w, s.n, kEps, offset), t, "out");
          // rms_norm by name takes the same path for n <= 256: the same bits.
          const mt::DispatchResult by_rms_norm = mt::kernels::run(ctx, "rms_norm", t, b);
          EXPECT_EQ(by_rms_norm.outputs.at("out"), direct.outputs.at("out"));
        }
      }
    }
  });
}

// A group of 48 threads held one team of 32 lanes (n = 128 f32: 32 vectors) and 16 lanes of the
// next row's team, which summed half of that row and stored it over the next group's result.
// Groups of whole warps only: 48 is an error naming the kernel, as is a 2-D group; 64 works.
TEST(RmsNormShortRows, GroupOfPartialWarpsIsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F32;
    const Rows s{6, 128};
    const NormInputs in = norm_inputs(s, t, 11, 0.0f);
    const mt::Kernel k = mt::kernels::ffai::norms::rms_norm_short_rows::kernel_ir_for(t);
    mt::test::expect_mentions(
        mt::test::error_of([&] {
          ctx.dispatch_with_grid(k, norm_buffers(s, t, in), {}, {6, 1, 1}, {48, 1, 1});
        }),
        {"kernel 'rms_norm_short_rows'", "tpg.x % 32 == 0 (whole warps)"});
    mt::test::expect_mentions(
        mt::test::error_of([&] {
          ctx.dispatch_with_grid(k, norm_buffers(s, t, in), {}, {6, 1, 1}, {32, 2, 1});
        }),
        {"kernel 'rms_norm_short_rows'", "a 1-D threadgroup"});
    const mt::DispatchResult r =
        ctx.dispatch_with_grid(k, norm_buffers(s, t, in), {}, {3, 1, 1}, {64, 1, 1});
    expect_out(mt::test::unpack(r.outputs.at("out"), t), rms_oracle(in.x, in.w, s.n, kEps, 0.0f), t,
               "out");
  });
}

// Above 256 rms_norm keeps one threadgroup per row: the same bits as the explicit launch.
TEST(RmsNormShortRows, LongRowsStayOnTheRowKernel) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::BF16;
    const Rows s{3, 264};
    const NormInputs in = norm_inputs(s, t, 9, 0.0f);
    const mt::BufferMap b = norm_buffers(s, t, in);
    const mt::DispatchResult by_name = mt::kernels::run(ctx, "rms_norm", t, b);
    const mt::DispatchResult explicit_grid = ctx.dispatch_with_grid(
        mt::kernels::mlx::rows::rms_norm::kernel_ir_for(t), b, {}, {s.rows, 1, 1}, {64, 1, 1});
    EXPECT_EQ(by_name.outputs.at("out"), explicit_grid.outputs.at("out"));
    expect_out(mt::test::unpack(by_name.outputs.at("out"), t),
               rms_oracle(in.x, in.w, s.n, kEps, 0.0f), t, "out");
  });
}

TEST(RmsNormShortRows, LengthErrorsNameKernelAndBuffer) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const DType t = DType::F16;
    const Rows s{6, 32};
    const NormInputs in = norm_inputs(s, t, 4, 0.0f);
    const mt::BufferMap good = norm_buffers(s, t, in);
    auto expect_bad = [&](const std::function<void(mt::BufferMap&)>& spoil,
                          const std::vector<std::string>& parts) {
      mt::BufferMap b = good;
      spoil(b);
      std::vector<std::string> all = parts;
      all.push_back("rms_norm_short_rows");
      mt::test::expect_mentions(
          mt::test::error_of([&] { mt::kernels::run(ctx, "rms_norm_short_rows", t, b); }), all);
    };
    auto expect_len = [&](const std::function<void(mt::BufferMap&)>& spoil,
                          const std::string& param, const std::string& expected, std::size_t got) {
      mt::BufferMap b = good;
      spoil(b);
      mt::test::expect_length_error(
          mt::test::error_of([&] { mt::kernels::run(ctx, "rms_norm_short_rows", t, b); }),
          "rms_norm_short_rows", param, expected, got);
    };
    expect_bad([](mt::BufferMap& b) { b["n"] = le_bytes(0u); }, {"n > 0"});
    expect_len([](mt::BufferMap& b) { b["n"] = le_bytes(7u); }, "x", "a multiple of 7", 192);
    expect_len([&](mt::BufferMap& b) { b["w"] = mt::test::poisoned(31, t); }, "w", "32", 31);
    expect_len([&](mt::BufferMap& b) { b["out"] = mt::test::poisoned(160, t); }, "out", "192", 160);
    expect_out(mt::test::unpack(
                   mt::kernels::run(ctx, "rms_norm_short_rows", t, good).outputs.at("out"), t),
               rms_oracle(in.x, in.w, s.n, kEps, 0.0f), t, "out");
  });
}

}  // namespace
