// Warpgroup MMA layouts against plain oracles: the accumulator covers 64 x n once at the
// positions of the PTX ISA's figure; each swizzle mode addresses a k-major operand as a
// row-major tile whose 16-byte chunks are XORed with the row's place in the pattern (the
// oracle written from the row pitch, not from address bits), and the interleaved mode as
// 8 x 16-byte core matrices; the descriptor's bits; the start rules; the verifier, printer and
// DSL errors.
#include "metaltile/core/warpgroup.hpp"

#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "metaltile/core/print.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

TEST(WarpgroupLayout, AccumulatorCoversDOnce) {
  for (std::uint32_t n : {8u, 16u, 64u, 136u, 256u}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
    for (std::uint32_t t = 0; t < kWarpgroupSize; ++t) {
      for (std::uint32_t e = 0; e < warpgroup_accumulator_size(n); ++e) {
        const MatrixCoord c = warpgroup_accumulator_coord(t, e);
        EXPECT_LT(c.row, kWarpgroupM);
        EXPECT_LT(c.col, n);
        EXPECT_TRUE(seen.insert({c.row, c.col}).second) << "thread " << t << " element " << e;
      }
    }
    EXPECT_EQ(seen.size(), std::size_t{kWarpgroupM} * n);
  }
}

// The figure "WGMMA .m64nNk16 register fragment layout for accumulator matrix D".
TEST(WarpgroupLayout, AccumulatorMatchesTheHardwareFigure) {
  const auto at = [](std::uint32_t t, std::uint32_t e) {
    const MatrixCoord c = warpgroup_accumulator_coord(t, e);
    return std::pair{c.row, c.col};
  };
  EXPECT_EQ(at(0, 0), std::pair(0u, 0u));
  EXPECT_EQ(at(0, 1), std::pair(0u, 1u));
  EXPECT_EQ(at(0, 2), std::pair(8u, 0u));
  EXPECT_EQ(at(0, 3), std::pair(8u, 1u));
  EXPECT_EQ(at(0, 4), std::pair(0u, 8u));
  EXPECT_EQ(at(3, 0), std::pair(0u, 6u));
  EXPECT_EQ(at(4, 0), std::pair(1u, 0u));
  EXPECT_EQ(at(31, 7), std::pair(15u, 15u));
  EXPECT_EQ(at(32, 0), std::pair(16u, 0u));
  EXPECT_EQ(at(127, 127), std::pair(63u, 255u));
}

// Element (row, k) of a k-major operand, in elements of 2 bytes, starting `k0` elements into
// its rows: for the swizzles a row-major tile of `pitch` elements per row (the swizzle's
// width), 16-byte chunk c of row r stored at c ^ ((r / rows_per_line) % chunks), where a
// 128-byte line holds 128 / (2 pitch) rows; without swizzle 8 x 8 core matrices, the two along
// k `lbo` elements apart and row groups `sbo` apart.
std::uint32_t oracle(Swizzle s, std::uint32_t row, std::uint32_t k, std::uint32_t k0 = 0) {
  const std::uint32_t col = k0 + k;
  switch (s) {
    case Swizzle::None: return row / 8 * 128 + col / 8 * 64 + row % 8 * 8 + col % 8;
    case Swizzle::Bytes32: return row * 16 + ((col / 8) ^ (row / 4 % 2)) * 8 + col % 8;
    case Swizzle::Bytes64: return row * 32 + ((col / 8) ^ (row / 2 % 4)) * 8 + col % 8;
    case Swizzle::Bytes128: return row * 64 + ((col / 8) ^ (row % 8)) * 8 + col % 8;
  }
  return 0;
}

SharedMatrix layout(Swizzle s) {
  // Interleaved: core matrices along k 128 bytes apart, row groups 256 bytes apart. Swizzled:
  // row groups 8 rows of the swizzle's width apart; the leading offset is not used.
  if (s == Swizzle::None) return SharedMatrix{ArrayId{}, s, 128, 256};
  return SharedMatrix{ArrayId{}, s, 0, 8 * swizzle_row_bytes(s)};
}

TEST(WarpgroupLayout, OperandAddressesMatchTheSwizzledTile) {
  for (Swizzle s : {Swizzle::None, Swizzle::Bytes32, Swizzle::Bytes64, Swizzle::Bytes128}) {
    // Starts: the first k step, and (where the row is wide enough) later ones within it.
    const std::uint32_t width = s == Swizzle::None ? 16 : swizzle_row_bytes(s) / 2;
    for (std::uint32_t k0 = 0; k0 + kWarpgroupK <= width; k0 += kWarpgroupK) {
      SCOPED_TRACE(std::string(swizzle_name(s)) + " k0 " + std::to_string(k0));
      for (std::uint32_t row = 0; row < 64; ++row) {
        for (std::uint32_t k = 0; k < kWarpgroupK; ++k) {
          EXPECT_EQ(shared_matrix_byte(layout(s), k0 * 2, 2, row, k), 2 * oracle(s, row, k, k0))
              << "row " << row << " k " << k;
        }
      }
    }
  }
}

// The gemm tiles: rows of 64 bf16 stored with mt::swizzle (chunk c of row r at c ^ (r % 8))
// are exactly the 128-byte swizzle's layout, at every k step of the row.
TEST(WarpgroupLayout, The128ByteSwizzleIsTheDslSwizzleOf64WideRows) {
  for (std::uint32_t step = 0; step < 4; ++step) {
    for (std::uint32_t row = 0; row < 128; ++row) {
      for (std::uint32_t k = 0; k < kWarpgroupK; ++k) {
        const std::uint32_t col = step * kWarpgroupK + k;
        const std::uint32_t dsl = row * 64 + ((col / 8) ^ (row % 8)) * 8 + col % 8;
        EXPECT_EQ(shared_matrix_byte(layout(Swizzle::Bytes128), step * 32, 2, row, k), 2 * dsl);
      }
    }
  }
}

