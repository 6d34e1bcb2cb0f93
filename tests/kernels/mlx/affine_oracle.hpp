// A plain C++ statement of MLX's affine quantisation, independent of the kernels: MLX's
// choice of scale and bias in f32 with std::rint, the codes written into one little-endian
// bit stream per row through a 64-bit buffer, and MLX's dequantisation (two roundings to T).
// The fixture test checks this oracle against MLX's own output; the randomized tests check the
// kernels against it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "metaltile/core/dtype.hpp"

namespace mt::test::affine {

inline constexpr std::uint32_t kBits[] = {2, 3, 4, 5, 6, 8};
inline constexpr std::uint32_t kGroupSizes[] = {32, 64, 128};

struct Quantized {
  std::vector<std::uint32_t> wq;  // [n, k * bits / 32]
  std::vector<float> scales;      // [n, k / group_size], values of T
  std::vector<float> biases;      // [n, k / group_size], values of T
};

// Codes of `bits` bits appended LSB-first to a stream of u32 words.
class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint32_t>& out) : out_(out) {}
  void put(std::uint32_t code, std::uint32_t bits) {
    buffer_ |= std::uint64_t{code} << filled_;
    filled_ += bits;
    while (filled_ >= 32) {
      out_.push_back(static_cast<std::uint32_t>(buffer_));
      buffer_ >>= 32;
      filled_ -= 32;
    }
  }

 private:
  std::vector<std::uint32_t>& out_;
  std::uint64_t buffer_ = 0;
  std::uint32_t filled_ = 0;
};

// Code i of a row's stream.
inline std::uint32_t code_at(std::span<const std::uint32_t> row_words, std::size_t i,
                             std::uint32_t bits) {
  const std::size_t first = i * bits;
  std::uint64_t window = row_words[first / 32];
  if (first / 32 + 1 < row_words.size()) window |= std::uint64_t{row_words[first / 32 + 1]} << 32;
  return static_cast<std::uint32_t>(window >> (first % 32)) & ((1u << bits) - 1u);
}

// MLX's quantisation of w (values of T; rows of a multiple of group_size, so the groups and
// each row's stream follow one another).
inline Quantized quantize(std::span<const float> w, std::size_t group_size, std::uint32_t bits,
                          DType t) {
  Quantized q;
  BitWriter writer(q.wq);
  const float n_bins = float((1u << bits) - 1u);
  const float eps = 1e-7f;
  for (std::size_t g = 0; g < w.size() / group_size; ++g) {
    const std::span<const float> v = w.subspan(g * group_size, group_size);
    float w_min = std::numeric_limits<float>::infinity(), w_max = -w_min;
    for (float x : v) {
      w_max = std::max(w_max, x);
      w_min = std::min(w_min, x);
    }
    const bool mask = std::fabs(w_min) > std::fabs(w_max);
    float scale = std::max((w_max - w_min) / n_bins, eps);
    scale = mask ? scale : -scale;
    const float edge = mask ? w_min : w_max;
    const float q0 = std::rint(edge / scale);
    float bias = 0.0f;
    if (q0 != 0.0f) {
      scale = edge / q0;
      bias = edge;
    }
    for (float x : v) {
      const float code = std::min(std::max(std::rint((x - bias) / scale), 0.0f), n_bins);
      writer.put(static_cast<std::uint32_t>(code), bits);
    }
    q.scales.push_back(round_to(t, scale));
    q.biases.push_back(round_to(t, bias));
  }
  return q;
}

// Every code of an [n, k] weight, row-major.
inline std::vector<std::uint32_t> codes(std::span<const std::uint32_t> wq, std::size_t n,
                                        std::size_t k, std::uint32_t bits) {
  std::vector<std::uint32_t> out;
  const std::size_t row_words = k * bits / 32;
  for (std::size_t r = 0; r < n; ++r) {
    const std::span<const std::uint32_t> row = wq.subspan(r * row_words, row_words);
    for (std::size_t i = 0; i < k; ++i) out.push_back(code_at(row, i, bits));
  }
  return out;
}

// mx.dequantize: T(q) * scale rounded to T, plus bias rounded to T.
inline std::vector<float> dequantize(std::span<const std::uint32_t> wq,
                                     std::span<const float> scales, std::span<const float> biases,
                                     std::size_t n, std::size_t k, std::size_t group_size,
                                     std::uint32_t bits, DType t) {
  const std::vector<std::uint32_t> q = codes(wq, n, k, bits);
  std::vector<float> out;
  for (std::size_t i = 0; i < q.size(); ++i) {
    const float scaled = round_to(t, float(q[i]) * scales[i / group_size]);
    out.push_back(round_to(t, scaled + biases[i / group_size]));
  }
  return out;
}

// scale * q + bias exactly: the weights a quantised GEMV multiplies by.
inline std::vector<double> dequantize_exact(std::span<const std::uint32_t> wq,
                                            std::span<const float> scales,
                                            std::span<const float> biases, std::size_t n,
                                            std::size_t k, std::size_t group_size,
                                            std::uint32_t bits) {
  const std::vector<std::uint32_t> q = codes(wq, n, k, bits);
  std::vector<double> out;
  for (std::size_t i = 0; i < q.size(); ++i) {
    out.push_back(double(scales[i / group_size]) * q[i] + double(biases[i / group_size]));
  }
  return out;
}

}  // namespace mt::test::affine
