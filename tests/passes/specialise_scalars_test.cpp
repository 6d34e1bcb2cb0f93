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

// A kernel whose arrays take their size from scalars; `m` comes before `n`.
Kernel sized_arrays() {
  return trace("sized", KernelMode::Reduction, [](KernelBuilder& b) {
    Val m = b.scalar_u32("m");
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    ArrayRef rows = b.threadgroup_array("rows", DType::F32, m);
    ArrayRef cols = b.threadgroup_array("cols", DType::F16, n);
    b.threadgroup_array("fixed", DType::U32, 4);
    Val t = thread_id(0);
    rows[t] = f32(1);
    cols[t] = f32(2).to(DType::F16);
    barrier();
    Val i = t % n;
    Val r = rows[t];
    Val c = cols[i].to(DType::F32);
    out[t] = r + c;
  });
}

TEST(SpecialiseScalars, ArraySizesComeFromTheirScalars) {
  test::expect_pass(specialise({{"n", Scalar::of_int(48)}, {"m", Scalar::of_int(256)}}),
                    sized_arrays(),
                    "kernel sized mode=Reduction\n"
                    "  param out: output f32\n"
                    "  array rows: threadgroup f32[256]\n"
                    "  array cols: threadgroup f16[48]\n"
                    "  array fixed: threadgroup u32[4]\n"
                    "body {\n"
                    "  %0: u32 = const 256\n"
                    "  %1: u32 = const 48\n"
                    "  %2: u32 = thread_id 0\n"
                    "  %3: f32 = const 1\n"
                    "  array_store rows[%2] = %3\n"
                    "  %4: f32 = const 2\n"
                    "  %5: f16 = cast %4\n"
                    "  array_store cols[%2] = %5\n"
                    "  barrier\n"
                    "  %6: u32 = rem %2, %1\n"
                    "  %7: f32 = array_load rows[%2]\n"
                    "  %8: f16 = array_load cols[%6]\n"
                    "  %9: f32 = cast %8\n"
                    "  %10: f32 = add %7, %9\n"
                    "  store out[%2] = %10\n"
                    "}\n");
}

TEST(SpecialiseScalars, AnArraySizedByAKeptScalarFollowsItsNewId) {
  // m goes, so n moves from param 2 to param 1; cols must still name n.
  const Kernel k = specialise_scalars(sized_arrays(), {{"m", Scalar::of_int(8)}});
  ASSERT_EQ(k.arrays.size(), 3u);
  EXPECT_EQ(k.arrays[0].size, 8u);
  EXPECT_FALSE(k.arrays[0].size_param.valid());
  ASSERT_TRUE(k.arrays[1].size_param.valid());
  EXPECT_EQ(k.param(k.arrays[1].size_param).name, "n");
  EXPECT_EQ(k.arrays[1].size, 0u);
  EXPECT_NE(print(k).find("  array cols: threadgroup f16[size=n]\n"), std::string::npos)
      << print(k);
  EXPECT_NO_THROW(verify(k));
}

TEST(SpecialiseScalars, AnArraySizeBelowOneIsAnError) {
  try {
    specialise_scalars(sized_arrays(), {{"n", Scalar::of_int(0)}, {"m", Scalar::of_int(4)}});
    ADD_FAILURE() << "an array of size 0 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "kernel 'sized': param 'n': specialised to 0, but array 'cols' takes its size from "
              "it; an array size must be at least 1");
  }
}

}  // namespace
}  // namespace mt
