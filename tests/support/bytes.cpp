// Byte packing, poisoning and comparison helpers for tests (see bytes.hpp).
#include "support/bytes.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mt::test {
namespace {

constexpr std::uint8_t kPoisonPattern[4] = {0xEF, 0xBE, 0xAD, 0xDE};  // 0xDEADBEEF, LE

void require_float(DType t) {
  if (!is_float(t)) {
    throw std::invalid_argument("pack/unpack of floats needs a float dtype, got " +
                                std::string(name_of(t)));
  }
}

void require_whole(std::size_t bytes, std::size_t element, std::string_view what) {
  if (bytes % element != 0) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(bytes) +
                                " bytes is not a whole number of " + std::to_string(element) +
                                "-byte elements");
  }
}

template <class T>
Bytes pack_words(std::span<const T> values) {
  Bytes out(values.size() * 4);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint32_t w = static_cast<std::uint32_t>(values[i]);
    for (int b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<std::uint8_t>(w >> (8 * b));
  }
  return out;
}

template <class T>
std::vector<T> unpack_words(std::span<const std::uint8_t> bytes, std::string_view what) {
  require_whole(bytes.size(), 4, what);
  std::vector<T> out(bytes.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t w = 0;
    for (int b = 0; b < 4; ++b) w |= std::uint32_t(bytes[i * 4 + b]) << (8 * b);
    out[i] = static_cast<T>(w);
  }
  return out;
}

}  // namespace

Bytes le_bytes(std::uint32_t v) { return pack_words<std::uint32_t>(std::span(&v, 1)); }
Bytes le_bytes(std::int32_t v) { return pack_words<std::int32_t>(std::span(&v, 1)); }
Bytes le_bytes(float v) { return le_bytes(std::bit_cast<std::uint32_t>(v)); }

Bytes pack(std::span<const float> values, DType t) {
  require_float(t);
  const std::size_t size = size_of(t);
  Bytes out(values.size() * size);
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t bits = 0;
    switch (t) {
      case DType::F32: bits = std::bit_cast<std::uint32_t>(values[i]); break;
      case DType::F16: bits = f32_to_f16_bits(values[i]); break;
      case DType::BF16: bits = f32_to_bf16_bits(values[i]); break;
      case DType::F8E4M3: bits = f32_to_e4m3_bits(values[i]); break;
      case DType::F8E5M2: bits = f32_to_e5m2_bits(values[i]); break;
      default: break;  // require_float rejected the rest
    }
    for (std::size_t b = 0; b < size; ++b) out[i * size + b] = std::uint8_t(bits >> (8 * b));
  }
  return out;
}

std::vector<float> unpack(std::span<const std::uint8_t> bytes, DType t) {
  require_float(t);
  const std::size_t size = size_of(t);
  require_whole(bytes.size(), size, std::string("unpack ") + std::string(name_of(t)));
  std::vector<float> out(bytes.size() / size);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t bits = 0;
    for (std::size_t b = 0; b < size; ++b) bits |= std::uint32_t(bytes[i * size + b]) << (8 * b);
    switch (t) {
      case DType::F32: out[i] = std::bit_cast<float>(bits); break;
      case DType::F16: out[i] = f16_bits_to_f32(std::uint16_t(bits)); break;
      case DType::BF16: out[i] = bf16_bits_to_f32(std::uint16_t(bits)); break;
      case DType::F8E4M3: out[i] = e4m3_bits_to_f32(std::uint8_t(bits)); break;
      case DType::F8E5M2: out[i] = e5m2_bits_to_f32(std::uint8_t(bits)); break;
      default: break;
    }
  }
  return out;
}

std::vector<float> round_all(std::span<const float> values, DType t) {
  return unpack(pack(values, t), t);
}

Bytes pack_u32(std::span<const std::uint32_t> values) { return pack_words(values); }
std::vector<std::uint32_t> unpack_u32(std::span<const std::uint8_t> bytes) {
  return unpack_words<std::uint32_t>(bytes, "unpack_u32");
}
Bytes pack_i32(std::span<const std::int32_t> values) { return pack_words(values); }
std::vector<std::int32_t> unpack_i32(std::span<const std::uint8_t> bytes) {
  return unpack_words<std::int32_t>(bytes, "unpack_i32");
}

void poison(Bytes& bytes, DType t) {
  if (is_float(t)) {
    // A quiet NaN of each format; fp8 E4M3FN has a single NaN encoding (0x7F).
    std::uint32_t nan_bits = 0;
    switch (t) {
      case DType::F32: nan_bits = 0x7FC00000u; break;
      case DType::F16: nan_bits = 0x7E00u; break;
      case DType::BF16: nan_bits = 0x7FC0u; break;
      case DType::F8E4M3: nan_bits = 0x7Fu; break;
      case DType::F8E5M2: nan_bits = 0x7Fu; break;
      default: break;
    }
    const std::size_t size = size_of(t);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = std::uint8_t(nan_bits >> (8 * (i % size)));
    }
    return;
  }
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = kPoisonPattern[i % 4];
}

Bytes poisoned(std::size_t elements, DType t) {
  Bytes bytes(elements * size_of(t));
  poison(bytes, t);
  return bytes;
}

bool expect_close(std::span<const float> actual, std::span<const float> expected, double atol,
                  double rtol, std::string_view label) {
  if (actual.size() != expected.size()) {
    ADD_FAILURE() << label << ": length " << actual.size() << ", expected " << expected.size();
    return false;
  }
  std::ostringstream shown;
  shown.precision(9);  // enough digits to tell any two f32 values apart
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    const double tol = atol + rtol * std::fabs(e);
    // Non-finite values fail on either side: an overflow in kernel and oracle alike is a bug.
    const bool ok = std::isfinite(a) && std::isfinite(e) && std::fabs(a - e) <= tol;
    if (ok) continue;
    if (++mismatches <= 10) {
      shown << "\n  [" << i << "] expected " << e << ", actual " << a << ", tolerance " << tol;
    }
  }
  if (mismatches == 0) return true;
  ADD_FAILURE() << label << ": " << mismatches << " of " << actual.size()
                << " elements differ (atol " << atol << ", rtol " << rtol << "); first "
                << (mismatches < 10 ? mismatches : 10) << ":" << shown.str();
  return false;
}

bool expect_equal(std::span<const std::uint32_t> actual, std::span<const std::uint32_t> expected,
                  std::string_view label) {
  if (actual.size() != expected.size()) {
    ADD_FAILURE() << label << ": length " << actual.size() << ", expected " << expected.size();
    return false;
  }
  std::ostringstream shown;
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] == expected[i]) continue;
    if (++mismatches <= 10) {
      shown << "\n  [" << i << "] expected 0x" << std::hex << expected[i] << ", actual 0x"
            << actual[i] << std::dec;
    }
  }
  if (mismatches == 0) return true;
  ADD_FAILURE() << label << ": " << mismatches << " of " << actual.size()
                << " elements differ; first " << (mismatches < 10 ? mismatches : 10) << ":"
                << shown.str();
  return false;
}

}  // namespace mt::test
