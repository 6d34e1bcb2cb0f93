// What the registry entries of the affine kernels share: the docs of the format's buffers and
// scalars, and the benchmark tensors of a quantised [N, K] weight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "metaltile/kernels/kernel_info.hpp"

namespace mt::kernels::mlx::affine {

inline const ParamDoc kWqDoc{"wq", "[N, K * bits / 32] u32: codes, LSB-first bit stream per row"};
inline const ParamDoc kScalesDoc{"scales", "[N, K / group_size] T"};
inline const ParamDoc kBiasesDoc{"biases", "[N, K / group_size] T"};
inline const ParamDoc kGroupSizeDoc{"group_size", "u32: 32, 64 or 128 (divides K)"};
inline const ParamDoc kBitsDoc{"bits", "u32: 2, 3, 4, 5, 6 or 8"};

// A quantised [n, k] weight in the benchmark: element counts and bytes of wq, scales, biases.
struct QuantisedWeight {
  std::size_t n, k, group_size, bits;
  std::size_t words() const { return n * k / 32 * bits; }
  std::size_t groups() const { return n * k / group_size; }
  double bytes(DType t) const {
    return 4.0 * double(words()) + 2.0 * double(groups()) * size_of(t);
  }
  void add_to(BenchCase& c) const {
    c.elements["wq"] = words();
    c.elements["scales"] = groups();
    c.elements["biases"] = groups();
    c.scalars["group_size"] = std::uint32_t(group_size);
    c.scalars["bits"] = std::uint32_t(bits);
  }
  std::string label() const { return std::to_string(bits) + "-bit g" + std::to_string(group_size); }
};

}  // namespace mt::kernels::mlx::affine
