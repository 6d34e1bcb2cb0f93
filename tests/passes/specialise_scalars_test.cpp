// specialise_scalars: named scalar reads become normalised constants, the parameters go and
// the rest are renumbered; unknown names and tensors are errors naming kernel and param.
#include "metaltile/passes/specialise_scalars.hpp"

#include <gtest/gtest.h>

#include <string>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "passes/expect_pass.hpp"

namespace mt {
namespace {

using passes::specialise_scalars;

Kernel scaled_copy() {
  return trace("scaled_copy", KernelMode::Grid3D, [](KernelBuilder& b) {
    Val n = b.scalar_u32("n");
    Tensor in = b.input("in", DType::F32);
    Val scale = b.scalar_f32("scale");
    Tensor out = b.output("out", DType::F32);
    Val bias = b.scalar_i32("bias");
    b.require(n < 4096, "n < 4096");
    Val i = program_id(0);
    Val inside = i < n;
    if_(inside, [&] {
      Val x = in[i];
      Val scaled = x * scale;
      Val offset = bias.to(DType::F32);
      out[i] = scaled + offset;
    });
  });
}

// The pass bound to a fixed map, as expect_pass runs it.
test::Pass specialise(std::map<std::string, Scalar> values) {
  return [values](Kernel k) { return specialise_scalars(std::move(k), values); };
}

TEST(SpecialiseScalars, NoValuesLeavesTheKernelUnchanged) {
  test::expect_unchanged(specialise({}), scaled_copy());
}

TEST(SpecialiseScalars, BakesNormalisedValuesAndRenumbersTheRest) {
  // -1 wraps to u32's maximum; 0.1 rounds to the nearest f32.
  test::expect_pass(specialise({{"n", Scalar::of_int(-1)}, {"scale", Scalar::of_float(0.1)}}),
                    scaled_copy(),
                    "kernel scaled_copy mode=Grid3D\n"
                    "  param in: input f32\n"
                    "  param out: output f32\n"
                    "  param bias: scalar i32\n"
                    "contract {\n"
                    "  %5: u32 = const 4294967295\n"
                    "  %6: u32 = const 4096\n"
                    "  %7: bool = lt %5, %6\n"
                    "  require %7 \"n < 4096\"\n"
                    "}\n"
                    "body {\n"
                    "  %0: u32 = const 4294967295\n"
                    "  %1: f32 = const 0.1\n"
                    "  %2: i32 = scalar bias\n"
                    "  %3: u32 = const 4096\n"
                    "  %4: bool = lt %0, %3\n"
                    "  %8: u32 = program_id 0\n"
                    "  %9: bool = lt %8, %0\n"
                    "  if %9 {\n"
                    "    %10: f32 = load in[%8]\n"
                    "    %11: f32 = mul %10, %1\n"
                    "    %12: f32 = cast %2\n"
                    "    %13: f32 = add %11, %12\n"
                    "    store out[%8] = %13\n"
                    "  }\n"
                    "}\n");
}

void expect_error(const std::map<std::string, Scalar>& values, const std::string& param,
                  const std::string& detail) {
  try {
    specialise_scalars(scaled_copy(), values);
    ADD_FAILURE() << "specialising " << param << " did not throw";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("kernel 'scaled_copy'"), std::string::npos) << what;
    EXPECT_NE(what.find("param '" + param + "'"), std::string::npos) << what;
    EXPECT_NE(what.find(detail), std::string::npos) << what;
  }
}

TEST(SpecialiseScalars, UnknownNamesAndTensorsAreErrors) {
  expect_error({{"nn", Scalar::of_int(1)}}, "nn", "no such parameter");
  expect_error({{"n", Scalar::of_int(1)}, {"out", Scalar::of_int(1)}}, "out", "tensor");
}

}  // namespace
}  // namespace mt