TEST(WarpgroupLayout, DescriptorBits) {
  const SharedMatrix m{ArrayId{}, Swizzle::Bytes128, 16, 1024};
  EXPECT_EQ(matrix_descriptor(0x1230, m), 0x123ull | (1ull << 16) | (64ull << 32) | (1ull << 62));
  EXPECT_EQ(matrix_descriptor(0x40000 + 0x20, SharedMatrix{ArrayId{}, Swizzle::None, 128, 256}),
            0x2ull | (8ull << 16) | (16ull << 32));
  EXPECT_EQ(descriptor_swizzle_code(Swizzle::Bytes64), 2u);
  EXPECT_EQ(descriptor_swizzle_code(Swizzle::Bytes32), 3u);
}

TEST(WarpgroupLayout, StartRules) {
  EXPECT_EQ(shared_matrix_start_problem(layout(Swizzle::Bytes128), 96, 2), "");
  EXPECT_EQ(shared_matrix_start_problem(layout(Swizzle::Bytes128), 2048, 2), "");
  test::expect_mentions(shared_matrix_start_problem(layout(Swizzle::None), 8, 2),
                        {"byte 8", "multiple of 16"});
  test::expect_mentions(shared_matrix_start_problem(layout(Swizzle::Bytes128), 128, 2),
                        {"byte 128", "first row", "128B"});
  test::expect_mentions(shared_matrix_start_problem(layout(Swizzle::Bytes128), 112, 2),
                        {"byte 112", "cross"});
  test::expect_mentions(shared_matrix_start_problem(layout(Swizzle::Bytes32), 16, 2), {"cross"});
}

Kernel one_mma(std::uint32_t n, Swizzle s) {
  return trace("wg_print", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const ArrayRef sa = b.threadgroup_array("sa", DType::BF16, 4096);
    const ArrayRef sb = b.threadgroup_array("sb", DType::BF16, 4096);
    const Tensor out = b.output("out", DType::F32);
    const WarpgroupAccumulator acc = warpgroup_accumulator("acc", n);
    acc.fill(f32(0));
    warpgroup_fence();
    warpgroup_mma(acc, {sa, u32(32), s, 0, 1024}, {sb, u32(0), s, 0, 1024});
    warpgroup_commit();
    warpgroup_wait(0);
    out[thread_id(0)] = acc[0];
  });
}

TEST(WarpgroupOps, PrintAndVerify) {
  const Kernel k = one_mma(64, Swizzle::Bytes128);
  verify(k);
  const std::string text = print(k);
  for (const char* part : {"warpgroup_fence", "warpgroup_mma n64 acc[0..32) += sa[",
                           "] 128B lbo 0 sbo 1024 * sb[", "warpgroup_commit", "warpgroup_wait 0"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  }
  EXPECT_EQ(shared_matrix_arrays(k), (std::vector<bool>{true, true, false}));
}

TEST(WarpgroupOps, VerifierRejectsBadShapes) {
  Kernel k = one_mma(64, Swizzle::Bytes128);
  Instr* mma = nullptr;
  for (Instr& in : k.body.instrs) {
    if (in.op == OpKind::WarpgroupMma) mma = &in;
  }
  ASSERT_NE(mma, nullptr);
  mma->lanes = 72;  // 36 elements: the accumulator has 32
  test::expect_mentions(test::error_of([&] { verify(k); }),
                        {"kernel 'wg_print'", "fragment D in 'acc'", "36 elements"});
  mma->lanes = 12;
  test::expect_mentions(test::error_of([&] { verify(k); }), {"n = 12", "multiple of 8"});
  mma->lanes = 64;
  mma->matrices[1].stride_bytes = 1000;
  test::expect_mentions(test::error_of([&] { verify(k); }), {"operand B in 'sb'", "1000"});
}

TEST(WarpgroupOps, DslReportsMisuseByName) {
  test::expect_mentions(test::error_of([] {
                          trace("wg_bad_n", KernelMode::Grid3D,
                                [](KernelBuilder&) { warpgroup_accumulator("acc", 260); });
                        }),
                        {"kernel 'wg_bad_n'", "warpgroup_accumulator 'acc'", "260"});
  test::expect_mentions(test::error_of([] {
                          trace("wg_bad_type", KernelMode::Grid3D, [](KernelBuilder& b) {
                            const ArrayRef sa = b.threadgroup_array("sa", DType::F32, 1024);
                            const WarpgroupAccumulator acc = warpgroup_accumulator("acc", 8);
                            warpgroup_mma(acc, {sa, u32(0)}, {sa, u32(0)});
                          });
                        }),
                        {"kernel 'wg_bad_type'", "operand A", "'sa'", "f32"});
  test::expect_mentions(test::error_of([] {
                          trace("wg_bad_space", KernelMode::Grid3D, [](KernelBuilder& b) {
                            const ArrayRef r = b.thread_array("regs", DType::BF16, 64);
                            const ArrayRef sb = b.threadgroup_array("sb", DType::BF16, 1024);
                            const WarpgroupAccumulator acc = warpgroup_accumulator("acc", 8);
                            warpgroup_mma(acc, {sb, u32(0)}, {r, u32(0)});
                          });
                        }),
                        {"kernel 'wg_bad_space'", "operand B", "'regs'", "not threadgroup memory"});
  test::expect_mentions(test::error_of([] {
                          trace("wg_bad_wait", KernelMode::Grid3D,
                                [](KernelBuilder&) { warpgroup_wait(8); });
                        }),
                        {"kernel 'wg_bad_wait'", "warpgroup_wait", "8 pending"});
}

}  // namespace
}  // namespace mt
