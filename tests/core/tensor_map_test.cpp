// Bulk tile copies and async barriers in the IR: a box's swizzled layout against a plain
// oracle (rows of the swizzle's width whose 16-byte chunks are XORed with the row's place in
// the pattern), destination alignments, extent checks; the printer's text of the declarations,
// the contract's TensorMapShape and each op; the verifier's and the DSL's reports of misuse.
#include "metaltile/core/tensor_map.hpp"

#include <gtest/gtest.h>

#include <set>

#include "metaltile/core/async_barrier.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/verify.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

std::uint32_t oracle_byte(Swizzle s, std::uint32_t row_bytes, std::uint32_t r, std::uint32_t b) {
  switch (s) {
    case Swizzle::None: return r * row_bytes + b;
    case Swizzle::Bytes32: return r * 32 + ((b / 16) ^ (r / 4 % 2)) * 16 + b % 16;
    case Swizzle::Bytes64: return r * 64 + ((b / 16) ^ (r / 2 % 4)) * 16 + b % 16;
    case Swizzle::Bytes128: return r * 128 + ((b / 16) ^ (r % 8)) * 16 + b % 16;
  }
  return 0;
}

TEST(TensorMapLayout, BoxBytesMatchTheSwizzleOracleAndCoverTheBoxOnce) {
  for (Swizzle s : {Swizzle::None, Swizzle::Bytes32, Swizzle::Bytes64, Swizzle::Bytes128}) {
    const std::uint32_t cols = s == Swizzle::None ? 24 : swizzle_row_bytes(s) / 2;
    const TensorMap m{"m", ParamId{0}, 16, cols, s};
    std::set<std::uint32_t> seen;
    for (std::uint32_t r = 0; r < 16; ++r) {
      for (std::uint32_t c = 0; c < cols; ++c) {
        const std::uint32_t byte = tensor_map_box_byte(m, 2, r, c);
        EXPECT_EQ(byte, oracle_byte(s, cols * 2, r, c * 2)) << "row " << r << " col " << c;
        EXPECT_TRUE(seen.insert(byte).second);
        EXPECT_LT(byte, 16 * cols * 2);
      }
    }
  }
  EXPECT_EQ(tensor_map_destination_alignment(Swizzle::None), 128u);
  EXPECT_EQ(tensor_map_destination_alignment(Swizzle::Bytes64), 512u);
  EXPECT_EQ(tensor_map_destination_alignment(Swizzle::Bytes128), 1024u);
}

Kernel bulk_kernel() {
  return trace("bulk", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor src = b.input("src", DType::BF16), out = b.output("out", DType::BF16);
    const Val m = b.scalar_u32("m"), k = b.scalar_u32("k");
    const TensorMapRef map = tensor_map("src_map", src, m, k, k, 8, 64, Swizzle::Bytes128);
    const ArrayRef tile = b.threadgroup_array("tile", DType::BF16, 512);
    const AsyncBarriers full("full", 2);
    full.init(u32(1), 1);
    barrier();
    full.arrive_expect(u32(1), u32(map.box_bytes()));
    bulk_tensor_load(tile, u32(0), map, i32(8), i32(0), full, u32(1));
    full.wait(u32(1), u32(0));
    full.arrive(u32(1));
    out[thread_id(0)] = tile[thread_id(0)];
  });
}

