// Plain-loop oracles (in double, on inputs already rounded to T) for the MLX row kernels, the
// error bound each result is held to, and the launch cases and checks their tests share.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/core/dtype.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace mt::test::rows {

inline constexpr DType kDTypes[] = {DType::F32, DType::F16, DType::BF16};
inline constexpr float kInf = std::numeric_limits<float>::infinity();
inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- launch shapes ----------------------------------------------------------------------------

// A [rows, n] tensor launched with one threadgroup of `tpg` threads per row, plus `extra`
// threadgroups past the last row. They must write nothing: outputs are exactly as long as the
// rows (the kernels' contracts require it), so any write of an idle group would be out of
// bounds, an error on the interpreter and in checked CUDA.
struct Shape {
  std::uint32_t n = 1;
  std::uint32_t tpg = 1;
  std::uint32_t rows = 1;
  std::uint32_t extra = 0;

  std::size_t elements() const { return std::size_t{rows} * n; }
  std::string text() const {
    return "n=" + std::to_string(n) + " tpg=" + std::to_string(tpg) +
           " rows=" + std::to_string(rows) +
           (extra ? " +" + std::to_string(extra) + " idle groups" : "");
  }
};

inline constexpr std::uint32_t kRowLengths[] = {1, 7, 32, 33, 100, 1000, 4096};
inline constexpr std::uint32_t kGroupSizes[] = {1, 32, 33, 64, 100, 256, 1024};

// Every row length meets every threadgroup size: fewer threads than elements (strided loops,
// tpg 1 fully serial), more threads than elements (idle threads, up to 1024 over a row of 1),
// sizes that are not multiples of 32 (a partial last warp), one thread more or fewer than n.
// Rows vary from 1 to 4 (long rows fewer, to keep the interpreter fast), and two of every
// three shapes launch 1 or 2 idle threadgroups past the last row.
inline std::vector<Shape> shapes() {
  std::vector<Shape> all;
  for (std::uint32_t n : kRowLengths) {
    for (std::uint32_t tpg : kGroupSizes) {
      const std::uint32_t i = static_cast<std::uint32_t>(all.size());
      all.push_back(Shape{n, tpg, n >= 1000 ? 1 + i % 2 : 2 + i % 3, i % 3});
    }
  }
  return all;
}

// ---- deterministic data ---------------------------------------------------------------------

// xorshift64: the same sequence on every platform (std distributions are not portable).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed | 1) {}
  std::uint64_t next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }
  std::uint32_t below(std::uint32_t bound) { return static_cast<std::uint32_t>(next() % bound); }
  // Uniform in [lo, hi), 24 random bits.
  float uniform(float lo, float hi) {
    return lo + (hi - lo) * (static_cast<float>(next() >> 40) / 16777216.0f);
  }

 private:
  std::uint64_t s_;
};

// `count` values uniform in [lo, hi), rounded to t: exactly what the kernel will read.
inline std::vector<float> random_values(std::size_t count, std::uint64_t seed, DType t, float lo,
                                        float hi) {
  Rng rng(seed);
  std::vector<float> v(count);
  for (float& x : v) x = rng.uniform(lo, hi);
  return round_all(v, t);
}

// ---- oracles ------------------------------------------------------------------------------------

// An oracle result in double, with the magnitude that bounds the kernel's f32 rounding error
// for each element (see bound()).
struct Expected {
  std::vector<double> value;
  std::vector<double> scale;
};

// The largest element, +0 above -0 (as the kernels' max orders them); NaN is skipped.
inline double row_max_of(std::span<const float> row) {
  double m = -kInf;
  for (float v : row) {
    if (v > m || (v == m && !std::signbit(v))) m = v;
  }
  return m;
}

// out = exp(x - max) / sum(exp(x - max)); each element's f32 error is relative to itself.
inline Expected softmax(std::span<const float> x, std::size_t n) {
  Expected e{std::vector<double>(x.size()), std::vector<double>(x.size())};
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    const std::span<const float> row = x.subspan(r * n, n);
    const double m = row_max_of(row);
    double sum = 0.0;
    for (float v : row) sum += std::exp(v - m);
    for (std::size_t i = 0; i < n; ++i) {
      e.value[r * n + i] = std::exp(row[i] - m) / sum;
      e.scale[r * n + i] = std::fabs(e.value[r * n + i]);
    }
  }
  return e;
}

