// The host oracle of the sampling kernels, step for step: the penalised, temperature-divided
// logits and the weights e^(y - y_max) in the same f32 operations as the kernels, the fixed-point
// weights W = floor(w * 2^31), the cuts and the draw in exact integer arithmetic. It gives the
// filtered distribution of a row (W / Z) and the very token a kernel must draw for a seed.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

namespace mt::test::sampling {

// Products of a 63-bit mass and a 31-bit factor.
__extension__ using U128 = unsigned __int128;

struct Filters {
  float temperature = 1.0f;
  std::uint32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
};

// The kept tokens in rank order and their probabilities W / Z; `margin` is the smallest relative
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

// The largest logit's index, lowest on ties; NaN never wins (0 when all are NaN).
inline std::uint32_t argmax(const std::vector<float>& y) { return ranking(y).front(); }

// exp_nonpositive of sampling_math.hpp in host f32 arithmetic (no fused multiply-add).
inline float exp_nonpositive(float d) {
  const float clamped = std::max(d, -87.0f);
  const float n = std::floor(clamped * 1.44269504f + 0.5f);
  const float r = (clamped - n * 0.693145751953125f) - n * 1.4286068203094173e-06f;
  float p = 1.0f / 5040.0f;
  for (float c : {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f}) {
    p = p * r + c;
  }
  const float two_n = std::bit_cast<float>(static_cast<std::uint32_t>(int(n) + 127) << 23);
  return d < -87.0f ? 0.0f : p * two_n;
}

// Philox4x32-10 with 64-bit products, as its definition states it.
inline std::array<std::uint32_t, 4> philox(std::array<std::uint32_t, 4> c, std::uint32_t k0,
                                           std::uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const std::uint64_t p0 = std::uint64_t{0xD2511F53u} * c[0];
    const std::uint64_t p1 = std::uint64_t{0xCD9E8D57u} * c[2];
    c = {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k0, static_cast<std::uint32_t>(p1),
         static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k1, static_cast<std::uint32_t>(p0)};
  }
  return c;
}

// A row as the kernels see it: y, the ranking, each token's f32 weight w relative to the top
// logit and its fixed-point weight W = floor(w * 2^31).
struct Row {
  std::vector<float> y;
  std::vector<std::uint32_t> order;
  std::vector<float> w;
  std::vector<std::uint32_t> fixed;
};

inline Row weigh(const std::vector<float>& logits, const std::vector<std::uint32_t>& penalty_ids,
                 const Filters& f) {
  const std::set<std::uint32_t> penalised(penalty_ids.begin(), penalty_ids.end());
  Row r;
  r.y.resize(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const float y =
        sampling_logit(logits[i], penalised.count(static_cast<std::uint32_t>(i)) > 0, f);
    r.y[i] = y == 0.0f ? 0.0f : y;  // -0 ranks and weighs as +0
  }
  r.order = ranking(r.y);
  const float top = r.y[r.order.front()];
  for (float y : r.y) {
    const float w = y == top || (std::isnan(y) && std::isnan(top)) ? 1.0f
                    : std::isnan(y)                                ? 0.0f
                                                                   : exp_nonpositive(y - top);
    r.w.push_back(w);
    r.fixed.push_back(static_cast<std::uint32_t>(w * 2147483648.0f));
  }
  return r;
}

// The kept set in rank order: the first m of the ranking (the top-k, then the shortest prefix
// whose mass M satisfies M * 2^31 >= ceil(top_p * 2^31) * Z_k), then min-p's w >= min_p. Greedy
// decoding and a row of NaN keep the top logit alone.
inline std::vector<std::uint32_t> kept_tokens(const Row& r, const Filters& f, double* margin) {
  const std::size_t v = r.y.size();
  if (f.temperature == 0.0f || std::isnan(r.y[r.order.front()])) return {r.order.front()};
  const std::size_t k = f.top_k == 0 ? v : std::min<std::size_t>(f.top_k, v);
  std::size_t m = k;
  if (f.top_p < 1.0f) {
    U128 z = 0;
    for (std::size_t j = 0; j < k; ++j) z += r.fixed[r.order[j]];
    const auto q = static_cast<std::uint32_t>(std::ceil(f.top_p * 2147483648.0f));
    const U128 target = (z * q + (U128{1} << 31) - 1) >> 31;
    U128 cum = 0;
    for (std::size_t j = 0; j < k; ++j) {
      cum += r.fixed[r.order[j]];
      *margin = std::min(*margin, std::fabs(double(cum) - double(target)) / double(target));
      if (cum >= target) {
        m = j + 1;
        break;
      }
    }
  }
  std::vector<std::uint32_t> kept;
  for (std::size_t j = 0; j < m; ++j) {
    const std::uint32_t i = r.order[j];
    if (f.min_p > 0.0f) *margin = std::min(*margin, std::fabs(double(r.w[i]) - f.min_p) / f.min_p);
    if (r.w[i] >= f.min_p) kept.push_back(i);
  }
  return kept;
}

inline Distribution filtered(const std::vector<float>& logits,
                             const std::vector<std::uint32_t>& penalty_ids, const Filters& f) {
  const Row r = weigh(logits, penalty_ids, f);
  Distribution d;
  const std::vector<std::uint32_t> kept = kept_tokens(r, f, &d.margin);
  std::uint64_t z = 0;
  for (std::uint32_t i : kept) z += r.fixed[i];
  for (std::uint32_t i : kept) {
    if (kept.size() > 1 && r.fixed[i] == 0) continue;
    d.tokens.push_back(i);
    d.probability.push_back(kept.size() == 1 ? 1.0 : double(r.fixed[i]) / double(z));
  }
  return d;
}

// The order a path draws in: the radix path in index order, the two-kernel path in rank order.
enum class DrawOrder { Index, Rank };

// The token a kernel draws for row `row` with (seed_lo, seed_hi, offset): U = floor(u * Z) for
// u = (word0 >> 8) / 2^24 of Philox (key (seed_lo, seed_hi), counter (offset, row, 0, 0)), and
// the first kept token in `order` whose running mass exceeds U.
inline std::uint32_t draw(const std::vector<float>& logits,
                          const std::vector<std::uint32_t>& penalty_ids, const Filters& f,
                          std::uint32_t seed_lo, std::uint32_t seed_hi, std::uint32_t offset,
                          std::uint32_t row, DrawOrder order) {
  const Row r = weigh(logits, penalty_ids, f);
  double margin = 0.0;
  std::vector<std::uint32_t> kept = kept_tokens(r, f, &margin);
  if (kept.size() == 1) return kept.front();
  if (order == DrawOrder::Index) std::sort(kept.begin(), kept.end());
  std::uint64_t z = 0;
  for (std::uint32_t i : kept) z += r.fixed[i];
  const std::uint32_t u = philox({offset, row, 0, 0}, seed_lo, seed_hi)[0] >> 8;
  const auto target = static_cast<std::uint64_t>(U128{z} * u >> 24);
  std::uint64_t cum = 0;
  for (std::uint32_t i : kept) {
    cum += r.fixed[i];
    if (cum > target) return i;
  }
  return 0xFFFFFFFFu;  // unreachable: target < z
}

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
