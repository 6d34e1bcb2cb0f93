// mt::BenchCase: one shape at which `tile bench` measures a library kernel. Each registry entry
// lists its cases (the LLM shapes of its spec, or tiny ones for a smoke test on the CPU).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "metaltile/core/dtype.hpp"
#include "metaltile/runtime/context.hpp"

namespace mt {

// How the benchmark fills an input tensor. Floats default to uniform values in [-1, 1];
// u32 tensors default to random bits (valid codes for any quantised layout).
struct BenchFill {
  enum class Kind : std::uint8_t { Default, Uniform, Below, Iota, Value };
  Kind kind = Kind::Default;
  double lo = -1.0, hi = 1.0;  // Uniform: floats in [lo, hi]
  std::uint32_t n = 0;         // Below: u32 in [0, n); Value: every element n; Iota: i % n (n > 0)

  static BenchFill uniform(double lo, double hi) { return {Kind::Uniform, lo, hi, 0}; }
  static BenchFill below(std::uint32_t n) { return {Kind::Below, 0, 0, n}; }
  static BenchFill iota(std::uint32_t n) { return {Kind::Iota, 0, 0, n}; }
  static BenchFill value(std::uint32_t n) { return {Kind::Value, 0, 0, n}; }
};

struct BenchCase {
  std::string label;  // the shape in words: "H8 S32768 D128 g32"
  DType dtype = DType::F16;
  std::map<std::string, std::size_t> elements;  // every tensor parameter's element count
  std::map<std::string, ConstValue> scalars;    // every scalar parameter's value
  std::map<std::string, BenchFill> fills;       // inputs that need particular contents
  // Bytes the kernel must move at least (each input byte it needs read once, each output byte
  // written once); 0 means every tensor's whole size.
  double bytes = 0.0;
  double flops = 0.0;  // floating-point operations, where they matter (0: memory-bound)
};

// Full: the LLM shapes of the kernel's spec (GPU). Smoke: tiny shapes that check the benchmark
// path runs, for the CPU interpreter.
enum class BenchScale : std::uint8_t { Full, Smoke };

using BenchShapes = std::function<std::vector<BenchCase>(BenchScale)>;

}  // namespace mt
