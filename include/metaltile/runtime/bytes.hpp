// Little-endian bytes for the byte-map dispatch API (mt::BufferMap): a scalar parameter
// (scalar_bytes), a tensor of floats in any float dtype or of u32 words (tensor_bytes), and the
// way back for outputs (tensor_values, u32_values).
//
//   buffers["head_dim"] = mt::scalar_bytes(std::uint32_t{128});
//   buffers["eps"] = mt::scalar_bytes(1e-5f);
//   buffers["src"] = mt::tensor_bytes(values, mt::DType::F16);
//   std::vector<float> out = mt::tensor_values(result.outputs.at("out"), mt::DType::F16);
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "metaltile/core/dtype.hpp"
#include "metaltile/core/error.hpp"

namespace mt {

namespace detail {

inline void append_le(std::vector<std::uint8_t>& out, std::uint32_t bits, std::size_t bytes) {
  for (std::size_t b = 0; b < bytes; ++b) out.push_back(static_cast<std::uint8_t>(bits >> (8 * b)));
}

inline std::uint32_t read_le(const std::uint8_t* p, std::size_t bytes) {
  std::uint32_t bits = 0;
  for (std::size_t b = 0; b < bytes; ++b) bits |= std::uint32_t{p[b]} << (8 * b);
  return bits;
}

inline void require_float_dtype(DType t, const char* function) {
  if (!is_float(t)) {
    throw Error(std::string(function) + ": dtype " + std::string(name_of(t)) +
                " is not a float type (f32, f16, bf16, f8e4m3, f8e5m2)");
  }
}

inline void require_whole_elements(std::size_t bytes, std::size_t element, const char* function) {
  if (bytes % element != 0) {
    throw Error(std::string(function) + ": " + std::to_string(bytes) +
                " bytes are not a whole number of " + std::to_string(element) + "-byte elements");
  }
}

}  // namespace detail

// The 4 little-endian bytes of a 32-bit scalar parameter (u32, i32 or f32, matching the
// kernel's scalar_u32 / scalar_i32 / scalar_f32).
inline std::vector<std::uint8_t> scalar_bytes(std::uint32_t v) {
  std::vector<std::uint8_t> out;
  detail::append_le(out, v, 4);
  return out;
}
inline std::vector<std::uint8_t> scalar_bytes(std::int32_t v) {
  return scalar_bytes(static_cast<std::uint32_t>(v));
}
inline std::vector<std::uint8_t> scalar_bytes(float v) {
  return scalar_bytes(std::bit_cast<std::uint32_t>(v));
}
// Any other type (double, a 64-bit integer) would change size or meaning silently: write the
// 32-bit type you mean (1e-5f, std::uint32_t{n}).
template <class T>
std::vector<std::uint8_t> scalar_bytes(T) = delete;

// `values` as elements of the float dtype t, each rounded to nearest even (fp8 saturates), as
// the dtype conversions of core/dtype.hpp do.
inline std::vector<std::uint8_t> tensor_bytes(std::span<const float> values, DType t) {
  detail::require_float_dtype(t, "tensor_bytes");
  std::vector<std::uint8_t> out;
  out.reserve(values.size() * size_of(t));
  for (const float v : values) {
    switch (t) {
      case DType::F16: detail::append_le(out, f32_to_f16_bits(v), 2); break;
      case DType::BF16: detail::append_le(out, f32_to_bf16_bits(v), 2); break;
      case DType::F8E4M3: detail::append_le(out, f32_to_e4m3_bits(v), 1); break;
      case DType::F8E5M2: detail::append_le(out, f32_to_e5m2_bits(v), 1); break;
      default: detail::append_le(out, std::bit_cast<std::uint32_t>(v), 4); break;  // f32 only
    }
  }
  return out;
}

// u32 elements (codes, positions, indices).
inline std::vector<std::uint8_t> tensor_bytes(std::span<const std::uint32_t> values) {
  std::vector<std::uint8_t> out;
  out.reserve(values.size() * 4);
  for (const std::uint32_t v : values) detail::append_le(out, v, 4);
  return out;
}

// The elements of a float dtype, widened exactly to f32. An mt::Error unless `bytes` is a
// whole number of elements.
inline std::vector<float> tensor_values(std::span<const std::uint8_t> bytes, DType t) {
  detail::require_float_dtype(t, "tensor_values");
  const std::size_t size = size_of(t);
  detail::require_whole_elements(bytes.size(), size, "tensor_values");
  std::vector<float> out;
  out.reserve(bytes.size() / size);
  for (std::size_t at = 0; at < bytes.size(); at += size) {
    const std::uint32_t bits = detail::read_le(bytes.data() + at, size);
    switch (t) {
      case DType::F16: out.push_back(f16_bits_to_f32(static_cast<std::uint16_t>(bits))); break;
      case DType::BF16: out.push_back(bf16_bits_to_f32(static_cast<std::uint16_t>(bits))); break;
      case DType::F8E4M3: out.push_back(e4m3_bits_to_f32(static_cast<std::uint8_t>(bits))); break;
      case DType::F8E5M2: out.push_back(e5m2_bits_to_f32(static_cast<std::uint8_t>(bits))); break;
      default: out.push_back(std::bit_cast<float>(bits)); break;  // f32 only
    }
  }
  return out;
}

// u32 elements; an mt::Error unless `bytes` is a whole number of 4-byte words.
inline std::vector<std::uint32_t> u32_values(std::span<const std::uint8_t> bytes) {
  detail::require_whole_elements(bytes.size(), 4, "u32_values");
  std::vector<std::uint32_t> out;
  out.reserve(bytes.size() / 4);
  for (std::size_t at = 0; at < bytes.size(); at += 4)
    out.push_back(detail::read_le(&bytes[at], 4));
  return out;
}

}  // namespace mt
