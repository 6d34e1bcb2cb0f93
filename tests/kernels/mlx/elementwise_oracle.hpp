// Oracles of the elementwise family in f64, one per op of the tables, with PyTorch's semantics
// (the tests compare the kernels with these, not with the kernels' own formulas).
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

namespace mt::test::elementwise {

struct UnaryCase {
  std::string op;
  std::function<double(double)> f;
  double lo, hi;          // inputs drawn from [lo, hi)
  double absolute = 0.0;  // extra absolute tolerance (cancellation in the f32 formula)
};

struct BinaryCase {
  std::string op;
  std::function<double(double, double)> f;
  double lo, hi;      // a from [lo, hi)
  double b_lo, b_hi;  // b from [b_lo, b_hi)
  bool b_random_sign = false;
};

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
inline double silu(double x) { return x * sigmoid(x); }

inline std::vector<UnaryCase> unary_cases() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  (void)nan;
  return {
      {"abs", [](double x) { return std::fabs(x); }, -8, 8},
      {"neg", [](double x) { return -x; }, -8, 8},
      {"sign", [](double x) { return double((x > 0) - (x < 0)); }, -2, 2},
      {"square", [](double x) { return x * x; }, -8, 8},
      {"sqrt", [](double x) { return std::sqrt(x); }, 0, 16},
      {"rsqrt", [](double x) { return 1.0 / std::sqrt(x); }, 0.01, 16},
      {"recip", [](double x) { return 1.0 / x; }, 0.05, 8},
      {"exp", [](double x) { return std::exp(x); }, -10, 10},
      {"exp2", [](double x) { return std::exp2(x); }, -10, 10},
      {"expm1", [](double x) { return std::expm1(x); }, -1e-3, 1e-3},
      {"log", [](double x) { return std::log(x); }, 0.01, 100},
      {"log2", [](double x) { return std::log2(x); }, 0.01, 100},
      {"log1p", [](double x) { return std::log1p(x); }, -1e-3, 1e-3},
      {"sin", [](double x) { return std::sin(x); }, -6, 6},
      {"cos", [](double x) { return std::cos(x); }, -6, 6},
      {"tan", [](double x) { return std::tan(x); }, -1.5, 1.5},
      {"tanh", [](double x) { return std::tanh(x); }, -6, 6},
      {"sigmoid", sigmoid, -12, 12},
      {"silu", silu, -12, 12},
      {"relu", [](double x) { return x < 0 ? 0.0 : x; }, -4, 4},
      // The exact gelu cancels in 1 + erf(x / sqrt 2) for x < 0 (as PyTorch's f32 does).
      {"gelu", [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }, -6, 6,
       2e-6},
      // For x < 0 gelu_tanh is about x e^(2z): the f32 roundings of z = sqrt(2/pi)(x + 0.044715
      // x^3) grow by |2z| (up to 25 here) in the result, as in PyTorch's f32.
      {"gelu_tanh", gelu_tanh, -6, 6, 2e-6},
      {"softplus", [](double x) { return x > 20 ? x : std::log1p(std::exp(x)); }, -30, 30},
      {"erf", [](double x) { return std::erf(x); }, -3, 3},
      {"floor", [](double x) { return std::floor(x); }, -8, 8},
      {"ceil", [](double x) { return std::ceil(x); }, -8, 8},
      {"round", [](double x) { return std::nearbyint(x); }, -8, 8},
  };
}

inline double remainder(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((b < 0) != (r < 0))) r += b;
  return r;
}

inline std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](double a, double b) { return a + b; }, -8, 8, -8, 8},
      {"sub", [](double a, double b) { return a - b; }, -8, 8, -8, 8},
      {"mul", [](double a, double b) { return a * b; }, -8, 8, -8, 8},
      {"div", [](double a, double b) { return a / b; }, -8, 8, 0.1, 8, true},
      {"maximum", [](double a, double b) { return std::max(a, b); }, -8, 8, -8, 8},
      {"minimum", [](double a, double b) { return std::min(a, b); }, -8, 8, -8, 8},
      {"pow", [](double a, double b) { return std::pow(a, b); }, 0.1, 4, -3, 3},
      {"atan2", [](double a, double b) { return std::atan2(a, b); }, -8, 8, -8, 8},
      {"remainder", remainder, -8, 8, 0.25, 4, true},
  };
}

}  // namespace mt::test::elementwise
