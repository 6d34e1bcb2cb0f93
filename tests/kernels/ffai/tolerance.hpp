// Tolerances of the decode kernels' tests, stated in units of the element type: an ulp of T at
// a value, and a check of results against f64 oracles with a per-element bound that prints the
// first mismatches (index, expected, actual, tolerance). NaN and Inf fail.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <span>
#include <sstream>
#include <string_view>

#include "metaltile/core/dtype.hpp"

namespace mt::test {

// The spacing of T's values at |v| (the subnormal spacing below T's smallest normal).
inline double ulp_of(DType t, double v) {
  const int digits = t == DType::F16 ? 11 : t == DType::BF16 ? 8 : 24;  // with the hidden bit
  const int min_exponent = t == DType::F16 ? -14 : -126;
  const double a = std::fabs(v);
  const int e = a == 0.0 ? min_exponent : std::max(std::ilogb(a), min_exponent);
  return std::ldexp(1.0, e - (digits - 1));
}

// Passes when every actual[i] is finite and within tolerance(i) of expected[i].
inline bool expect_within(std::span<const float> actual, std::span<const double> expected,
                          const std::function<double(std::size_t)>& tolerance,
                          std::string_view label) {
  if (actual.size() != expected.size()) {
    ADD_FAILURE() << label << ": length " << actual.size() << ", expected " << expected.size();
    return false;
  }
  std::ostringstream shown;
  shown.precision(9);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i], tol = tolerance(i);
    if (std::isfinite(a) && std::isfinite(e) && std::fabs(a - e) <= tol) continue;
    if (++mismatches <= 10) {
      shown << "\n  [" << i << "] expected " << e << ", actual " << a << ", tolerance " << tol;
    }
  }
  if (mismatches == 0) return true;
  ADD_FAILURE() << label << ": " << mismatches << " of " << actual.size()
                << " elements differ; first " << std::min<std::size_t>(mismatches, 10) << ":"
                << shown.str();
  return false;
}

}  // namespace mt::test
