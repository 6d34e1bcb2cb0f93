// The MLX affine format in the DSL (docs/kernels/quantized.md): each row of K weights is cut
// into groups of group_size along K, w ~ scale * q + bias per group, and the `bits`-bit codes q
// are one little-endian bit stream, LSB first, code i at bits [i * bits, (i + 1) * bits) of its
// row's u32 words (3-, 5- and 6-bit codes straddle words). Every row is a whole number of
// 32-code units, and a unit is exactly `bits` words, so the kernels work unit by unit with
// every shift known when the kernel is traced.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::mlx::affine {

inline constexpr std::uint32_t kUnitCodes = 32;  // codes per unit; a unit is `bits` u32 words
inline constexpr std::uint32_t kBitsValues[] = {2, 3, 4, 5, 6, 8};
inline constexpr std::uint32_t kGroupSizes[] = {32, 64, 128};

// 2^23 as bits and as a float: a code c below 2^23 placed in the mantissa of 2^23 is the float
// 2^23 + c, so float(c) costs one bitwise or and one subtraction, no conversion.
inline constexpr std::uint32_t kMagicBits = 0x4B000000u;
inline constexpr float kMagic = 8388608.0f;

constexpr std::uint32_t max_code(std::uint32_t bits) { return (1u << bits) - 1u; }

// Where code i (< 32) of a unit lies in the unit's words.
struct CodeBits {
  std::uint32_t word;   // the word holding its lowest bit
  std::uint32_t shift;  // that bit's position in the word
  bool straddles;       // its high bits continue in word + 1
};
constexpr CodeBits code_bits(std::uint32_t i, std::uint32_t bits) {
  const std::uint32_t first = i * bits;
  return {first / 32, first % 32, first % 32 + bits > 32};
}

// Host-side preconditions every affine kernel shares: bits and group_size are MLX's.
inline void require_affine_format(KernelBuilder& b, const Val& bits, const Val& group_size) {
  b.require((bits >= 2u && bits <= 6u) || bits == 8u, "bits in {2, 3, 4, 5, 6, 8}");
  b.require(group_size == 32u || group_size == 64u || group_size == 128u,
            "group_size in {32, 64, 128}");
}

// Traces body(b) for each supported bits value b, each under if_(bits == b): the kernel holds
// one specialised copy per width and runs the one the scalar names (one copy when bits is
// specialised through the ConstMap).
template <class Body>
void for_each_bits(const Val& bits, Body body) {
  for (std::uint32_t b : kBitsValues) if_(bits == b, [&] { body(b); });
}

// log2(group_size / 32): the shift from a unit index to its group index (group_size is 32, 64
// or 128 by the contract).
inline Val units_per_group_shift(const Val& group_size) {
  return select(group_size == 32u, u32(0), select(group_size == 64u, u32(1), u32(2)));
}

// Code i of a unit as a u32.
inline Val extract_code(const std::vector<Val>& words, std::uint32_t i, std::uint32_t bits) {
  const CodeBits c = code_bits(i, bits);
  Val v = c.shift == 0 ? words[c.word] : words[c.word] >> c.shift;
  if (c.straddles) v = v | (words[c.word + 1] << (32 - c.shift));
  return c.shift + bits == 32 ? v : v & max_code(bits);
}

// float(code) for a code below 2^23, exactly (see kMagic).
inline Val code_as_float(const Val& code) {
  return (code | kMagicBits).bitcast(DType::F32) - kMagic;
}

// Code i of a unit as a float times 2^e, and e. For 2, 4 and 8 bits the code stays where it
// is in its word, or in the word shifted right by 16 (e < 16, so it fits the mantissa):
// bitcast((word & mask << e) | kMagicBits) - kMagic = q * 2^e exactly, one and (after an or
// shared by the half-word's codes) and one subtraction. Other widths are shifted down (e = 0).
inline std::pair<Val, std::uint32_t> code_times_power(const std::vector<Val>& words,
                                                      std::uint32_t i, std::uint32_t bits) {
  if (bits != 2 && bits != 4 && bits != 8) return {code_as_float(extract_code(words, i, bits)), 0};
  const CodeBits c = code_bits(i, bits);
  const bool high = c.shift >= 16;
  const std::uint32_t e = high ? c.shift - 16 : c.shift;
  const Val source = high ? words[c.word] >> 16u : words[c.word];
  // (source | magic) & (mask << e | magic) is (source & mask << e) | magic (the mask stays below
  // bit 16, the magic's bits above 23); the or is the same for every code of the half-word, so
  // each code costs one and with one immediate (a LOP3 takes one) instead of an and and an or.
  return {
      ((source | kMagicBits) & ((max_code(bits) << e) | kMagicBits)).bitcast(DType::F32) - kMagic,
      e};
}

