// NVRTC (no GPU needed): kernels with async barriers and bulk tile copies compile for sm_90 (and
// with warpgroup MMA for sm_90a), checked and unchecked, with no warnings: the tensor maps are
// const __grid_constant__ parameters after the element counts, the barriers 8-byte shared words,
// the copy destinations aligned to 1024 bytes (static and dynamic threadgroup memory); the
// architecture is refused before sm_90, by name.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

#include "backends/cuda/bulk_copy.hpp"
#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_compile.hpp"
#include "backends/cuda/emit_cuda.hpp"
#include "backends/cuda/warpgroup_mma.hpp"
#include "metaltile/core/visitor.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "support/errors.hpp"
#include "support/nvrtc.hpp"

namespace mt::cuda {
namespace {

// A producer thread loads `stages` boxes of `rows` x 64 elements, each on its own barrier;
// every thread waits for each and sums a column of it.
Kernel bulk_kernel(DType t, std::uint32_t rows, std::uint32_t stages) {
  const std::string name = "bulk_" + std::string(name_of(t)) + "_" + std::to_string(rows) + "_s" +
                           std::to_string(stages);
  return trace(name, KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor src = b.input("src", t), out = b.output("out", DType::F32);
    const Val m = b.scalar_u32("m"), kk = b.scalar_u32("k");
    const TensorMapRef map = tensor_map("src_map", src, m, kk, kk, rows, 64, Swizzle::Bytes128);
    const ArrayRef tiles = b.threadgroup_array("tiles", t, stages * rows * 64);
    const AsyncBarriers full("full", stages);
    const Val tid = thread_id(0);
    if_(tid == 0u, [&] {
      for (std::uint32_t s = 0; s < stages; ++s) full.init(u32(s), 1);
    });
    barrier();
    if_(tid == 0u, [&] {
      for (std::uint32_t s = 0; s < stages; ++s) {
        full.arrive_expect(u32(s), u32(map.box_bytes()));
        bulk_tensor_load(tiles, u32(s * rows * 64), map, i32(static_cast<std::int32_t>(s * rows)),
                         i32(0), full, u32(s));
      }
    });
    Var sum = f32(0);
    for (std::uint32_t s = 0; s < stages; ++s) {
      full.wait(u32(s), u32(0));
      sum += tiles[tid % 64u + s * rows * 64].to(DType::F32);
    }
    out[tid] = Val(sum);
  });
}

TEST(EmitBulkCopy, KernelsCompileForSm90) {
  MT_REQUIRE_NVRTC();
  for (const auto& [t, rows, stages] :
       {std::tuple{DType::BF16, 64u, 2u}, std::tuple{DType::F16, 128u, 4u}}) {
    const Kernel k = bulk_kernel(t, rows, stages);
    EXPECT_EQ(kernel_arch(k, "sm_90"), "sm_90");
    for (bool checked : {false, true}) {
      SCOPED_TRACE(k.name + (checked ? " checked" : " unchecked"));
      const CompiledKernel compiled = compile_kernel(k, {.checked = checked}, "sm_90");
      EXPECT_FALSE(compiled.cubin.empty());
      EXPECT_EQ(compiled.log, "") << compiled.source.code;
      const std::string& code = compiled.source.code;
      EXPECT_NE(code.find("const __grid_constant__ mt_tensor_map src_map"), std::string::npos)
          << code;
      EXPECT_NE(code.find("__shared__ __align__(8) unsigned long long full[" +
                          std::to_string(stages) + "];"),
                std::string::npos)
          << code;
      EXPECT_NE(code.find("mt_bulk_tensor_load_2d(tiles + "), std::string::npos) << code;
      EXPECT_NE(code.find("&src_map, "), std::string::npos) << code;
      EXPECT_NE(code.find("mt_async_barrier_wait(full + "), std::string::npos) << code;
      EXPECT_NE(code.find("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::"
                          "complete_tx::bytes"),
                std::string::npos);
      // 4 stages of 128 x 64 x 2 bytes are 64 KiB: dynamic shared memory, 1024-aligned.
      EXPECT_NE(code.find(stages == 4 ? "extern __shared__ __align__(1024)"
                                      : "__shared__ __align__(1024)"),
                std::string::npos)
          << code;
    }
  }
}

// Checked, each copy first asks mt_bulk_copy_ok (column corner, destination) and otherwise
// completes its bytes on the barrier, so waiting threads go on; a record of either failure
// decodes to the interpreter's words. Unchecked, the test is `true`.
TEST(EmitBulkCopy, CheckedCopiesTheEngineCannotDoAreSkippedAndReported) {
  const Kernel k = bulk_kernel(DType::BF16, 64, 2);
  const std::string code = emit_cuda(k, {.checked = true}).code;
  EXPECT_NE(code.find("if (mt_bulk_copy_ok("), std::string::npos) << code;
  EXPECT_NE(code.find("mt_async_barrier_complete(full + "), std::string::npos) << code;
  EXPECT_NE(code.find(", 8192u);"), std::string::npos) << code;  // 64 x 64 x 2 bytes
  std::uint32_t site = 0, position = 0;
  for_each_instr(k.body, [&](const Instr& in) {
    if (in.op == OpKind::BulkTensorLoad && site == 0) site = position;
    ++position;
  });
  ASSERT_NE(site, 0u);
  std::array<std::uint32_t, kErrorRecordWords> words{};
  words[kErrorSite] = site;
  const auto message = [&](ErrorKind kind, std::int64_t value) {
    words[kErrorKind] = static_cast<std::uint32_t>(kind);
    words[kErrorValueLo] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(value));
    words[kErrorValueHi] = static_cast<std::uint32_t>(static_cast<std::uint64_t>(value) >> 32);
    const std::uint64_t elements[] = {4096, 128, 0, 0};
    return std::string(error_from_record(k, decode_error_record(words), elements, {}).what());
  };
  const std::string column = message(ErrorKind::BulkColumn, -5);
  for (const char* part : {"kernel 'bulk_bf16_64_s2'", "tensor map 'src_map'", "column corner -5",
                           "-10 bytes", "multiple of 16", "bulk_tensor_load"}) {
    EXPECT_NE(column.find(part), std::string::npos) << part << " in " << column;
  }
  const std::string destination = message(ErrorKind::BulkDestination, 8);
  for (const char* part : {"array 'tiles'", "at element 8", "aligned to 1024 bytes", "128B"}) {
    EXPECT_NE(destination.find(part), std::string::npos) << part << " in " << destination;
  }
}

