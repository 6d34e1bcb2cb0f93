// KV-cache kernels: raw updates, affine int4/int8 and OCP fp8 quantisation of one decode
// token, and bulk dequantisation of a whole cache. Layouts, formulas, scalars, launch geometry
// and accuracy: docs/kernels/kv_cache.md.
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

#include "metaltile/kernels/kernel_info.hpp"

// The family's kernels, one line each (kernel_info.hpp says what the list generates).
// bulk_dequant_kv_int4_x8 / _int8_x8 give the same results as the spec kernels with eight
// elements per thread (the bandwidth variants; they also need group_size % 8 == 0).
#define MT_FFAI_KV_CACHE_KERNELS(X) \
  X(kv_cache_update)                \
  X(kv_cache_update_many)           \
  X(quantize_kv_int4)               \
  X(quantize_kv_int8)               \
  X(bulk_dequant_kv_int4)           \
  X(bulk_dequant_kv_int8)           \
  X(bulk_dequant_kv_int4_x8)        \
  X(bulk_dequant_kv_int8_x8)        \
  X(quantize_kv_fp8_e4m3)           \
  X(quantize_kv_fp8_e5m2)           \
  X(bulk_dequant_kv_fp8_e4m3)       \
  X(bulk_dequant_kv_fp8_e5m2)

namespace mt::kernels::ffai::kv_cache {

inline constexpr std::string_view kFamily = "ffai::kv_cache";
MT_FFAI_KV_CACHE_KERNELS(MT_DECLARE_LIBRARY_KERNEL)
inline std::vector<KernelInfo> kernel_infos() {
  return {MT_FFAI_KV_CACHE_KERNELS(MT_LIBRARY_KERNEL_ENTRY)};
}

}  // namespace mt::kernels::ffai::kv_cache
