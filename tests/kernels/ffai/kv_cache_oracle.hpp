// Plain-loop CPU oracles for the KV-cache kernels (docs/kernels/kv_cache.md), an OCP fp8
// reference codec written from the format definition (independent of mt's own conversions),
// and the byte-level helpers the KV-cache tests share.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/dtype.hpp"
#include "support/bytes.hpp"

namespace mt::test::kv {

// One layer's cache geometry. Scalars the kernels take are derived from it.
struct CacheShape {
  std::uint32_t n_kv_heads = 1;
  std::uint32_t head_dim = 64;
  std::uint32_t max_seq = 8;
  std::uint32_t group_size = 32;

  std::size_t slots() const { return std::size_t{n_kv_heads} * max_seq; }
  std::size_t raw_elements() const { return slots() * head_dim; }
  std::size_t token_elements() const { return std::size_t{n_kv_heads} * head_dim; }
  std::uint32_t groups_per_slot() const { return head_dim / group_size; }
  std::size_t param_elements() const { return slots() * groups_per_slot(); }
  std::size_t token_groups() const { return std::size_t{n_kv_heads} * groups_per_slot(); }
  std::uint32_t words_per_slot(std::uint32_t bits) const { return head_dim / (32 / bits); }
  std::size_t word_elements(std::uint32_t bits) const { return slots() * words_per_slot(bits); }
  std::string text() const {
    return "n_kv_heads=" + std::to_string(n_kv_heads) + " head_dim=" + std::to_string(head_dim) +
           " max_seq=" + std::to_string(max_seq) + " group_size=" + std::to_string(group_size);
  }
};

// ---- deterministic data -------------------------------------------------------------------

// xorshift64: the same sequence on every platform (std distributions are not portable).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }
  std::uint32_t next_u32() { return static_cast<std::uint32_t>(next() >> 32); }
  // Uniform in [lo, hi), 24 random bits.
  float uniform(float lo, float hi) {
    return lo + (hi - lo) * (static_cast<float>(next() >> 40) / 16777216.0f);
  }

 private:
  std::uint64_t s_;
};

// n values uniform in [lo, hi), rounded to t.
inline std::vector<float> random_values(std::size_t n, std::uint64_t seed, DType t,
                                        float lo = -2.0f, float hi = 2.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = round_to(t, rng.uniform(lo, hi));
  return v;
}

// A per-index pattern of finite T values outside the data range, so an element the kernel
// should not touch cannot coincide with one it wrote.
inline Bytes sentinel(std::size_t n, DType t, float base = -3.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = base - 0.125f * static_cast<float>(i % 61);
  return pack(v, t);
}

inline std::vector<std::uint32_t> sentinel_words(std::size_t n) {
  std::vector<std::uint32_t> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = 0xDEAD0000u | static_cast<std::uint32_t>(i & 0xFFFF);
  return w;
}

// ---- byte access to T elements ------------------------------------------------------------

inline std::uint32_t element_bits(std::span<const std::uint8_t> bytes, std::size_t i, DType t) {
  const std::size_t size = size_of(t);
  std::uint32_t bits = 0;
  for (std::size_t b = 0; b < size; ++b) bits |= std::uint32_t(bytes[i * size + b]) << (8 * b);
  return bits;
}

inline float element(std::span<const std::uint8_t> bytes, std::size_t i, DType t) {
  const std::size_t size = size_of(t);
  return unpack(bytes.subspan(i * size, size), t)[0];
}

// Stores v (already representable in t) as element i.
inline void set_element(Bytes& bytes, std::size_t i, float v, DType t) {
  const Bytes one = pack(std::span<const float>(&v, 1), t);
  std::copy(one.begin(), one.end(), bytes.begin() + static_cast<std::ptrdiff_t>(i * one.size()));
}

