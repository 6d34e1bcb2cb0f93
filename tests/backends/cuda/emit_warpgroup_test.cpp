// NVRTC (no GPU needed): kernels with warpgroup MMA compile for sm_90a, checked and unchecked,
// with no warnings, for each input type, swizzle mode and several widths, with static and
// dynamic (past 48 KiB) operand tiles aligned to 1024 bytes; the architecture a kernel
// compiles for is sm_90a on sm_90 and refused elsewhere, by name.
#include <gtest/gtest.h>

#include <string>

#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_compile.hpp"
#include "backends/cuda/emit_cuda.hpp"
#include "backends/cuda/warpgroup_mma.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "support/errors.hpp"
#include "support/nvrtc.hpp"

namespace mt::cuda {
namespace {

// One warpgroup: operand tiles filled by copy_async, two MMAs (the second 16 elements along
// the rows), the ordering ops, and the accumulator stored.
Kernel warpgroup_kernel(DType t, std::uint32_t n, Swizzle s, std::uint32_t tile_elements) {
  const std::string name = "wg_" + std::string(name_of(t)) + "_n" + std::to_string(n) + "_" +
                           std::string(swizzle_name(s));
  return trace(name, KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor a = b.input("a", t), out = b.output("out", DType::F32);
    const ArrayRef sa = b.threadgroup_array("sa", t, tile_elements);
    const ArrayRef sb = b.threadgroup_array("sb", t, tile_elements);
    const Val tid = thread_id(0);
    copy_async(sa, tid * 8u, a, tid * 8u, 8, tid * 8u < a.len());
    copy_async(sb, tid * 8u, a, tid * 8u, 8, tid * 8u < a.len());
    copy_async_commit();
    copy_async_wait(0);
    fence_async_shared();
    barrier();
    const WarpgroupAccumulator acc = warpgroup_accumulator("acc", n);
    acc.fill(f32(0));
    warpgroup_fence();
    const std::uint32_t sbo = s == Swizzle::None ? 256 : 8 * swizzle_row_bytes(s);
    const std::uint32_t lbo = s == Swizzle::None ? 128 : 0;
    for (std::uint32_t step = 0; step < 2; ++step) {
      const std::uint32_t start = s == Swizzle::None ? step * 128 : step * kWarpgroupK;
      warpgroup_mma(acc, {sa, u32(start), s, lbo, sbo}, {sb, u32(start), s, lbo, sbo});
    }
    warpgroup_commit();
    warpgroup_wait(0);
    for (std::uint32_t e = 0; e < acc.size(); ++e) out[acc.row(e) * n + acc.col(e)] = acc[e];
  });
}

TEST(EmitWarpgroup, KernelsCompileForSm90a) {
  MT_REQUIRE_NVRTC();
  const struct {
    DType t;
    std::uint32_t n;
    Swizzle s;
  } cases[] = {{DType::BF16, 64, Swizzle::Bytes128},
               {DType::F16, 128, Swizzle::Bytes128},
               {DType::BF16, 256, Swizzle::Bytes64},
               {DType::F16, 8, Swizzle::Bytes32},
               {DType::BF16, 24, Swizzle::None}};
  for (const auto& c : cases) {
    const Kernel k = warpgroup_kernel(c.t, c.n, c.s, 8192);
    for (bool checked : {false, true}) {
      SCOPED_TRACE(k.name + (checked ? " checked" : " unchecked"));
      const CompiledKernel compiled =
          compile_kernel(k, {.checked = checked}, kernel_arch(k, "sm_90"));
      EXPECT_FALSE(compiled.cubin.empty());
      EXPECT_EQ(compiled.log, "") << compiled.source.code;
      const std::string& code = compiled.source.code;
      const std::string mma = warpgroup_mma_function(c.t, c.n);
      EXPECT_NE(code.find("MT_DEVICE void " + mma + "(float* d,"), std::string::npos) << code;
      EXPECT_NE(code.find("wgmma.mma_async.sync.aligned.m64n" + std::to_string(c.n) + "k16.f32." +
                          std::string(name_of(c.t))),
                std::string::npos);
      EXPECT_NE(code.find(mma + "(acc + 0, mt_matrix_descriptor(sa + "), std::string::npos) << code;
      EXPECT_NE(code.find("u, " + std::to_string(descriptor_swizzle_code(c.s)) + "ull))"),
                std::string::npos);
      EXPECT_NE(code.find("__shared__ __align__(1024)"), std::string::npos);
      EXPECT_NE(code.find("mt_warpgroup_wait<0>();\n  mt_fence_accumulator<" +
                          std::to_string(c.n / 2) + ">(acc);"),
                std::string::npos)
          << code;
      EXPECT_NE(code.find("mt_fence_async_shared();"), std::string::npos);
      EXPECT_NE(code.find("mt_warpgroup_commit();"), std::string::npos);
    }
  }
}

// Operand tiles past 48 KiB come from dynamic shared memory at 1024-byte-aligned offsets.
TEST(EmitWarpgroup, DynamicOperandTilesAreAligned) {
  MT_REQUIRE_NVRTC();
  const Kernel k = trace("wg_dynamic", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor a = b.input("a", DType::BF16), out = b.output("out", DType::F32);
    const ArrayRef small = b.threadgroup_array("small", DType::BF16, 24);
    const ArrayRef sa = b.threadgroup_array("sa", DType::BF16, 16384);
    const ArrayRef sb = b.threadgroup_array("sb", DType::BF16, 16384);
    const Val tid = thread_id(0);
    small[tid % 24u] = a[tid];
    sa[tid] = a[tid];
    sb[tid] = a[tid];
    fence_async_shared();
    barrier();
    const WarpgroupAccumulator acc = warpgroup_accumulator("acc", 64);
    acc.fill(f32(0));
    warpgroup_fence();
    warpgroup_mma(acc, {sa, u32(0), Swizzle::Bytes128, 0, 1024},
                  {sb, u32(0), Swizzle::Bytes128, 0, 1024});
    warpgroup_commit();
    warpgroup_wait(0);
    out[tid] = acc[0] + small[0].to(DType::F32);
  });
  const std::vector<std::uint64_t> offsets = dynamic_shared_offsets(k);
  EXPECT_EQ(offsets[0], 0u);
  EXPECT_EQ(offsets[1], 1024u);
  EXPECT_EQ(offsets[2], 1024u + 32768u);
  EXPECT_EQ(dynamic_shared_bytes(k), 1024u + 2 * 32768u);
  const CompiledKernel compiled = compile_kernel(k, {.checked = true}, kernel_arch(k, "sm_90"));
  EXPECT_EQ(compiled.log, "") << compiled.source.code;
  EXPECT_NE(compiled.source.code.find("extern __shared__ __align__(1024) unsigned char"),
            std::string::npos);
}

TEST(EmitWarpgroup, ArchitectureIsSm90aOnlyForWarpgroupKernels) {
  const Kernel wg = warpgroup_kernel(DType::BF16, 64, Swizzle::Bytes128, 8192);
  EXPECT_EQ(kernel_arch(wg, "sm_90"), "sm_90a");
  const Kernel plain = trace("plain", KernelMode::Grid3D, [](KernelBuilder& b) {
    const Tensor out = b.output("out", DType::F32);
    out[thread_id(0)] = f32(1);
  });
  EXPECT_EQ(kernel_arch(plain, "sm_90"), "sm_90");
  EXPECT_EQ(kernel_arch(plain, "sm_80"), "sm_80");
  test::expect_mentions(test::error_of([&] { (void)kernel_arch(wg, "sm_100"); }),
                        {"kernel 'wg_bf16_n64_128B'", "wgmma", "sm_90", "sm_100"});
  test::expect_mentions(test::error_of([&] { (void)kernel_arch(wg, "sm_80"); }),
                        {"kernel 'wg_bf16_n64_128B'", "sm_80"});
}

}  // namespace
}  // namespace mt::cuda
