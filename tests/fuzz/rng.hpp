// The fuzzer's random numbers: splitmix64 with its own helpers, so a seed regenerates the same
// program with every compiler and standard library (std:: distributions are not portable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mt::fuzz {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint32_t bits32() { return static_cast<std::uint32_t>(next() >> 32); }
  // Uniform in [0, n); n > 0. The modulo bias of a 64-bit draw is negligible here.
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
  // Uniform in [lo, hi], inclusive.
  int range(int lo, int hi) {
    return lo + static_cast<int>(below(static_cast<std::uint32_t>(hi - lo + 1)));
  }
  // True with probability percent / 100.
  bool percent(int percent) { return below(100) < static_cast<std::uint32_t>(percent); }

  template <class T>
  const T& pick(const std::vector<T>& items) {
    return items[below(static_cast<std::uint32_t>(items.size()))];
  }
  template <class T, std::size_t N>
  const T& pick(const T (&items)[N]) {
    return items[below(static_cast<std::uint32_t>(N))];
  }
  // An index into `weights`, chosen with probability proportional to its weight (sum > 0).
  std::size_t weighted(const std::vector<int>& weights) {
    int total = 0;
    for (int w : weights) total += w;
    int r = static_cast<int>(below(static_cast<std::uint32_t>(total)));
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (r < weights[i]) return i;
      r -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  std::uint64_t state_;
};

}  // namespace mt::fuzz