// Bit-exact comparison of two buffers of t elements (any NaN matches any NaN). Records a failure
// listing the count and the first 10 mismatches (index, expected and actual bits and values).
// Returns whether equal.
inline bool expect_same_bits(std::span<const std::uint8_t> actual,
                             std::span<const std::uint8_t> expected, DType t,
                             std::string_view label) {
  if (actual.size() != expected.size()) {
    ADD_FAILURE() << label << ": " << actual.size() << " bytes, expected " << expected.size();
    return false;
  }
  const std::size_t n = actual.size() / size_of(t);
  std::ostringstream shown;
  shown.precision(9);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t a = element_bits(actual, i, t), e = element_bits(expected, i, t);
    if (a == e) continue;
    // A NaN's payload is unspecified: the interpreter and CUDA make different ones.
    if (is_float(t) && std::isnan(element(actual, i, t)) && std::isnan(element(expected, i, t)))
      continue;
    if (++mismatches > 10) continue;
    shown << "\n  [" << i << "] expected 0x" << std::hex << e << ", actual 0x" << a << std::dec;
    if (is_float(t))
      shown << " (" << element(expected, i, t) << " vs " << element(actual, i, t) << ")";
  }
  if (mismatches == 0) return true;
  ADD_FAILURE() << label << ": " << mismatches << " of " << n << " " << name_of(t)
                << " elements differ; first " << std::min<std::size_t>(mismatches, 10) << ":"
                << shown.str();
  return false;
}

inline bool expect_same_words(std::span<const std::uint8_t> actual,
                              std::span<const std::uint32_t> expected, std::string_view label) {
  return expect_same_bits(actual, pack_u32(expected), DType::U32, label);
}

// ---- OCP fp8 reference codec, from the format definition ----------------------------------

// E4M3FN: bias 7, 3 mantissa bits, exponent field 15 is finite except mantissa 7 (NaN), no
// infinities. E5M2: bias 15, 2 mantissa bits, exponent field 31 is inf/NaN as in IEEE.
struct Fp8Format {
  const char* name;
  int mantissa_bits;
  int bias;
  bool ieee_specials;  // E5M2: the top exponent is reserved
  float max_finite;

  // The value of a 7-bit magnitude code, or NaN for a non-finite one.
  double magnitude(std::uint32_t code) const {
    const std::uint32_t e = code >> mantissa_bits, m = code & ((1u << mantissa_bits) - 1);
    const std::uint32_t top = 127u >> mantissa_bits;
    if (ieee_specials ? e == top : (e == top && m == (1u << mantissa_bits) - 1)) return NAN;
    const double frac = static_cast<double>(m) / static_cast<double>(1u << mantissa_bits);
    if (e == 0) return std::ldexp(frac, 1 - bias);  // subnormal
    return std::ldexp(1.0 + frac, static_cast<int>(e) - bias);
  }
  std::uint32_t max_code() const {
    std::uint32_t c = 127;
    while (std::isnan(magnitude(c))) --c;
    return c;
  }
  bool is_finite_code(std::uint8_t code) const { return !std::isnan(magnitude(code & 0x7Fu)); }
  double decode(std::uint8_t code) const {
    const double m = magnitude(code & 0x7Fu);
    return (code & 0x80u) ? -m : m;
  }
  // Nearest finite magnitude code, ties to the even code (codes are monotonic in value and
  // neighbours differ in the mantissa's lowest bit), magnitudes past the largest finite value
  // saturating to it; the sign bit is x's (so -0.0 and negative underflow give 0x80).
  std::uint8_t encode(float x) const {
    const double ax = std::fabs(static_cast<double>(x));
    const std::uint32_t sign = std::signbit(x) ? 0x80u : 0u;
    // Saturate first: far past the range every distance is equal in double arithmetic.
    if (ax >= max_finite) return static_cast<std::uint8_t>(max_code() | sign);
    std::uint32_t best = 0;
    double best_dist = ax;  // distance to code 0
    for (std::uint32_t c = 1; c < 128; ++c) {
      const double v = magnitude(c);
      if (std::isnan(v)) continue;
      const double dist = std::fabs(v - ax);
      if (dist < best_dist || (dist == best_dist && (c & 1u) == 0)) {
        best = c;
        best_dist = dist;
      }
    }
    return static_cast<std::uint8_t>(best | sign);
  }
};

inline constexpr Fp8Format kE4M3{"e4m3", 3, 7, false, 448.0f};
inline constexpr Fp8Format kE5M2{"e5m2", 2, 15, true, 57344.0f};

