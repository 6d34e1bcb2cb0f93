// NVRTC (no GPU needed): kernels with warp MMA (f16, bf16, i8), matrix loads (x1, x2, x4,
// transposed), asynchronous copies and their waits compile for sm_90, checked and unchecked,
// with no warnings; the emitted code hands fragments to the tensor-core helpers.
#include <gtest/gtest.h>

#include <string>

#include "backends/cuda/cuda_abi.hpp"
#include "backends/cuda/cuda_compile.hpp"
#include "backends/cuda/emit_cuda.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "support/nvrtc.hpp"

namespace mt::cuda {
namespace {

Kernel tensor_core_kernel(DType t) {
  return trace("tc_" + std::string(name_of(t)), KernelMode::Grid3D, [&](KernelBuilder& b) {
    const std::uint32_t K = mma_shape(t).k;
    const std::uint32_t chunk = 16 / static_cast<std::uint32_t>(size_of(t));
    const DType acc_t = mma_accumulator_type(t);
    const Tensor a = b.input("a", t);
    const Tensor out = b.output("out", acc_t);
    const ArrayRef sa = b.threadgroup_array("sa", t, 16 * K);
    const Fragments fa = fragments("fa", FragmentRole::A, t);
    const Fragments fb = fragments("fb", FragmentRole::B, t, 2);
    const Fragments acc = fragments("acc", FragmentRole::Accumulator, t, 2);
    const Val lane = lane_id();
    copy_async(sa, swizzle(lane * chunk / K, lane * chunk % K, K, t), a, lane * chunk, chunk,
               lane * chunk < a.len());
    copy_async_commit();
    copy_async_wait(0);
    barrier();
    load_matrix(fa[0], sa, swizzle(lane % 16u, lane / 16u * chunk, K, t));
    load_matrix(fb[0], sa, lane % 8u * K + lane / 8u % 2u * chunk);
    if (t != DType::I8) load_matrix(fb[1], sa, lane % 16u * 8u, true);
    if (t == DType::I8) load_matrix(fb[1], sa, lane % 8u * K);
    acc.fill(constant(acc_t, 0));
    for (std::uint32_t i = 0; i < 2; ++i) mma(acc[i], fa[0], fb[i], acc[i]);
    for (std::uint32_t e = 0; e < 8; ++e) out[lane * 8u + e] = acc.array()[e];
  });
}

TEST(EmitMatrix, TensorCoreKernelsCompileForSm90) {
  MT_REQUIRE_NVRTC();
  for (DType t : {DType::F16, DType::BF16, DType::I8}) {
    const Kernel k = tensor_core_kernel(t);
    for (bool checked : {false, true}) {
      SCOPED_TRACE(std::string(name_of(t)) + (checked ? " checked" : " unchecked"));
      const CompiledKernel c = compile_kernel(k, {.checked = checked}, "sm_90");
      EXPECT_FALSE(c.cubin.empty());
      EXPECT_EQ(c.log, "") << c.source.code;
      EXPECT_NE(c.source.code.find("mt_mma(acc + 4, fa + 0, fb +"), std::string::npos)
          << c.source.code;
      EXPECT_NE(c.source.code.find("__align__(16)"), std::string::npos);
      EXPECT_NE(c.source.code.find("mt_copy_async_wait<0>();"), std::string::npos);
      EXPECT_NE(c.source.code.find("mt_load_matrix<4, false>(fa + 0, sa + "), std::string::npos);
      EXPECT_NE(c.source.code.find("mt_copy_async_indexed<"), std::string::npos);
      EXPECT_NE(c.source.code.find(checked ? "#define MT_CHECKED 1\n" : "#define MT_CHECKED 0\n"),
                std::string::npos);
    }
  }
}

// Past 48 KiB the threadgroup arrays are carved from dynamic shared memory, 16-byte aligned;
// below it they stay static.
TEST(EmitMatrix, ThreadgroupArraysPast48KiBUseDynamicSharedMemory) {
  MT_REQUIRE_NVRTC();
  const auto tiles = [](std::uint32_t floats) {
    return trace("big_tiles", KernelMode::Grid3D, [&](KernelBuilder& b) {
      const Tensor out = b.output("out", DType::F32);
      const ArrayRef x = b.threadgroup_array("x", DType::F16, 3);
      const ArrayRef y = b.threadgroup_array("y", DType::F32, floats);
      const Val t = thread_id(0);
      x[t % 3u] = constant(DType::F16, 1);
      y[t] = t.to(DType::F32);
      barrier();
      out[t] = y[(t + 1u) % 32u] + x[0].to(DType::F32);
    });
  };
  const Kernel big = tiles(16384);  // 64 KiB + 16 bytes
  EXPECT_EQ(dynamic_shared_bytes(big), 16u + 65536u);
  const CompiledKernel c = compile_kernel(big, {.checked = false}, "sm_90");
  EXPECT_EQ(c.log, "") << c.source.code;
  EXPECT_NE(
      c.source.code.find("extern __shared__ __align__(16) unsigned char mt_dynamic_shared[];"),
      std::string::npos)
      << c.source.code;
  EXPECT_NE(
      c.source.code.find("float* const y = reinterpret_cast<float*>(mt_dynamic_shared + 16);"),
      std::string::npos)
      << c.source.code;
  const Kernel small = tiles(1024);
  EXPECT_EQ(dynamic_shared_bytes(small), 0u);
  EXPECT_EQ(emit_cuda(small).code.find("mt_dynamic_shared"), std::string::npos);
}

}  // namespace
}  // namespace mt::cuda