TEST(EmitBulkCopy, TensorMapsArePassedAfterTheElementCounts) {
  const Kernel k = bulk_kernel(DType::BF16, 64, 2);
  const std::vector<Slot> slots = kernel_slots(k);
  ASSERT_EQ(slots.size(), 8u);  // src, out, m, k; 2 counts; the map; the error record
  EXPECT_EQ(slots[6].kind, SlotKind::TensorMap);
  EXPECT_EQ(slots[6].size, 128u);
  EXPECT_EQ(slots[6].tensor_map.index, 0u);
  EXPECT_EQ(slots[7].kind, SlotKind::ErrorRecord);
}

TEST(EmitBulkCopy, ArchitecturesBeforeSm90AreRefusedByName) {
  const Kernel k = bulk_kernel(DType::BF16, 64, 2);
  test::expect_mentions(test::error_of([&] { kernel_arch(k, "sm_80"); }),
                        {"kernel 'bulk_bf16_64_s2'", "sm_90", "sm_80"});
  EXPECT_EQ(kernel_arch(k, "sm_100"), "sm_100");
}

TEST(EmitBulkCopy, TensorMapDataTypesFollowTheElementSize) {
  EXPECT_EQ(tensor_map_data_type(DType::BF16), 9);
  EXPECT_EQ(tensor_map_data_type(DType::F16), 6);
  EXPECT_EQ(tensor_map_data_type(DType::F32), 7);
  EXPECT_EQ(tensor_map_data_type(DType::U8), 0);
}

}  // namespace
}  // namespace mt::cuda