// ---- oracles ------------------------------------------------------------------------------
//
// Non-finite values follow the kernels' rule: a group holding NaN or inf quantises to NaN
// scale (and bias) with codes 0; a finite group whose spread overflows f32 gets the scale
// max/maxq - min/maxq; a dequantised value of finite parameters saturates at +-max(T).

inline bool is_finite(float v) { return std::fabs(v) <= std::numeric_limits<float>::max(); }

inline float max_finite(DType t) {
  return t == DType::F16    ? 65504.0f
         : t == DType::BF16 ? std::bit_cast<float>(0x7F7F0000u)
                            : std::numeric_limits<float>::max();
}

// v rounded to t, saturated at +-max(t) when the parameters it came from are finite.
inline float store_dequantised(float v, bool finite_parameters, DType t) {
  if (finite_parameters && !std::isnan(v)) v = std::clamp(v, -max_finite(t), max_finite(t));
  return round_to(t, v);
}

inline std::size_t raw_index(const CacheShape& s, std::size_t h, std::size_t pos, std::size_t d) {
  return (h * s.max_seq + pos) * s.head_dim + d;
}

// kv_cache_update: out[h, position, d] = src[h, d], bit for bit.
inline void update(const CacheShape& s, DType t, std::span<const std::uint8_t> src,
                   std::uint32_t position, Bytes& out) {
  const std::size_t size = size_of(t);
  for (std::size_t h = 0; h < s.n_kv_heads; ++h) {
    for (std::size_t d = 0; d < s.head_dim; ++d) {
      const std::size_t from = (h * s.head_dim + d) * size;
      const std::size_t to = raw_index(s, h, position, d) * size;
      for (std::size_t b = 0; b < size; ++b) out[to + b] = src[from + b];
    }
  }
}

// kv_cache_update_many: row r of src goes to positions[r]; rows at or past max_seq are skipped.
inline void update_many(const CacheShape& s, DType t, std::span<const std::uint8_t> src,
                        std::span<const std::uint32_t> positions, Bytes& out) {
  const std::size_t row_bytes = s.token_elements() * size_of(t);
  for (std::size_t r = 0; r < positions.size(); ++r) {
    if (positions[r] >= s.max_seq) continue;
    update(s, t, src.subspan(r * row_bytes, row_bytes), positions[r], out);
  }
}

// Affine int4/int8 quantisation of one token (src: T-rounded values, [n_kv_heads, head_dim])
// into slot `position`, computing in f32 exactly as docs/kernels/kv_cache.md states.
inline void quantize_affine(const CacheShape& s, std::uint32_t bits, DType t,
                            std::span<const float> src, std::uint32_t position,
                            std::vector<std::uint32_t>& words, Bytes& scales, Bytes& biases) {
  const std::uint32_t vpp = 32 / bits, maxq = (1u << bits) - 1, gph = s.groups_per_slot();
  for (std::size_t h = 0; h < s.n_kv_heads; ++h) {
    const std::size_t slot = h * s.max_seq + position;
    for (std::uint32_t g = 0; g < gph; ++g) {
      const float* v = src.data() + h * s.head_dim + std::size_t{g} * s.group_size;
      const bool finite = std::all_of(v, v + s.group_size, [](float x) { return is_finite(x); });
      float mn = v[0], mx = v[0];
      for (std::uint32_t i = 1; i < s.group_size; ++i) {
        mn = std::min(mn, v[i]);
        mx = std::max(mx, v[i]);
      }
      const float spread = mx - mn, fq = static_cast<float>(maxq);
      const float step = is_finite(spread) ? spread / fq : mx / fq - mn / fq;
      const float scale = !finite ? NAN : spread == 0.0f ? 1.0f : step;
      const float inv_scale = 1.0f / scale;
      set_element(scales, slot * gph + g, round_to(t, scale), t);
      set_element(biases, slot * gph + g, finite ? round_to(t, mn) : NAN, t);
      for (std::uint32_t i = 0; i < s.group_size; ++i) {
        const float x = (v[i] - mn) * inv_scale + 0.5f;
        const float clamped = std::min(std::max(x, 0.0f), fq);  // x is never NaN here
        const std::uint32_t q = finite ? static_cast<std::uint32_t>(clamped) : 0;
        const std::uint32_t d = g * s.group_size + i;
        std::uint32_t& word = words[slot * s.words_per_slot(bits) + d / vpp];
        const std::uint32_t shift = (d % vpp) * bits;
        word = (word & ~(maxq << shift)) | (q << shift);
      }
    }
  }
}

