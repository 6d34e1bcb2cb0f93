// Fragment layouts (each role's lanes x elements cover its matrix exactly once, at the
// hardware's positions), the verifier's rules for tensor-core ops and their printed form.
#include "metaltile/core/matrix.hpp"

#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "metaltile/core/error.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

TEST(MatrixLayout, EveryRoleCoversItsMatrixOnce) {
  for (DType input : {DType::F16, DType::BF16, DType::I8}) {
    const MmaShape s = mma_shape(input);
    const struct {
      FragmentRole role;
      std::uint32_t rows, cols;
    } roles[] = {{FragmentRole::A, s.m, s.k},
                 {FragmentRole::B, s.k, s.n},
                 {FragmentRole::Accumulator, s.m, s.n}};
    for (const auto& r : roles) {
      SCOPED_TRACE(std::string(name_of(input)) + " " + std::string(fragment_role_name(r.role)));
      std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
      for (std::uint32_t lane = 0; lane < 32; ++lane) {
        for (std::uint32_t e = 0; e < fragment_size(r.role, input); ++e) {
          const MatrixCoord c = fragment_coord(r.role, input, lane, e);
          EXPECT_LT(c.row, r.rows);
          EXPECT_LT(c.col, r.cols);
          EXPECT_TRUE(seen.insert({c.row, c.col}).second) << "lane " << lane << " element " << e;
        }
      }
      EXPECT_EQ(seen.size(), std::size_t{r.rows} * r.cols);
    }
  }
}

// Spot checks against the PTX ISA's figures for mma.m16n8k16 (f16) and m16n8k32 (s8).
TEST(MatrixLayout, MatchesTheHardwareFigures) {
  // f16 A: a0,a1 row g; a2,a3 row g+8; a4..a7 the same rows, columns + 8.
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::F16, 5, 0).row, 1u);
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::F16, 5, 1).col, 3u);
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::F16, 5, 2).row, 9u);
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::F16, 5, 4).col, 10u);
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::F16, 31, 7).row, 15u);
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::F16, 31, 7).col, 15u);
  // f16 B: b0,b1 rows 2t, 2t+1 of column g; b2,b3 rows + 8.
  EXPECT_EQ(fragment_coord(FragmentRole::B, DType::F16, 6, 3).row, 13u);
  EXPECT_EQ(fragment_coord(FragmentRole::B, DType::F16, 6, 3).col, 1u);
  // Accumulator: c0,c1 row g, columns 2t, 2t+1; c2,c3 row g+8.
  EXPECT_EQ(fragment_coord(FragmentRole::Accumulator, DType::F16, 7, 3).row, 9u);
  EXPECT_EQ(fragment_coord(FragmentRole::Accumulator, DType::F16, 7, 3).col, 7u);
  // s8 A: a0..a3 row g, columns 4t..4t+3; a4..a7 row g+8; a8..a15 columns + 16.
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::I8, 2, 3).col, 11u);
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::I8, 2, 5).row, 8u);
  EXPECT_EQ(fragment_coord(FragmentRole::A, DType::I8, 2, 9).col, 25u);
  // s8 B: b0..b3 rows 4t..4t+3 of column g; b4..b7 rows + 16.
  EXPECT_EQ(fragment_coord(FragmentRole::B, DType::I8, 9, 6).row, 22u);
  EXPECT_EQ(fragment_coord(FragmentRole::B, DType::I8, 9, 6).col, 2u);
}

TEST(MatrixLayout, ShapesAndSizes) {
  EXPECT_EQ(mma_shape(DType::BF16).k, 16u);
  EXPECT_EQ(mma_shape(DType::I8).k, 32u);
  EXPECT_EQ(mma_accumulator_type(DType::F16), DType::F32);
  EXPECT_EQ(mma_accumulator_type(DType::I8), DType::I32);
  EXPECT_EQ(fragment_size(FragmentRole::A, DType::F16), 8u);
  EXPECT_EQ(fragment_size(FragmentRole::B, DType::I8), 8u);
  EXPECT_EQ(load_matrix_size(DType::F16, 4), 8u);
  EXPECT_FALSE(is_mma_input_type(DType::F32));
}

