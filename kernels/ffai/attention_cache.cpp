// Reading one lane's 16 channels of a K or V row in each cache format, dequantised in
// registers.
//
// A lane's channels 16c .. 16c+15 of a row are two 16-byte vectors (f16, bf16) or four (f32),
// two u32 words of int4 codes (one 8-byte load) or four words of int8 / fp8 codes (one 16-byte
// load); they lie in one quantisation group because group_size is a multiple of 16. Codes become
// floats without an integer-to-float conversion (a slow instruction on GPUs): the code's bits are
// moved into the top of an f32 mantissa whose exponent is 0, giving f = 1 + code / 2^bits exactly,
// so that
//   value = code * scale + bias = f * (2^bits * scale) + (bias - 2^bits * scale),
// one fused multiply-add per channel with the two group constants computed once per row.
// fp8 codes are moved into an f32's sign, exponent and mantissa bits and multiplied by the
// power of two that rebiases the exponent (exact, subnormals included); NaN and infinity codes
// are mapped to NaN and infinity as the dequantisation kernels do.
//
// Each value is then rounded to T, as bulk_dequant_kv_* stores it, so that attending to the
// codes gives what dequantising and then attending gives. For f16/bf16 scales and biases the
// values are the dequantised cache's bit for bit: bias - 2^bits * scale and code * scale are
// exact in f32, so the fused multiply-add rounds the exact code * scale + bias once, as the
// dequantisation's multiply and add do (and an fp8 product is exact before its rounding).
#include <bit>

#include "attention_kernel.hpp"
#include "metaltile/core/error.hpp"

namespace mt::kernels::ffai::attention {
namespace {

constexpr DType F32 = DType::F32;
constexpr DType U32 = DType::U32;

// The bits of `word` from bit `from` on, moved to start at bit `to`.
Val move_bits(const Val& word, int from, int to) {
  if (to > from) return word << std::uint32_t(to - from);
  if (to < from) return word >> std::uint32_t(from - to);
  return word;
}

// The f32 with exponent 0 (1.0 <= f < 2) whose top mantissa bits are the `bits`-bit code at
// bit `offset` of `word`: f = 1 + code / 2^bits.
Val code_as_mantissa(const Val& word, int offset, std::uint32_t bits) {
  const int top = 23 - int(bits);  // where the code lands: mantissa bits [23 - bits, 23)
  const std::uint32_t mask = ((1u << bits) - 1u) << top;
  return ((move_bits(word, offset, top) & mask) | std::bit_cast<std::uint32_t>(1.0f)).bitcast(F32);
}

// x rounded to the cache's element type t, as a dequantised cache stores it.
Val as_stored(const Val& x, DType t) { return t == F32 ? x : x.to(t).to(F32); }

}  // namespace

CacheReader::CacheReader(CacheFormat f, const CacheTensors& cache, const Val& head_dim,
                         const std::optional<Val>& group_size, const Val& lane_chunk)
    : format_(f),
      tensors_(cache.tensors),
      per_slot_(head_dim),
      first_(lane_chunk * kChannelsPerLane),
      group_(u32(0)),
      groups_(u32(0)) {
  if (f == CacheFormat::Raw) return;
  MT_ASSERT(group_size.has_value()) << "quantised cache without group_size";
  per_slot_ = head_dim / (32 / code_bits(f));
  first_ = lane_chunk * words();
  group_ = lane_chunk * kChannelsPerLane / *group_size;
  groups_ = head_dim / *group_size;
}

std::uint32_t CacheReader::words() const { return kChannelsPerLane * code_bits(format_) / 32; }

RowLoad CacheReader::load(const Val& slot) const {
  RowLoad row;
  const Tensor& x = tensors_[0];
  const Val at = slot * per_slot_ + first_;
  if (format_ == CacheFormat::Raw) {
    // 16 bytes a vector: one for 2-byte types, two for f32.
    const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(x.dtype()));
    for (std::uint32_t first = 0; first < kChannelsPerLane; first += lanes) {
      row.vectors.push_back(load_vector(x, first == 0 ? at : at + first, lanes));
    }
    return row;
  }
  row.vectors.push_back(load_vector(x, at, words()));  // 8 or 16 bytes of codes
  const Val param = slot * groups_ + group_;
  for (std::size_t i = 1; i < tensors_.size(); ++i) row.values.push_back(tensors_[i][param]);
  return row;
}

