// What the library families share: the activation dtypes their kernels are generic over.
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

}  // namespace mt::kernels