Kernel tensor_core_kernel() {
  return trace("tc", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor src = b.input("src", DType::F16);
    const ArrayRef shared = b.threadgroup_array("tile", DType::F16, 256);
    const Fragments a = fragments("a", FragmentRole::A, DType::F16);
    const Fragments bf = fragments("b", FragmentRole::B, DType::F16);
    const Fragments acc = fragments("acc", FragmentRole::Accumulator, DType::F16, 2);
    const Val lane = lane_id();
    copy_async(shared, lane * 8u, src, lane * 8u, 8, lane < 32u);
    copy_async_commit();
    copy_async_wait(0);
    barrier();
    load_matrix(a[0], shared, lane % 16u * 16u + lane / 16u * 8u);
    load_matrix(bf[0], shared, lane % 16u * 8u, true);
    acc.fill(constant(DType::F32, 0));
    mma(acc[1], a[0], bf[0], acc[0]);
  });
}

TEST(MatrixOps, PrintAndVerify) {
  const Kernel k = tensor_core_kernel();
  const std::string text = print(k);
  EXPECT_NE(text.find("copy_async x8 tile["), std::string::npos) << text;
  EXPECT_NE(text.find("copy_async_commit"), std::string::npos) << text;
  EXPECT_NE(text.find("copy_async_wait 0"), std::string::npos) << text;
  EXPECT_NE(text.find("load_matrix x4 a[0..8) <- tile["), std::string::npos) << text;
  EXPECT_NE(text.find("load_matrix x2 trans b[0..4) <- tile["), std::string::npos) << text;
  EXPECT_NE(text.find("mma acc[4..8) = a[0..8) * b[0..4) + acc[0..4)"), std::string::npos) << text;
  verify(k);
}

TEST(MatrixOps, VerifierRejectsMismatchedFragments) {
  Kernel k = tensor_core_kernel();
  // Point D at the A array (f16, not an f32 accumulator).
  for (Instr& in : k.body.instrs) {
    if (in.op == OpKind::Mma) in.fragments[0] = in.fragments[1];
  }
  test::expect_mentions(test::error_of([&] { verify(k); }),
                        {"kernel 'tc'", "verify: mma", "fragment D in 'a'", "expected f32"});
  Kernel tail = tensor_core_kernel();
  for (Instr& in : tail.body.instrs) {
    if (in.op == OpKind::Mma) in.fragments[3].offset = 6;
  }
  test::expect_mentions(test::error_of([&] { verify(tail); }),
                        {"fragment C in 'acc'", "needs 4 elements from 6"});
}

TEST(MatrixOps, DslReportsMisuseByName) {
  test::expect_mentions(test::error_of([] {
                          trace("bad_mma", KernelMode::Grid3D, [](KernelBuilder&) {
                            const Fragments a = fragments("a", FragmentRole::A, DType::F16);
                            const Fragments c =
                                fragments("c", FragmentRole::Accumulator, DType::F16);
                            mma(c[0], a[0], a[0], c[0]);
                          });
                        }),
                        {"kernel 'bad_mma'", "mma", "fragment A 'a'[0] is not a B fragment"});
  test::expect_mentions(test::error_of([] {
                          trace("bad_frag", KernelMode::Grid3D, [](KernelBuilder&) {
                            fragments("x", FragmentRole::A, DType::F32);
                          });
                        }),
                        {"kernel 'bad_frag'", "fragments 'x'", "not f32"});
  test::expect_mentions(test::error_of([] {
                          trace("bad_copy", KernelMode::Grid3D, [](KernelBuilder& b) {
                            const Tensor src = b.input("src", DType::F16);
                            const ArrayRef s = b.threadgroup_array("s", DType::F16, 64);
                            copy_async(s, u32(0), src, u32(0), 3, lane_id() < 4u);
                          });
                        }),
                        {"kernel 'bad_copy'", "param 'src'", "6 bytes, not 4, 8 or 16"});
  test::expect_mentions(test::error_of([] {
                          trace("bad_wait", KernelMode::Grid3D,
                                [](KernelBuilder&) { copy_async_wait(9); });
                        }),
                        {"kernel 'bad_wait'", "copy_async_wait", "at most 7"});
}

}  // namespace
}  // namespace mt
