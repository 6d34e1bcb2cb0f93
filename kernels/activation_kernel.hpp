// What the library families share: the activation dtypes their kernels are generic over, and
// tracing one kernel for one of them (any other dtype is an error naming the kernel).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/error.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt::kernels {

// A function, not a global: registry entries may be built during other static initialisers.
inline const std::vector<DType>& activation_dtypes() {
  static const std::vector<DType> dtypes = {DType::F32, DType::F16, DType::BF16};
  return dtypes;
}

inline Kernel trace_activation_kernel(std::string_view name, KernelMode mode,
                                      void (*build)(KernelBuilder&, DType), DType t) {
  const std::vector<DType>& supported = activation_dtypes();
  if (std::find(supported.begin(), supported.end(), t) == supported.end()) {
    throw kernel_error(name,
                       "dtype " + std::string(name_of(t)) + " is not supported (f32, f16, bf16)");
  }
  return trace(std::string(name), mode, [&](KernelBuilder& k) { build(k, t); });
}

}  // namespace mt::kernels