TEST(TensorMapIr, PrinterShowsDeclarationsShapeAndOps) {
  const std::string text = print(bulk_kernel());
  for (const char* part :
       {"  async_barrier full[2]\n", "  tensor_map src_map: src box 8x64 128B\n",
        "tensor_map_shape src_map rows %", "async_barrier_init full[%", "] arrivals 1",
        "async_barrier_arrive_expect full[%", "] bytes %", "bulk_tensor_load tile[%",
        "] <- src_map[%", "] on full[%", "async_barrier_wait full[%", "] parity %",
        "async_barrier_arrive full[%"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << " in\n" << text;
  }
}

TEST(TensorMapIr, VerifierRejectsBrokenDeclarations) {
  const Kernel good = bulk_kernel();
  Kernel k = good;
  k.tensor_maps[0].box_cols = 32;  // 64-byte rows under the 128B swizzle
  test::expect_mentions(test::error_of([&] { verify(k); }),
                        {"kernel 'bulk'", "tensor map 'src_map'", "64 bytes", "exactly 128"});
  k = good;
  k.tensor_maps[0].box_rows = 300;
  test::expect_mentions(test::error_of([&] { verify(k); }), {"box of 300 x 64"});
  k = good;
  k.contract.instrs.push_back(k.contract.instrs.back());  // a second shape statement
  test::expect_mentions(test::error_of([&] { verify(k); }),
                        {"tensor map 'src_map' has 2 shape statements"});
  k = good;
  k.async_barriers[0].size = 0;
  test::expect_mentions(test::error_of([&] { verify(k); }),
                        {"async barrier set 'full' has no barriers"});
  k = good;
  for (Instr& in : k.body.instrs) {
    if (in.op == OpKind::AsyncBarrierInit) in.lanes = 0;
  }
  test::expect_mentions(test::error_of([&] { verify(k); }),
                        {"async_barrier_init", "expects 0 arrivals"});
}

TEST(TensorMapIr, ExtentProblemsNameWhatIsWrong) {
  const Kernel k = bulk_kernel();
  const TensorMap& m = k.tensor_maps[0];
  EXPECT_EQ(tensor_map_extent_problem(k, m, {4, 64, 64}, 256), "");
  EXPECT_NE(tensor_map_extent_problem(k, m, {4, 60, 60}, 240).find("120 bytes"), std::string::npos);
  EXPECT_NE(tensor_map_extent_problem(k, m, {4, 64, 64}, 255).find("reaches element 256"),
            std::string::npos);
  EXPECT_NE(tensor_map_extent_problem(k, m, {0, 64, 64}, 256).find("at least 1"),
            std::string::npos);
}

TEST(TensorMapDsl, MistakesAreReportedByName) {
  test::expect_mentions(test::error_of([] {
                          trace("bad", KernelMode::Grid3D, [](KernelBuilder& b) {
                            const Tensor src = b.input("src", DType::BF16);
                            const TensorMapRef map = tensor_map("src_map", src, u32(8), u32(64),
                                                                u32(64), 8, 64, Swizzle::Bytes128);
                            const ArrayRef tile = b.threadgroup_array("tile", DType::F32, 512);
                            const AsyncBarriers full("full", 1);
                            bulk_tensor_load(tile, u32(0), map, i32(0), i32(0), full, u32(0));
                          });
                        }),
                        {"kernel 'bad'", "tensor map 'src_map'", "array 'tile' holds f32"});
  test::expect_mentions(
      test::error_of([] {
        trace("bad", KernelMode::Grid3D, [](KernelBuilder& b) {
          const Tensor src = b.input("src", DType::BF16);
          const TensorMapRef map =
              tensor_map("src_map", src, u32(8), u32(64), u32(64), 8, 64, Swizzle::Bytes128);
          const ArrayRef tile = b.threadgroup_array("tile", DType::BF16, 512);
          const AsyncBarriers full("full", 1);
          bulk_tensor_load(tile, u32(0), map, u32(0).to(DType::I32), u32(0), full, u32(0));
        });
      }),
      {"kernel 'bad'", "coordinate", "must be i32"});
  test::expect_mentions(test::error_of([] {
                          trace("bad", KernelMode::Grid3D, [](KernelBuilder&) {
                            const AsyncBarriers full("full", 1);
                            full.init(u32(0), 0);
                          });
                        }),
                        {"kernel 'bad'", "async barriers 'full'.init", "0 arrivals"});
}

}  // namespace
}  // namespace mt
