// The contracts of the KV-cache kernels: buffer lengths against the scalars and the other
// buffers, the 32-bit wraparound that inconsistent lengths used to allow, and the 1-D launch.
// Each violation is an mt::Error naming the kernel and the buffer (with the expected and the
// actual length) or the launch shape, and the context stays usable.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "kernels/ffai/kv_cache_buffers.hpp"
#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
using mt::test::kv::CacheShape;
namespace kv = mt::kernels::ffai::kv_cache;
namespace oracle = mt::test::kv;

constexpr std::array<std::size_t, 3> kGrid{16, 1, 1}, kTpg{64, 1, 1};  // covers every kernel's work
const CacheShape kShape{2, 64, 4, 32};

std::vector<mt::KernelInfo> kv_kernels() {
  std::vector<mt::KernelInfo> kernels;
  for (const mt::KernelInfo& info : mt::registered_kernels()) {
    if (info.family == "ffai::kv_cache") kernels.push_back(info);
  }
  return kernels;
}

// The buffer whose length a spoiled `param` contradicts: update_many's positions count the
// rows of src, so a wrong count is reported on src; every other buffer is reported itself.
std::string reported_buffer(const std::string& param) {
  return param == "positions" ? "src" : param;
}

TEST(KvCacheLengths, EveryBufferOneElementShortOrLongIsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::size_t checked = 0;
    for (const mt::KernelInfo& info : kv_kernels()) {
      const DType t = DType::F16;
      const mt::Kernel k = info.build(t);
      const mt::BufferMap good = oracle::valid_buffers(info.name, t, kShape);
      for (const mt::Param& p : k.params) {
        if (!p.is_tensor()) continue;
        for (int delta : {-1, +1}) {
          SCOPED_TRACE(info.name + ": " + p.name + (delta < 0 ? " one short" : " one long"));
          mt::BufferMap b = good;
          const std::size_t elements = b[p.name].size() / mt::size_of(p.dtype);
          b[p.name] = mt::test::poisoned(elements + delta, p.dtype);
          const std::string what =
              mt::test::error_of([&] { ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg); });
          mt::test::expect_mentions(
              what, {"kernel '" + info.name + "'", "param '" + reported_buffer(p.name) + "'",
                     "expected ", " elements (", " bytes)", ", got "});
          ++checked;
        }
      }
      // The context is still usable, and the valid buffers dispatch cleanly.
      EXPECT_NO_THROW(ctx.dispatch_with_grid(k, good, {}, kGrid, kTpg)) << info.name;
    }
    // update: src, out; update_many: src, positions, out; 4 quantisers with 3 or 4 buffers (2
    // fp8), 6 dequantisers with 3 or 4 (2 fp8): 2 + 3 + 2*4 + 2*3 + 4*4 + 2*3 = 41, twice.
    EXPECT_EQ(checked, 2u * 41);
  });
}

// The reproducer: half a head of f16 source used to run and write nothing.
TEST(KvCacheLengths, SourceOfHalfAHeadNamesTheBufferAndBothLengths) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const mt::Kernel k = kv::quantize_kv_int4::kernel_ir_for(DType::F16);
    mt::BufferMap b = oracle::valid_buffers("quantize_kv_int4", DType::F16, kShape);
    b["src"] = mt::test::pack(std::vector<float>(32, 0.5f), DType::F16);
    EXPECT_EQ(mt::test::error_of([&] { ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg); }),
              "kernel 'quantize_kv_int4': param 'src': expected a multiple of 64 elements (128 "
              "bytes) = head_dim (whole heads) with head_dim=64, got 32 elements (64 bytes)");
  });
}

// A token of three heads against a cache of two: the outputs name the head count they expect.
TEST(KvCacheLengths, SourceDisagreeingWithTheCacheHeadsIsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const mt::Kernel k = kv::quantize_kv_int8::kernel_ir_for(DType::BF16);
    mt::BufferMap b = oracle::valid_buffers("quantize_kv_int8", DType::BF16, kShape);
    b["src"] = mt::test::pack(std::vector<float>(3 * 64, 0.5f), DType::BF16);
    EXPECT_EQ(mt::test::error_of([&] { ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg); }),
              "kernel 'quantize_kv_int8': param 'out_w': expected 192 elements (768 bytes) = "
              "n_kv_heads*max_seq*head_dim/4, n_kv_heads = len(src)/head_dim with head_dim=64, "
              "max_seq=4, len(src)=192, got 128 elements (512 bytes)");
  });
}

