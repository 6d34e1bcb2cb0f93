// Random literals and tensor contents.
#include "fuzz/sample.hpp"

#include <bit>
#include <limits>

#include "metaltile/core/scalar_eval.hpp"

namespace mt::fuzz {
namespace {

std::int64_t random_integer(Rng& rng, DType t) {
  const std::int64_t special[] = {0,
                                  1,
                                  2,
                                  3,
                                  -1,
                                  -2,
                                  7,
                                  8,
                                  31,
                                  32,
                                  33,
                                  127,
                                  128,
                                  255,
                                  256,
                                  0x7fffffff,
                                  -0x7fffffff - 1,
                                  0x80000000ll,
                                  0xffffffffll};
  switch (rng.below(4)) {
    case 0: return rng.pick(special);
    case 1: return rng.range(-40, 40);
    case 2: return static_cast<std::int64_t>(rng.bits32());
    default: {
      // Near the type's own extremes.
      const int bits = bit_width(t);
      const std::int64_t top = std::int64_t{1} << (bits - 1);
      return (rng.percent(50) ? top : 2 * top) + rng.range(-3, 3);
    }
  }
}

float random_float(Rng& rng) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float special[] = {0.0f,  -0.0f,  1.0f,    -1.0f, 0.5f,   -0.5f,       1.5f,     2.5f,
                           -2.5f, 3.0f,   inf,     -inf,  nan,    65504.0f,    65520.0f, 1e-8f,
                           6e-5f, 1e-40f, -1e-45f, 3e38f, -3e38f, 16777217.0f, 0.1f,     1e10f};
  switch (rng.below(5)) {
    case 0: return rng.pick(special);
    case 1: return static_cast<float>(rng.range(-20, 20)) * 0.5f;
    case 2: return std::bit_cast<float>(rng.bits32());
    default: {
      // A random value of moderate magnitude with many significant bits.
      const float unit = static_cast<float>(rng.bits32() >> 8) / 16777216.0f;  // [0, 1)
      return (unit - 0.5f) * static_cast<float>(1 << rng.range(0, 12));
    }
  }
}

}  // namespace

Scalar random_scalar(Rng& rng, DType t) {
  if (t == DType::Bool) return Scalar::of_int(rng.below(2));
  if (is_fp8(t)) {
    const auto code = static_cast<std::uint8_t>(rng.below(256));
    return read_element(&code, t);
  }
  if (is_float(t)) return normalise(Scalar::of_float(random_float(rng)), t);
  return normalise(Scalar::of_int(random_integer(rng, t)), t);
}

std::vector<std::uint8_t> random_tensor(Rng& rng, DType t, std::size_t count) {
  std::vector<std::uint8_t> bytes(count * size_of(t));
  for (std::size_t i = 0; i < count; ++i) {
    if (is_float(t) && rng.percent(20)) {
      // Raw bits: every encoding, NaN payloads included.
      const std::uint32_t bits = rng.bits32();
      for (std::size_t b = 0; b < size_of(t); ++b) {
        bytes[i * size_of(t) + b] = static_cast<std::uint8_t>(bits >> (8 * b));
      }
      continue;
    }
    write_element(bytes.data() + i * size_of(t), t, random_scalar(rng, t));
  }
  return bytes;
}

std::vector<std::uint8_t> small_integer_tensor(Rng& rng, DType t, std::size_t count) {
  std::vector<std::uint8_t> bytes(count * size_of(t));
  for (std::size_t i = 0; i < count; ++i) {
    const int v = rng.range(-16, 15);
    const Scalar s = is_float(t) ? Scalar::of_float(v) : normalise(Scalar::of_int(v), t);
    write_element(bytes.data() + i * size_of(t), t, s);
  }
  return bytes;
}

}  // namespace mt::fuzz
