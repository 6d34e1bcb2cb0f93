// The f64 oracle of a GEMV (out[m, n] = sum_k x[m, k] * w[n, k]) and its tolerance
// (docs/kernels/gemv.md): |out - ref| <= ulp_T(ref) + 2^-19 * sum_k |w[n, k] * x[m, k]|, NaN
// failing. The tensor-core GEMMs use the same oracle with 2^-16 (docs/kernels/gemm.md).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <sstream>
#include <string_view>
#include <vector>

#include "metaltile/core/dtype.hpp"

namespace mt::test::gemv {

struct Expected {
  std::vector<double> value;      // [M, N]
  std::vector<double> magnitude;  // sum_k |w * x| of each output
};

// w [n, k] (as doubles: dequantised weights may not be values of T), x [m, k].
inline Expected gemv(std::span<const double> w, std::span<const float> x, std::size_t n,
                     std::size_t k) {
  const std::size_t m = x.size() / k;
  Expected e{std::vector<double>(m * n), std::vector<double>(m * n)};
  for (std::size_t r = 0; r < m; ++r) {
    for (std::size_t c = 0; c < n; ++c) {
      double sum = 0.0, magnitude = 0.0;
      for (std::size_t i = 0; i < k; ++i) {
        const double p = w[c * k + i] * double(x[r * k + i]);
        sum += p;
        magnitude += std::fabs(p);
      }
      e.value[r * n + c] = sum;
      e.magnitude[r * n + c] = magnitude;
    }
  }
  return e;
}

inline Expected gemv(std::span<const float> w, std::span<const float> x, std::size_t n,
                     std::size_t k) {
  const std::vector<double> wide(w.begin(), w.end());
  return gemv(wide, x, n, k);
}

// The spacing of T's values at |v| (its ulp), down to T's smallest subnormal.
inline double ulp(DType t, double v) {
  const int mantissa = t == DType::F16 ? 10 : t == DType::BF16 ? 7 : 23;
  const int min_exponent = t == DType::F16 ? -14 : -126;
  int e = 0;
  std::frexp(std::fabs(v), &e);  // |v| = f * 2^e, f in [0.5, 1)
  return std::ldexp(1.0, std::max(e - 1, min_exponent) - mantissa);
}

inline constexpr double kGemvRelative = 0x1p-19;  // of sum |w x|
inline constexpr double kGemmRelative = 0x1p-16;  // tensor cores: unspecified sum order

inline double tolerance(DType t, double value, double magnitude, double relative = kGemvRelative) {
  return ulp(t, value) + relative * magnitude;
}

// Passes when the lengths match and every element is finite and within tolerance(); prints the
// first 10 mismatches on failure.
inline bool expect_within(std::span<const float> actual, const Expected& expected, DType t,
                          std::string_view label, double relative = kGemvRelative) {
  if (actual.size() != expected.value.size()) {
    ADD_FAILURE() << label << ": length " << actual.size() << ", expected "
                  << expected.value.size();
    return false;
  }
  std::ostringstream shown;
  shown.precision(9);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected.value[i];
    const double tol = tolerance(t, e, expected.magnitude[i], relative);
    if (std::isfinite(a) && std::fabs(a - e) <= tol) continue;
    if (++mismatches <= 10) {
      shown << "\n  [" << i << "] expected " << e << ", actual " << a << ", tolerance " << tol;
    }
  }
  if (mismatches == 0) return true;
  ADD_FAILURE() << label << " (" << name_of(t) << "): " << mismatches << " of " << actual.size()
                << " elements differ; first " << std::min<std::size_t>(mismatches, 10) << ":"
                << shown.str();
  return false;
}

}  // namespace mt::test::gemv
