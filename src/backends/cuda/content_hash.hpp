// Content hashes for the CUDA compile cache: two independent 64-bit hashes (FNV-1a and a
// multiply-rotate hash) form a 128-bit key, and the second alone checksums a cached payload.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace mt::cuda {

// FNV-1a, 64 bits (offset basis 14695981039346656037, prime 1099511628211).
std::uint64_t fnv1a_64(std::span<const std::uint8_t> bytes);
// Eight bytes at a time: multiply, rotate, multiply; then a splitmix64 finaliser so every input
// bit reaches every output bit. Unrelated to FNV-1a, so a collision of one is not one of the other.
std::uint64_t mix_64(std::span<const std::uint8_t> bytes, std::uint64_t seed = 0);

struct Hash128 {
  std::uint64_t hi = 0;  // fnv1a_64
  std::uint64_t lo = 0;  // mix_64
  // 32 lowercase hex digits, hi first: the cache file name.
  std::string hex() const;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

// The hash of the parts, each prefixed by its length, so ("ab","c") and ("a","bc") differ.
Hash128 hash_parts(std::initializer_list<std::string_view> parts);

}  // namespace mt::cuda