// Affine dequantisation of positions [0, n_positions) into a raw-layout cache.
inline void dequant_affine(const CacheShape& s, std::uint32_t bits, DType t,
                           std::uint32_t n_positions, std::span<const std::uint32_t> words,
                           std::span<const std::uint8_t> scales,
                           std::span<const std::uint8_t> biases, Bytes& out) {
  const std::uint32_t vpp = 32 / bits, maxq = (1u << bits) - 1, gph = s.groups_per_slot();
  for (std::size_t h = 0; h < s.n_kv_heads; ++h) {
    for (std::size_t pos = 0; pos < n_positions; ++pos) {
      const std::size_t slot = h * s.max_seq + pos;
      for (std::uint32_t d = 0; d < s.head_dim; ++d) {
        const std::uint32_t word = words[slot * s.words_per_slot(bits) + d / vpp];
        const std::uint32_t q = (word >> ((d % vpp) * bits)) & maxq;
        const std::size_t group = slot * gph + d / s.group_size;
        const float scale = element(scales, group, t), bias = element(biases, group, t);
        const float v = static_cast<float>(q) * scale + bias;
        set_element(out, slot * s.head_dim + d,
                    store_dequantised(v, is_finite(scale) && is_finite(bias), t), t);
      }
    }
  }
}

// fp8 quantisation of one token: absmax scale stored as T; codes divide by the stored scale.
inline void quantize_fp8(const CacheShape& s, const Fp8Format& f, DType t,
                         std::span<const float> src, std::uint32_t position,
                         std::vector<std::uint32_t>& words, Bytes& scales) {
  const std::uint32_t gph = s.groups_per_slot();
  for (std::size_t h = 0; h < s.n_kv_heads; ++h) {
    const std::size_t slot = h * s.max_seq + position;
    for (std::uint32_t g = 0; g < gph; ++g) {
      const float* v = src.data() + h * s.head_dim + std::size_t{g} * s.group_size;
      float amax = 0.0f;
      for (std::uint32_t i = 0; i < s.group_size; ++i) amax = std::max(amax, std::fabs(v[i]));
      const bool finite = std::all_of(v, v + s.group_size, [](float x) { return is_finite(x); });
      const float scale = round_to(t, !finite ? NAN : amax > 0.0f ? amax / f.max_finite : 0.0f);
      set_element(scales, slot * gph + g, scale, t);
      for (std::uint32_t i = 0; i < s.group_size; ++i) {
        const std::uint32_t code = f.encode(scale > 0.0f ? v[i] / scale : 0.0f);
        const std::uint32_t d = g * s.group_size + i;
        std::uint32_t& word = words[slot * (s.head_dim / 4) + d / 4];
        const std::uint32_t shift = (d % 4) * 8;
        word = (word & ~(0xFFu << shift)) | (code << shift);
      }
    }
  }
}

inline void dequant_fp8(const CacheShape& s, const Fp8Format& f, DType t, std::uint32_t n_positions,
                        std::span<const std::uint32_t> words, std::span<const std::uint8_t> scales,
                        Bytes& out) {
  const std::uint32_t gph = s.groups_per_slot();
  for (std::size_t h = 0; h < s.n_kv_heads; ++h) {
    for (std::size_t pos = 0; pos < n_positions; ++pos) {
      const std::size_t slot = h * s.max_seq + pos;
      for (std::uint32_t d = 0; d < s.head_dim; ++d) {
        const std::uint32_t word = words[slot * (s.head_dim / 4) + d / 4];
        const auto code = static_cast<std::uint8_t>(word >> ((d % 4) * 8));
        const float scale = element(scales, slot * gph + d / s.group_size, t);
        const float value = static_cast<float>(f.decode(code));
        set_element(out, slot * s.head_dim + d,
                    store_dequantised(value * scale, is_finite(value) && is_finite(scale), t), t);
      }
    }
  }
}

}  // namespace mt::test::kv