// The 32 weights of a unit as MLX dequantises them: T(T(q) * scale) + bias, the product and
// the sum each rounded to T (the type of scale and bias). The product is q * scale rounded
// once in f32 (exact for f16 and bf16 scales: their 8- or 11-bit significands times an 8-bit
// code fit f32's 24), then rounded to T; the bias is added in T. f16 and bf16 codes stay in
// place (code_times_power: q * 2^e times scale * 2^-e, one multiply by 2^-e per position e and
// unit; exact, as an f16 or bf16 scale times 2^-14 keeps every significant bit in f32); an f32
// scale times 2^-e could lose bits below f32's normal range, so f32 codes are shifted down.
inline std::vector<Val> dequantize_unit_values(const std::vector<Val>& words, std::uint32_t bits,
                                               const Val& scale, const Val& bias) {
  const DType t = bias.dtype();
  const Val s = scale.to(DType::F32);
  std::vector<std::pair<std::uint32_t, Val>> scaled = {{0, s}};  // (e, s * 2^-e)
  std::vector<Val> values;
  for (std::uint32_t i = 0; i < kUnitCodes; ++i) {
    const auto [q, e] =
        t == DType::F32
            ? std::pair<Val, std::uint32_t>{code_as_float(extract_code(words, i, bits)), 0}
            : code_times_power(words, i, bits);
    auto it = scaled.begin();
    while (it != scaled.end() && it->first != e) ++it;
    if (it == scaled.end()) it = scaled.insert(it, {e, s * (1.0f / float(1u << e))});
    values.push_back((q * it->second).to(t) + bias);
  }
  return values;
}

// The unit's words from its 32 codes (u32, each below 2^bits).
inline std::vector<Val> pack_unit(const std::vector<Val>& codes, std::uint32_t bits) {
  std::vector<Val> words;
  for (std::uint32_t w = 0; w < bits; ++w) {
    Val word = u32(0);
    bool empty = true;
    for (std::uint32_t i = 0; i < kUnitCodes; ++i) {
      const std::uint32_t first = i * bits, last = first + bits;  // bits [first, last)
      if (last <= 32 * w || first >= 32 * (w + 1)) continue;
      const Val piece =
          first >= 32 * w ? codes[i] << (first - 32 * w) : codes[i] >> (32 * w - first);
      word = empty ? piece : word | piece;
      empty = false;
    }
    words.push_back(word);
  }
  return words;
}

// Words per vector access for a unit of `bits` words starting at a multiple of `bits`: 16-byte
// accesses when bits is a multiple of 4, 8-byte ones when it is even, else single words.
constexpr std::uint32_t unit_access_words(std::uint32_t bits) {
  return bits % 4 == 0 ? 4 : bits % 2 == 0 ? 2 : 1;
}

// The `bits` words of a unit whose first word is `first` (a multiple of the access width).
inline std::vector<Val> load_unit_words(const Tensor& wq, const Val& first, std::uint32_t bits) {
  const std::uint32_t lanes = unit_access_words(bits);
  std::vector<Val> words;
  for (std::uint32_t w = 0; w < bits; w += lanes) {
    const Val at = w == 0 ? first : first + w;
    if (lanes == 1) {
      words.push_back(wq[at]);
      continue;
    }
    const ArrayRef v = load_vector(wq, at, lanes);
    for (std::uint32_t j = 0; j < lanes; ++j) words.push_back(v[j]);
  }
  return words;
}

inline void store_unit_words(const Tensor& wq, const Val& first, const std::vector<Val>& words) {
  const std::uint32_t bits = static_cast<std::uint32_t>(words.size());
  const std::uint32_t lanes = unit_access_words(bits);
  KernelBuilder& b = wq.builder();
  for (std::uint32_t w = 0; w < bits; w += lanes) {
    const Val at = w == 0 ? first : first + w;
    if (lanes == 1) {
      wq[at] = words[w];
      continue;
    }
    // Array names are unique in a kernel: number them by the arrays so far.
    const ArrayRef v =
        b.thread_array("words_" + std::to_string(b.kernel().arrays.size()), DType::U32, lanes);
    for (std::uint32_t j = 0; j < lanes; ++j) v[j] = words[w + j];
    store_vector(wq, at, v, lanes);
  }
}

// The 32 elements of t from `first` (a multiple of 32) as f32, in 16-byte loads.
inline std::vector<Val> load_unit_values(const Tensor& t, const Val& first) {
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(t.dtype()));
  std::vector<Val> values;
  for (std::uint32_t i = 0; i < kUnitCodes; i += lanes) {
    const ArrayRef v = load_vector(t, i == 0 ? first : first + i, lanes);
    for (std::uint32_t j = 0; j < lanes; ++j) values.push_back(v[j].to(DType::F32));
  }
  return values;
}

}  // namespace mt::kernels::mlx::affine