std::vector<Val> CacheReader::decode(const RowLoad& row) const {
  if (format_ == CacheFormat::Raw) {
    std::vector<Val> channels;
    for (const ArrayRef& v : row.vectors) {
      const std::uint32_t lanes = kChannelsPerLane / std::uint32_t(row.vectors.size());
      for (std::uint32_t j = 0; j < lanes; ++j) channels.push_back(v[j].to(F32));
    }
    return channels;
  }
  if (format_ == CacheFormat::Int4 || format_ == CacheFormat::Int8) return decode_affine(row);
  return decode_fp8(row);
}

std::vector<Val> CacheReader::decode_affine(const RowLoad& row) const {
  const std::uint32_t bits = code_bits(format_);
  const std::uint32_t per_word = 32 / bits;
  std::vector<Val> words;
  for (std::uint32_t w = 0; w < this->words(); ++w) words.push_back(row.vectors[0][w]);
  const Val scale = row.values[0].to(F32);
  const Val bias = row.values[1].to(F32);
  // value = f * (2^bits * scale) + (bias - 2^bits * scale), f = 1 + code / 2^bits.
  const Val step = scale * float(1u << bits);
  const Val base = bias - step;
  std::vector<Val> channels;
  for (std::uint32_t c = 0; c < kChannelsPerLane; ++c) {
    const Val f = code_as_mantissa(words[c / per_word], int((c % per_word) * bits), bits);
    channels.push_back(as_stored(fma(f, step, base), tensors_[1].dtype()));
  }
  return channels;
}

std::vector<Val> CacheReader::decode_fp8(const RowLoad& row) const {
  const bool e4m3 = format_ == CacheFormat::Fp8E4M3;
  // Exponent and mantissa bits (7 of the code) land at [23 - mantissa_bits, 30 - ...): the
  // f32's exponent field then holds the code's, and 2^(127 - bias) rebiases it.
  const int mantissa_bits = e4m3 ? 3 : 2;
  const int magnitude_at = 23 - mantissa_bits;
  const std::uint32_t magnitude_mask = 0x7Fu << magnitude_at;
  const float rebias = e4m3 ? 0x1p120f : 0x1p112f;
  // Codes of the largest magnitudes that are not numbers: E4M3FN 0x7F is NaN; E5M2 0x7C is
  // infinity and 0x7D-0x7F NaN.
  const std::uint32_t special = (e4m3 ? 0x7Fu : 0x7Cu) << magnitude_at;
  const Val scale = row.values[0].to(F32);
  std::vector<Val> channels;
  for (std::uint32_t c = 0; c < kChannelsPerLane; ++c) {
    const Val word = row.vectors[0][c / 4];
    const int offset = int(c % 4) * 8;
    const Val magnitude = move_bits(word, offset, magnitude_at) & magnitude_mask;
    const Val sign = move_bits(word, offset + 7, 31) & 0x80000000u;
    const Val finite = (magnitude | sign).bitcast(F32) * rebias;
    Val x = finite;
    if (e4m3) {
      x = select(magnitude == special, std::numeric_limits<float>::quiet_NaN(), finite);
    } else {
      const Val infinity = (sign | std::bit_cast<std::uint32_t>(kInfinity)).bitcast(F32);
      const Val not_finite =
          select(magnitude == special, infinity, f32(std::numeric_limits<float>::quiet_NaN()));
      x = select(magnitude >= special, not_finite, finite);
    }
    channels.push_back(as_stored(x * scale, tensors_[1].dtype()));
  }
  return channels;
}

}  // namespace mt::kernels::ffai::attention
