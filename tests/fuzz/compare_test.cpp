// Comparing two runs: bit for bit by default, NaNs alike when asked, approx outputs
// within their ulps; errors and their classes.
#include "fuzz/compare.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "fuzz/generator.hpp"
#include "metaltile/core/scalar_eval.hpp"

namespace mt::fuzz {
namespace {

TEST(Compare, UlpDistanceCountsRepresentableSteps) {
  const auto f32 = [](float x) { return std::bit_cast<std::uint32_t>(x); };
  EXPECT_EQ(ulp_distance(DType::F32, f32(1.0f), f32(std::nextafter(1.0f, 2.0f))), 1u);
  EXPECT_EQ(ulp_distance(DType::F32, f32(0.0f), f32(-0.0f)), 0u);
  EXPECT_EQ(ulp_distance(DType::F32, f32(-1e-45f), f32(1e-45f)), 2u);
  EXPECT_EQ(ulp_distance(DType::F32, f32(3.4028235e38f), f32(INFINITY)), 1u);
  EXPECT_EQ(ulp_distance(DType::F16, 0x3C00, 0x3C02), 2u);
  EXPECT_EQ(ulp_distance(DType::BF16, 0x8001, 0x0001), 2u);
}

TEST(Compare, ErrorClassesIgnoreNumbers) {
  EXPECT_EQ(error_class("kernel 'fuzz': division by zero at thread (3,0,0): %17: u32 = rem"),
            "kernel 'fuzz': division by zero at thread (#,#,#): %#: u# = rem");
  EXPECT_EQ(error_class("first line\nsecond"), "first line");
}

// A one-output program; its reference and candidate runs are made up here.
struct Pair {
  FuzzProgram p;
  RunResult a, b;
};

Pair one_output(DType t, std::size_t elements) {
  Pair r;
  r.p.kernel.name = "k";
  r.p.kernel.params = {{"approx_f32", ParamKind::Output, t}};
  r.p.dims.tpg = {static_cast<std::uint32_t>(elements), 1, 1};
  r.a.outputs["approx_f32"].assign(elements * size_of(t), 0);
  r.b = r.a;
  return r;
}

void set_f32(RunResult& r, std::size_t i, std::uint32_t bits) {
  write_element(r.outputs["approx_f32"].data() + 4 * i, DType::U32, Scalar::of_int(bits));
}

TEST(Compare, BitForBitByDefault) {
  Pair x = one_output(DType::F32, 2);
  EXPECT_TRUE(compare(x.p, x.a, x.b, "cand", {}).agree());
  set_f32(x.b, 1, 0x80000000u);  // -0.0 against +0.0
  const Comparison c = compare(x.p, x.a, x.b, "cand", {});
  EXPECT_EQ(c.kind, "output approx_f32 differs");
  EXPECT_NE(c.detail.find("approx_f32[1]"), std::string::npos) << c.detail;
  EXPECT_NE(c.detail.find("0x80000000"), std::string::npos) << c.detail;
}

TEST(Compare, NaNsAgreeOnlyWhenThePolicySaysSo) {
  Pair x = one_output(DType::F32, 1);
  set_f32(x.a, 0, 0xFFC00000u);
  set_f32(x.b, 0, 0x7FC00001u);
  EXPECT_FALSE(compare(x.p, x.a, x.b, "cand", {}).agree());
  EXPECT_TRUE(compare(x.p, x.a, x.b, "cand", {.nan_equal = true}).agree());
  set_f32(x.b, 0, 0x7F800000u);  // inf is not a NaN
  EXPECT_FALSE(compare(x.p, x.a, x.b, "cand", {.nan_equal = true}).agree());
}

TEST(Compare, ApproxSlotsWithinTheirTolerance) {
  Pair x = one_output(DType::F32, 2);
  x.p.layouts["approx_f32"] = OutputLayout{2, {Tolerance{4, 0.0}}};  // slot 0: elements 0, 1
  set_f32(x.a, 0, std::bit_cast<std::uint32_t>(1.0f));
  set_f32(x.b, 0, std::bit_cast<std::uint32_t>(1.0f) + 4);
  const ComparePolicy gpu{.nan_equal = true, .tolerances = true};
  EXPECT_TRUE(compare(x.p, x.a, x.b, "cand", gpu).agree());
  EXPECT_FALSE(compare(x.p, x.a, x.b, "cand", {}).agree()) << "tolerances only when asked";
  set_f32(x.b, 0, std::bit_cast<std::uint32_t>(1.0f) + 5);
  EXPECT_FALSE(compare(x.p, x.a, x.b, "cand", gpu).agree());
}

TEST(Compare, EitherRunFailingIsAFinding) {
  Pair x = one_output(DType::F32, 1);
  x.b.error = "kernel 'k': boom 7";
  EXPECT_EQ(compare(x.p, x.a, x.b, "cand", {}).kind, "cand failed: kernel 'k': boom #");
  x.a.error = "kernel 'k': bad 1";
  EXPECT_EQ(compare(x.p, x.a, x.b, "cand", {}).kind, "reference failed: kernel 'k': bad #");
}

}  // namespace
}  // namespace mt::fuzz
