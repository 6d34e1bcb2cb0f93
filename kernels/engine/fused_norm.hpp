// What the decode step's fused GEMVs share (decode_gemv.cpp, rope_gemv.cpp): the RMS norm
// taken on the way into a GEMV (x = h * (g + weight_offset), h^2 summed by every warp as it
// streams h, r applied to the totals), the tilings, and the start of a kernel that overlaps the
// one before it (its group's weight rows asked for in L2, then the wait).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "../mlx/gemv_body.hpp"
#include "../mlx/gemv_layout.hpp"
#include "../mlx/qgemv_body.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/kernel_info.hpp"

namespace mt::kernels::engine::decoder {

using mlx::GemvPlace;
using mlx::GemvTiling;
using mlx::kGemvThreads;
using mlx::kGemvWarps;
namespace q = mlx::quantized;

inline constexpr DType F32 = DType::F32;

// The norm's buffers and scalars, as the kernels' docs name them.
inline const ParamDoc kH{"h", "[K] T: the residual stream the norm is taken of (one row)"};
inline const ParamDoc kNorm{"norm", "[K] T: the norm's weight g"};
inline const ParamDoc kEps{"eps", "f32: added to the mean square (>= 0)"};
inline const ParamDoc kOffset{"weight_offset", "f32: added to g (0 for Llama, 1 for Gemma)"};

// Weight rows a warp and 16-byte vectors a row in flight per lane: two rows reuse each h and g
// load (the norm's reader loads two vectors per x vector); the plain reader is gemv_m1's.
inline constexpr GemvTiling kNormTiling{1, 2};
inline constexpr std::uint32_t kNormUnroll = 2;
inline constexpr GemvTiling kResidualTiling{1, 1};
inline constexpr std::uint32_t kResidualUnroll = 4;

// The norm's inputs and its reader: x = h * (g + weight_offset), h^2 summed into `squares`.
struct NormInput {
  Tensor h, g;
  Val eps, weight_offset;
};

inline NormInput declare_norm_input(KernelBuilder& b, DType T) {
  return {b.input("h", T), b.input("norm", T), b.scalar_f32("eps"), b.scalar_f32("weight_offset")};
}

// What the norm makes of loaded values of h and g: x = h * (g + weight_offset) and sum h^2.
struct Normed {
  std::vector<Val> x;
  Val squares;
};

inline Normed normed(const NormInput& in, const std::vector<Val>& h, const std::vector<Val>& g) {
  Normed v{{}, h[0] * h[0]};
  v.x.push_back(h[0] * (g[0] + in.weight_offset));
  for (std::size_t j = 1; j < h.size(); ++j) {
    v.squares = fma(h[j], h[j], v.squares);
    v.x.push_back(h[j] * (g[j] + in.weight_offset));
  }
  return v;
}

inline mlx::XReader read_normed(const NormInput& in, Var& squares) {
  return [&in, &squares](std::uint32_t, const Val& at, std::uint32_t lanes) {
    Normed v = normed(in, mlx::load_f32(in.h, at, lanes), mlx::load_f32(in.g, at, lanes));
    squares = squares + v.squares;
    return std::move(v.x);
  };
}

// 1 / sqrt(mean(h^2) + eps) from each lane's share of the squares (every lane of the warp).
inline Val inverse_rms(const Var& squares, const Val& k, const Val& eps) {
  return rsqrt(warp_sum(squares) / k.to(F32) + eps);
}

inline void require_norm_input(KernelBuilder& b, const NormInput& in, const Val& k) {
  b.require_len(in.g, k, "k");
  b.require(in.eps >= 0.0f, "eps >= 0");
}

// Each kernel first asks for its group's weight rows in L2 and waits for the kernel before it
// (mlx::overlap_prior_kernel): `rows` rows of `row_elements` elements from each of `firsts`
// (the plain forms' kGemvWarps * R consecutive rows; the SwiGLU forms' gate rows and the up
// rows n further on; the RoPE forms' a and b rows of their pairs).
inline void overlap_dense_rows(const Tensor& w, const std::vector<Val>& firsts, std::uint32_t rows,
                               const Val& row_elements) {
  std::vector<mlx::WeightRows> ranges;
  for (const Val& at : firsts) ranges.push_back({w, at, u32(rows), row_elements});
  mlx::overlap_prior_kernel(ranges);
}

// The quantised forms ask for the rows' codes, scales and biases, the same way.
inline void overlap_quantised_rows(const q::QgemvParams& p, const std::vector<Val>& firsts,
                                   std::uint32_t rows) {
  const Val words = p.k / 32u * p.bits, groups = p.k / p.group_size;
  std::vector<mlx::WeightRows> ranges;
  for (const Val& at : firsts) {
    ranges.push_back({p.wq, at, u32(rows), words});
    ranges.push_back({p.scales, at, u32(rows), groups});
    ranges.push_back({p.biases, at, u32(rows), groups});
  }
  mlx::overlap_prior_kernel(ranges);
}

inline q::UnitReader read_normed_units(const NormInput& in) {
  return [&in](const Val& first) {
    Normed v = normed(in, mlx::affine::load_unit_values(in.h, first),
                      mlx::affine::load_unit_values(in.g, first));
    return q::UnitValues{std::move(v.x), v.squares};
  };
}

}  // namespace mt::kernels::engine::decoder