// max_seq = 2^31 with two heads and outputs sized for one slot: head 1's slot index used to
// wrap to head 0's and overwrite it. The expected length does not fit u32: an error.
TEST(KvCacheWraparound, QuantiseWithSlotsPastU32IsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const char* name : {"quantize_kv_int4", "quantize_kv_int8", "quantize_kv_fp8_e4m3"}) {
      SCOPED_TRACE(name);
      const mt::KernelInfo* info = mt::find_kernel(name);
      ASSERT_NE(info, nullptr);
      const mt::Kernel k = info->build(DType::F16);
      const CacheShape one_slot{2, 64, 1, 32};
      mt::BufferMap b = oracle::valid_buffers(name, DType::F16, one_slot);
      b["max_seq"] = le_bytes(0x80000000u);
      b["position"] = le_bytes(0u);
      const std::string what =
          mt::test::error_of([&] { ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg); });
      mt::test::expect_mentions(
          what, {"kernel '" + std::string(name) + "'", "param 'max_seq'", "contract arithmetic",
                 "does not fit u32", "max_seq=2147483648", "the length of 'out_w'"});
    }
  });
}

// max_seq = 2^26 + 1 and head_dim 64: the head stride 2^32 + 64 used to wrap to 64.
TEST(KvCacheWraparound, DequantWithHeadStridePastU32IsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const mt::KernelInfo& info : kv_kernels()) {
      if (!info.name.starts_with("bulk_dequant")) continue;
      SCOPED_TRACE(info.name);
      const mt::Kernel k = info.build(DType::F32);
      mt::BufferMap b = oracle::valid_buffers(info.name, DType::F32, kShape);
      b["max_seq"] = le_bytes((1u << 26) + 1);
      const std::string what =
          mt::test::error_of([&] { ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg); });
      mt::test::expect_mentions(what, {"kernel '" + info.name + "'", "param 'max_seq'",
                                       "mul 67108865, 64: the result does not fit u32",
                                       "max_seq=67108865", "the length of 'out'"});
      EXPECT_NO_THROW(ctx.dispatch_with_grid(
          k, oracle::valid_buffers(info.name, DType::F32, kShape), {}, kGrid, kTpg));
    }
  });
}

// Grid3D kernels that read only program_id(0) reject a 2-D group or grid, which would repeat
// their work on the other axes.
TEST(KvCacheLaunch, TwoDimensionalLaunchIsAnErrorNamingTheKernel) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const mt::KernelInfo& info : kv_kernels()) {
      SCOPED_TRACE(info.name);
      const mt::Kernel k = info.build(DType::F32);
      const mt::BufferMap b = oracle::valid_buffers(info.name, DType::F32, kShape);
      mt::test::expect_mentions(
          mt::test::error_of([&] {
            ctx.dispatch_with_grid(k, b, {}, kGrid, {32, 2, 1});
          }),
          {"kernel '" + info.name + "'", "a 1-D threadgroup", "tpg=(32,2,1)"});
      mt::test::expect_mentions(mt::test::error_of([&] {
                                  ctx.dispatch_with_grid(k, b, {}, {8, 2, 1}, kTpg);
                                }),
                                {"kernel '" + info.name + "'", "a 1-D grid", "grid=(8,2,1)"});
      EXPECT_NO_THROW(ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg));
    }
  });
}

// A head_dim, group_size or (dequant) max_seq of 0 used to reach a division by zero in the body
// ("division by zero at thread (0,0,0) ... div %30, %31" on the interpreter, a silent 0 in
// CUDA); each is now a precondition naming the parameter.
TEST(KvCachePreconditions, ZeroSizesAreErrorsNamingTheParameter) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::size_t checked = 0;
    for (const mt::KernelInfo& info : kv_kernels()) {
      const mt::Kernel k = info.build(DType::F16);
      const mt::BufferMap good = oracle::valid_buffers(info.name, DType::F16, kShape);
      std::vector<std::string> zeroed = {"head_dim"};
      if (good.count("group_size") != 0) zeroed.push_back("group_size");
      if (info.name.starts_with("bulk_dequant")) zeroed.push_back("max_seq");
      for (const std::string& name : zeroed) {
        SCOPED_TRACE(info.name + " with " + name + " = 0");
        mt::BufferMap b = good;
        b[name] = le_bytes(0u);
        const std::string what =
            mt::test::error_of([&] { ctx.dispatch_with_grid(k, b, {}, kGrid, kTpg); });
        mt::test::expect_mentions(what, {"kernel '" + info.name + "': param '" + name + "'",
                                         "precondition failed: " + name + " > 0", name + "=0"});
        EXPECT_EQ(what.find("division by zero"), std::string::npos) << what;
        ++checked;
      }
      EXPECT_NO_THROW(ctx.dispatch_with_grid(k, good, {}, kGrid, kTpg)) << info.name;
    }
    // head_dim for 12 kernels, group_size for 10, max_seq for 6 dequantisers.
    EXPECT_EQ(checked, 12u + 10 + 6);
  });
}

}  // namespace
