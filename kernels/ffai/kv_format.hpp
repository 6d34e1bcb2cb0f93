// The KV-cache formats (docs/kernels/kv_cache.md) and the quantisation of one group of a cache
// row, written once for every kernel that stores into a quantised cache: the quantize_kv_*
// kernels, and qkv_rope_append_* (docs/kernels/decoder.md), which rotate, quantise and append in
// one launch. Both therefore store the same bits for the same values. The attention kernels
// read these formats (attention_kernel.hpp).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::ffai {

// How K and V are stored: raw T, affine int4 / int8 codes with a scale and bias per group, or
// OCP fp8 codes with a scale per group.
enum class CacheFormat : std::uint8_t { Raw, Int4, Int8, Fp8E4M3, Fp8E5M2 };

// The suffix of the kernels of a format: "", "_int4", "_int8", "_fp8_e4m3", "_fp8_e5m2".
inline std::string format_suffix(CacheFormat f) {
  switch (f) {
    case CacheFormat::Raw: return "";
    case CacheFormat::Int4: return "_int4";
    case CacheFormat::Int8: return "_int8";
    case CacheFormat::Fp8E4M3: return "_fp8_e4m3";
    case CacheFormat::Fp8E5M2: return "_fp8_e5m2";
  }
  MT_ASSERT(false) << "unknown cache format";
  return "";
}

// Bits per code (Raw: 0).
inline std::uint32_t code_bits(CacheFormat f) {
  switch (f) {
    case CacheFormat::Raw: return 0;
    case CacheFormat::Int4: return 4;
    case CacheFormat::Int8:
    case CacheFormat::Fp8E4M3:
    case CacheFormat::Fp8E5M2: return 8;
  }
  MT_ASSERT(false) << "unknown cache format";
  return 0;
}

// int4 / int8 store a bias per group beside the scale.
inline bool has_bias(CacheFormat f) { return f == CacheFormat::Int4 || f == CacheFormat::Int8; }
inline bool is_fp8(CacheFormat f) { return f == CacheFormat::Fp8E4M3 || f == CacheFormat::Fp8E5M2; }

namespace kv_quant {

inline constexpr float kMaxF32 = std::numeric_limits<float>::max();
inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline Val is_finite(const Val& v) { return abs(v) <= kMaxF32; }  // false for NaN and +-inf

// Affine int4/int8: the parameters of a group from its smallest and largest value (f32) and
// whether every value is finite. scale = (mx - mn) / maxq (1 for a constant group), bias = mn;
// a group with NaN or inf gets NaN for both (its codes come out 0); a spread past f32's range
// (finite values near +-max) still gets a finite scale.
struct AffineGroup {
  Val scale, inv_scale, bias;  // f32; store scale and bias rounded to T
  Val mn;
};

inline AffineGroup affine_group(const Val& mn, const Val& mx, const Val& finite,
                                std::uint32_t maxq) {
  const Val spread = mx - mn;
  const Val step =
      select(spread <= kMaxF32, spread / float(maxq), mx / float(maxq) - mn / float(maxq));
  const Val scale = select(finite, select(spread == 0.0f, 1.0f, step), kNaN);
  return AffineGroup{scale, 1.0f / scale, select(finite, mn, kNaN), mn};
}

// The u32 code of v (f32) in its group: clamp((v - mn) / scale + 0.5, 0, maxq), truncated.
inline Val affine_code(const Val& v, const AffineGroup& g, std::uint32_t maxq) {
  return clamp((v - g.mn) * g.inv_scale + 0.5f, 0.0f, float(maxq)).to(DType::U32);
}

// fp8: the group's scale as stored (T) from its largest |v| and whether every value is finite:
// amax / fp8_max, 0 for an all-zero group, NaN for a group with NaN or inf.
inline Val fp8_scale(const Val& amax, const Val& finite, float fp8_max, DType t) {
  return select(finite, select(amax > 0.0f, amax / fp8_max, 0.0f), kNaN).to(t);
}

// The u32 code (0..255) of v (f32) for the scale as stored (as f32): fp8(v / scale), rounded to
// nearest even and saturating; 0 when the scale is 0 (or NaN).
inline Val fp8_code(const Val& v, const Val& scale, DType fp8) {
  return select(scale > 0.0f, v / scale, 0.0f).to(fp8).bitcast(DType::U8).to(DType::U32);
}

}  // namespace kv_quant
}  // namespace mt::kernels::ffai
