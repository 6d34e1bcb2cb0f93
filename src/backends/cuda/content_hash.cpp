// FNV-1a-64, a multiply-rotate 64-bit hash, and the 128-bit key made of both.
#include "backends/cuda/content_hash.hpp"

#include <bit>

namespace mt::cuda {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;
// Odd constants with well-mixed bits (from the golden ratio and splitmix64).
constexpr std::uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kMul2 = 0xC2B2AE3D27D4EB4Full;

std::uint64_t load_le(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

std::uint64_t finalise(std::uint64_t h) {
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

}  // namespace

std::uint64_t fnv1a_64(std::span<const std::uint8_t> bytes) {
  std::uint64_t h = kFnvOffset;
  for (std::uint8_t b : bytes) {
    h ^= b;
    h *= kFnvPrime;
  }
  return h;
}

std::uint64_t mix_64(std::span<const std::uint8_t> bytes, std::uint64_t seed) {
  std::uint64_t h = seed ^ (bytes.size() * kMul2);
  std::size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8) {
    h = std::rotl(h ^ (load_le(bytes.data() + at, 8) * kMul1), 29) * kMul2;
  }
  if (at < bytes.size()) {
    h = std::rotl(h ^ (load_le(bytes.data() + at, bytes.size() - at) * kMul1), 29) * kMul2;
  }
  return finalise(h);
}

std::string Hash128::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[static_cast<std::size_t>(15 - i)] = kDigits[(hi >> (4 * i)) & 0xF];
    out[static_cast<std::size_t>(31 - i)] = kDigits[(lo >> (4 * i)) & 0xF];
  }
  return out;
}

Hash128 hash_parts(std::initializer_list<std::string_view> parts) {
  std::string joined;
  for (std::string_view part : parts) {
    const std::uint64_t n = part.size();
    for (int i = 0; i < 8; ++i) joined.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    joined.append(part);
  }
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(joined.data()),
                                            joined.size());
  return Hash128{fnv1a_64(bytes), mix_64(bytes)};
}

}  // namespace mt::cuda