// out = x * rsqrt(mean(x^2) + eps) * (w + weight_offset); relative error per element.
inline Expected rms_norm(std::span<const float> x, std::span<const float> w, std::size_t n,
                         float eps, float weight_offset = 0.0f) {
  Expected e{std::vector<double>(x.size()), std::vector<double>(x.size())};
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    double sum_sq = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum_sq += double(x[r * n + i]) * x[r * n + i];
    const double scale = 1.0 / std::sqrt(sum_sq / n + double(eps));
    for (std::size_t i = 0; i < n; ++i) {
      e.value[r * n + i] = x[r * n + i] * scale * (double(w[i]) + weight_offset);
      e.scale[r * n + i] = std::fabs(e.value[r * n + i]);
    }
  }
  return e;
}

// out = (x - mean) * rsqrt(var + eps) * w + b, var the mean squared deviation. The f32 error
// is not relative to the output: x - mean cancels, leaving an absolute error of order
// eps_f32 * (|x| + |mean|) before the scaling by inv_std * |w|, and the bias adds its own.
inline Expected layer_norm(std::span<const float> x, std::span<const float> w,
                           std::span<const float> b, std::size_t n, float eps) {
  Expected e{std::vector<double>(x.size()), std::vector<double>(x.size())};
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += x[r * n + i];
    const double mean = sum / n;
    double sum_sq = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum_sq += (x[r * n + i] - mean) * (x[r * n + i] - mean);
    const double inv_std = 1.0 / std::sqrt(sum_sq / n + double(eps));
    for (std::size_t i = 0; i < n; ++i) {
      const double v = x[r * n + i];
      e.value[r * n + i] = (v - mean) * inv_std * w[i] + b[i];
      e.scale[r * n + i] =
          (std::fabs(v) + std::fabs(mean)) * inv_std * std::fabs(w[i]) + std::fabs(b[i]);
    }
  }
  return e;
}

// Sum of each row; the f32 error is relative to the sum of magnitudes (cancellation).
inline Expected row_sum(std::span<const float> x, std::size_t n) {
  Expected e;
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    double sum = 0.0, magnitude = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      sum += x[r * n + i];
      magnitude += std::fabs(x[r * n + i]);
    }
    e.value.push_back(sum);
    e.scale.push_back(magnitude);
  }
  return e;
}

// The largest element of each row (exact: no arithmetic, and T -> f32 -> T is exact); NaN
// when the row holds a NaN, as PyTorch's and MLX's max give.
inline std::vector<float> row_max(std::span<const float> x, std::size_t n) {
  std::vector<float> out;
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    const std::span<const float> row = x.subspan(r * n, n);
    const bool nan = std::any_of(row.begin(), row.end(), [](float v) { return std::isnan(v); });
    out.push_back(nan ? kNaN : static_cast<float>(row_max_of(row)));
  }
  return out;
}

// The index of the largest element of each row, the lowest among equals (-0 equals +0). NaN
// counts as the largest value, so a row with a NaN gives its first NaN's index (PyTorch and
// NumPy; MLX's argmax skips NaN, which its own max does not); an all -inf row gives 0.
inline std::vector<std::uint32_t> argmax(std::span<const float> x, std::size_t n) {
  std::vector<std::uint32_t> out;
  for (std::size_t r = 0; r < x.size() / n; ++r) {
    std::uint32_t best = 0;
    float best_value = -kInf;
    for (std::uint32_t i = 0; i < n; ++i) {
      const float v = x[r * n + i];
      if (std::isnan(v)) {
        best = i;
        break;
      }
      if (v > best_value) {  // strict: an equal later element keeps the earlier one
        best_value = v;
        best = i;
      }
    }
    out.push_back(best);
  }
  return out;
}

// ---- tolerances -----------------------------------------------------------------------------

