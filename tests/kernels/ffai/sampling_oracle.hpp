// The host oracle of the sampling kernels: the filtered distribution of a row (penalty,
// temperature, top-k, top-p, min-p) in double, from logits ranked exactly as the kernels rank
// them (the penalised, temperature-divided logits computed in f32), with the margin of every
// cut so that tests can choose rows whose cuts no f32 rounding can move.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

namespace mt::test::sampling {

struct Filters {
  float temperature = 1.0f;
  std::uint32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
};

// The kept tokens in rank order and their probabilities; `margin` is the smallest relative
// distance of a cut's deciding quantity from its threshold (top-p's running mass, min-p's
// weight), +inf when no cut applies.
struct Distribution {
  std::vector<std::uint32_t> tokens;
  std::vector<double> probability;
  double margin = std::numeric_limits<double>::infinity();
};

// The logit the kernels rank, in f32 as they compute it.
inline float sampling_logit(float x, bool penalised, const Filters& f) {
  float p = x;
  if (penalised) p = x < 0.0f ? x * f.repetition_penalty : x / f.repetition_penalty;
  return f.temperature > 0.0f ? p / f.temperature : p;
}

// Indices by rank: larger value first (NaN last), then lower index.
inline std::vector<std::uint32_t> ranking(const std::vector<float>& y) {
  std::vector<std::uint32_t> order(y.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (std::isnan(y[a]) || std::isnan(y[b])) return !std::isnan(y[a]) && std::isnan(y[b]);
    return y[a] > y[b];
  });
  return order;
}

inline Distribution filtered(const std::vector<float>& logits,
                             const std::vector<std::uint32_t>& penalty_ids, const Filters& f) {
  const std::set<std::uint32_t> penalised(penalty_ids.begin(), penalty_ids.end());
  std::vector<float> y(logits.size());
  for (std::size_t i = 0; i < y.size(); ++i) {
    y[i] = sampling_logit(logits[i], penalised.count(static_cast<std::uint32_t>(i)) > 0, f);
  }
  const std::vector<std::uint32_t> order = ranking(y);
  const std::size_t k = f.top_k == 0 ? y.size() : std::min<std::size_t>(f.top_k, y.size());
  std::vector<double> w(k);
  for (std::size_t j = 0; j < k; ++j) {
    const double d = double(y[order[j]]) - double(y[order[0]]);
    w[j] = y[order[j]] == y[order[0]] ? 1.0 : std::isnan(d) ? 0.0 : std::exp(d);
  }
  Distribution r;
  std::size_t m = k;
  if (f.top_p < 1.0f) {
    const double target = double(f.top_p) * std::accumulate(w.begin(), w.end(), 0.0);
    double cum = 0.0;
    for (std::size_t j = 0; j < k; ++j) {
      cum += w[j];
      r.margin = std::min(r.margin, std::fabs(cum - target) / target);
      if (cum >= target) {
        m = j + 1;
        break;
      }
    }
  }
  if (f.min_p > 0.0f) {
    std::size_t kept = 0;
    for (std::size_t j = 0; j < k; ++j) {
      r.margin = std::min(r.margin, std::fabs(w[j] - f.min_p) / f.min_p);
      kept += w[j] >= f.min_p;
    }
    m = std::min(m, kept);
  }
  const double z = std::accumulate(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(m), 0.0);
  for (std::size_t j = 0; j < m; ++j) {
    if (w[j] == 0.0) continue;
    r.tokens.push_back(order[j]);
    r.probability.push_back(w[j] / z);
  }
  return r;
}

// The largest logit's index, lowest on ties; NaN never wins (0 when all are NaN).
inline std::uint32_t argmax(const std::vector<float>& y) { return ranking(y).front(); }

// P(X >= x) for X chi-square with `df` degrees of freedom: the regularised upper incomplete
// gamma function Q(df / 2, x / 2), by its series (x < a + 1) or continued fraction.
inline double chi_square_p_value(double x, double df) {
  const double a = df / 2.0, z = x / 2.0;
  if (z <= 0.0) return 1.0;
  const double log_prefix = a * std::log(z) - z - std::lgamma(a);
  if (z < a + 1.0) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 1000 && term > sum * 1e-15; ++n) {
      term *= z / (a + n);
      sum += term;
    }
    return 1.0 - sum * std::exp(log_prefix);
  }
  // Lentz's continued fraction for Q.
  double b = z + 1.0 - a, c = 1e300, d = 1.0 / b, h = d;
  for (int n = 1; n < 1000; ++n) {
    const double an = -n * (n - a);
    b += 2.0;
    d = an * d + b;
    d = std::fabs(d) < 1e-300 ? 1e-300 : d;
    c = b + an / c;
    c = std::fabs(c) < 1e-300 ? 1e-300 : c;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-15) break;
  }
  return std::exp(log_prefix) * h;
}

}  // namespace mt::test::sampling
