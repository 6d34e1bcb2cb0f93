// KV-cache kernels (specs: shared/specs/kv_cache.md): raw updates, affine int4/int8 and
// OCP fp8 quantisation of one decode token, and bulk dequantisation of a whole cache.
// Each is generic over T in {f32, f16, bf16}, computes in f32, runs in Grid3D mode and
// guards its thread index.
//
// Non-finite values: finite input gives finite output, and NaN propagates. A quantised group
// holding a NaN or an inf is stored with a NaN scale (and bias), so all of it dequantises to
// NaN; finite groups anywhere in T's range stay finite (a spread past f32's range gets a finite
// scale, and dequantised values of finite parameters saturate at +-max(T) rather than round to
// inf). The updates copy bits.
#pragma once

#include <string_view>
#include <vector>

#include "metaltile/core/kernel.hpp"
#include "metaltile/kernels/registry.hpp"

namespace mt::kernels::ffai::kv_cache {

#define MT_KV_CACHE_KERNEL(kernel_name)                    \
  struct kernel_name {                                     \
    static constexpr std::string_view name = #kernel_name; \
    static Kernel kernel_ir_for(DType t);                  \
  };

MT_KV_CACHE_KERNEL(kv_cache_update)
MT_KV_CACHE_KERNEL(kv_cache_update_many)
MT_KV_CACHE_KERNEL(quantize_kv_int4)
MT_KV_CACHE_KERNEL(quantize_kv_int8)
MT_KV_CACHE_KERNEL(bulk_dequant_kv_int4)
MT_KV_CACHE_KERNEL(bulk_dequant_kv_int8)
// The same results, eight elements per thread (n_kv_heads*n_positions*head_dim / 8 threads):
// the bandwidth variants; they also need group_size % 8 == 0.
MT_KV_CACHE_KERNEL(bulk_dequant_kv_int4_x8)
MT_KV_CACHE_KERNEL(bulk_dequant_kv_int8_x8)
MT_KV_CACHE_KERNEL(quantize_kv_fp8_e4m3)
MT_KV_CACHE_KERNEL(quantize_kv_fp8_e5m2)
MT_KV_CACHE_KERNEL(bulk_dequant_kv_fp8_e4m3)
MT_KV_CACHE_KERNEL(bulk_dequant_kv_fp8_e5m2)
#undef MT_KV_CACHE_KERNEL

// The family's registry entries (called by the registry).
std::vector<KernelInfo> kernel_infos();

}  // namespace mt::kernels::ffai::kv_cache