// The kernels compute in f32 and round once to T. Against the exact result e, an element may
// therefore be off by
//   u_T * |e|           the final rounding to T (u = 2^-24 f32, 2^-11 f16, 2^-8 bf16),
// + kF32Error * scale   the f32 arithmetic (relative error well under 1e-5 for these
//                       short, well-conditioned computations; scale is per kernel, above),
// + tiny_T              half the smallest subnormal of T (results that underflow).
// So f32 is held to ~1e-5 relative, f16 to ~5e-4 and bf16 to ~4e-3 (half an ulp plus 1e-5).
inline constexpr double kF32Error = 1e-5;

inline double unit_roundoff(DType t) {
  return t == DType::F16 ? 0x1p-11 : t == DType::BF16 ? 0x1p-8 : 0x1p-24;
}
inline double tiny(DType t) {
  return t == DType::F16 ? 0x1p-25 : 0x1p-150;  // bf16 shares f32's exponent range
}
inline double bound(DType t, double value, double scale) {
  return unit_roundoff(t) * std::fabs(value) + kF32Error * scale + tiny(t);
}

// Passes when every element is finite and within bound() of the oracle; on failure records
// the mismatch count and the first 10 (index, expected, actual, tolerance). NaN fails.
inline bool expect_within(std::span<const float> actual, const Expected& expected, DType t,
                          std::string_view label) {
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
    const double tol = bound(t, e, expected.scale[i]);
    if (std::isfinite(a) && std::isfinite(e) && std::fabs(a - e) <= tol) continue;
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

// Exact float comparison (values, so -0 == +0); NaN fails.
inline bool expect_exact(std::span<const float> actual, std::span<const float> expected,
                         std::string_view label) {
  return expect_close(actual, expected, 0.0, 0.0, label);
}

// ---- launching ------------------------------------------------------------------------------

// The output `name` must be exactly `total` elements long; it is returned as raw bytes.
inline std::vector<std::uint8_t> checked_output(const DispatchResult& r, const std::string& name,
                                                std::size_t total, DType t) {
  if (r.outputs.count(name) != 1) {
    ADD_FAILURE() << name << " not returned";
    return {};
  }
  const Bytes& bytes = r.outputs.at(name);
  if (bytes.size() != total * size_of(t)) {
    ADD_FAILURE() << name << ": " << bytes.size() << " bytes, expected " << total * size_of(t);
    return {};
  }
  return bytes;
}

inline DispatchResult launch(const Context& ctx, const Kernel& k, const BufferMap& b,
                             const Shape& s, const ConstMap& consts = {}) {
  return ctx.dispatch_with_grid(k, b, consts, {std::size_t{s.rows} + s.extra, 1, 1}, {s.tpg, 1, 1});
}

// One case: a backend, a dtype and a shape, with a seed of its own.
struct Case {
  Context* ctx;
  DType t;
  Shape shape;
  std::uint64_t seed;
};

// Runs fn over every backend x dtype x shape of shapes(), each under a trace naming it.
inline void for_each_case(const std::function<void(const Case&)>& fn) {
  for_each_backend([&](Context& ctx) {
    for (std::size_t ti = 0; ti < std::size(kDTypes); ++ti) {
      const std::vector<Shape> all = shapes();
      for (std::size_t si = 0; si < all.size(); ++si) {
        const Case c{&ctx, kDTypes[ti], all[si], 0x5EED0400u + 131 * si + 17 * ti};
        SCOPED_TRACE(std::string(name_of(c.t)) + " " + c.shape.text());
        fn(c);
      }
    }
  });
}

// fn must throw an mt::Error whose message names the kernel, a param, and contains each of
// `details` (the failed condition and the offending values).
inline void expect_error(const std::function<void()>& fn, std::string_view kernel,
                         const std::vector<std::string>& details) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one naming kernel '" << kernel << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("kernel '" + std::string(kernel) + "'"), std::string::npos) << what;
    EXPECT_NE(what.find("param '"), std::string::npos) << what;
    for (const std::string& d : details) EXPECT_NE(what.find(d), std::string::npos) << what;
  }
}

}  // namespace mt::test::rows
