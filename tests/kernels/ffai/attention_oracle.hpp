// The f64 oracle of decode attention (docs/kernels/attention.md), the inputs and buffers of a
// request, and the tolerance check the attention tests share: 2 ulp of T plus 1e-5 max|v|.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/ffai/kv_cache_oracle.hpp"
#include "metaltile/metaltile.hpp"
#include "support/bytes.hpp"

namespace mt::test::attn {

// One decode-attention request: B sequences of their own lengths over a [B, Hkv, S, D] cache.
struct Problem {
  std::vector<std::uint32_t> lengths = {5};
  std::uint32_t q_heads = 4, kv_heads = 1, head_dim = 32, max_seq = 8;
  float scale = 0.35f;
  std::uint32_t window = 0;
  float softcap = 0.0f;
  bool sinks = false;

  std::uint32_t sequences() const { return static_cast<std::uint32_t>(lengths.size()); }
  std::size_t q_elements() const { return std::size_t{sequences()} * q_heads * head_dim; }
  std::size_t cache_rows() const { return std::size_t{sequences()} * kv_heads * max_seq; }
  std::size_t cache_elements() const { return cache_rows() * head_dim; }
  std::string text() const {
    std::ostringstream s;
    s << "B=" << sequences() << " Hq=" << q_heads << " Hkv=" << kv_heads << " D=" << head_dim
      << " S=" << max_seq << " lengths=";
    for (std::size_t i = 0; i < lengths.size(); ++i) s << (i ? "," : "") << lengths[i];
    s << " scale=" << scale << " window=" << window << " softcap=" << softcap << " sinks=" << sinks;
    return s.str();
  }
};

// Inputs as the kernel sees them (rounded to T; sinks are f32).
struct Inputs {
  std::vector<float> q, k, v, sinks;
};

inline Inputs random_inputs(const Problem& p, DType t, std::uint64_t seed) {
  Inputs in;
  in.q = kv::random_values(p.q_elements(), seed, t, -1.5f, 1.5f);
  in.k = kv::random_values(p.cache_elements(), seed + 1, t, -1.5f, 1.5f);
  in.v = kv::random_values(p.cache_elements(), seed + 2, t, -2.0f, 2.0f);
  in.sinks = kv::random_values(p.q_heads, seed + 3, DType::F32, -1.0f, 3.0f);
  return in;
}

// softmax(scale q . k^T (soft-capped), sinks in the denominator only) v over each sequence's
// positions [max(0, len - window), len), in f64. out is [B, Hq, D].
inline std::vector<double> oracle(const Problem& p, const std::vector<float>& q,
                                  const std::vector<float>& k, const std::vector<float>& v,
                                  const std::vector<float>& sinks) {
  const std::uint32_t d_n = p.head_dim, group = p.q_heads / p.kv_heads;
  std::vector<double> out(p.q_elements(), 0.0);
  for (std::uint32_t b = 0; b < p.sequences(); ++b) {
    const std::uint32_t len = p.lengths[b];
    const std::uint32_t lo = p.window != 0 && p.window < len ? len - p.window : 0;
    for (std::uint32_t h = 0; h < p.q_heads; ++h) {
      const std::size_t q_at = (std::size_t{b} * p.q_heads + h) * d_n;
      const std::size_t head = std::size_t{b} * p.kv_heads + h / group;
      std::vector<double> logits;
      for (std::uint32_t i = lo; i < len; ++i) {
        const std::size_t k_at = (head * p.max_seq + i) * d_n;
        double dot = 0;
        for (std::uint32_t d = 0; d < d_n; ++d) dot += double(q[q_at + d]) * double(k[k_at + d]);
        double s = double(p.scale) * dot;
        if (p.softcap > 0) s = double(p.softcap) * std::tanh(s / double(p.softcap));
        logits.push_back(s);
      }
      double top = -INFINITY;
      for (double s : logits) top = std::max(top, s);
      if (p.sinks) top = std::max(top, double(sinks[h]));
      double denominator = p.sinks ? std::exp(double(sinks[h]) - top) : 0.0;
      for (double s : logits) denominator += std::exp(s - top);
      for (std::uint32_t i = lo; i < len; ++i) {
        const double w = std::exp(logits[i - lo] - top) / denominator;
        const std::size_t v_at = (head * p.max_seq + i) * d_n;
        for (std::uint32_t d = 0; d < d_n; ++d) out[q_at + d] += w * double(v[v_at + d]);
      }
    }
  }
  return out;
}

inline std::vector<double> oracle(const Problem& p, const Inputs& in) {
  return oracle(p, in.q, in.k, in.v, in.sinks);
}

// The scalars every attention kernel takes, from the problem.
inline void put_scalars(BufferMap& b, const Problem& p) {
  b["head_dim"] = le_bytes(p.head_dim);
  b["n_q_heads"] = le_bytes(p.q_heads);
  b["n_kv_heads"] = le_bytes(p.kv_heads);
  b["max_seq"] = le_bytes(p.max_seq);
  b["scale"] = le_bytes(p.scale);
  b["window"] = le_bytes(p.window);
  b["softcap"] = le_bytes(p.softcap);
  b["has_sinks"] = le_bytes(std::uint32_t{p.sinks ? 1u : 0u});
}

// A raw-cache request: q, k, v, lengths, sinks (always bound, as has_sinks may be 0), scalars
// and a poisoned `out`.
inline BufferMap raw_buffers(const Problem& p, const Inputs& in, DType t) {
  BufferMap b;
  b["q"] = pack(in.q, t);
  b["k"] = pack(in.k, t);
  b["v"] = pack(in.v, t);
  b["lengths"] = pack_u32(p.lengths);
  b["sinks"] = pack(in.sinks, DType::F32);
  b["out"] = poisoned(p.q_elements(), t);
  put_scalars(b, p);
  return b;
}

// The spacing of T's values at x: 2^(exponent of x - mantissa bits), subnormals included.
inline double ulp(DType t, double x) {
  const int mantissa = t == DType::F32 ? 23 : t == DType::F16 ? 10 : 7;
  const int min_exponent = t == DType::F16 ? -14 : -126;
  const int e = x == 0 ? min_exponent : std::max(std::ilogb(x), min_exponent);
  return std::ldexp(1.0, e - mantissa);
}

inline double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::fabs(double(x)));
  return m;
}

// T's unit roundoff: the largest relative error of rounding to T (2^-precision).
inline double unit_roundoff(DType t) {
  return t == DType::F32   ? std::ldexp(1.0, -24)
         : t == DType::F16 ? std::ldexp(1.0, -11)
                           : std::ldexp(1.0, -8);
}

// Passes when every |actual - expected| <= 2 ulp_T(expected) + 1e-5 max|v| + extra[i] (extra
// empty: 0) and nothing is NaN or infinite; otherwise records the count and the first 10
// mismatches.
inline bool expect_attention_close(const std::vector<float>& actual,
                                   const std::vector<double>& expected, DType t, double max_v,
                                   const std::string& label,
                                   const std::vector<double>& extra = {}) {
  if (actual.size() != expected.size() || (!extra.empty() && extra.size() != expected.size())) {
    ADD_FAILURE() << label << ": " << actual.size() << " elements and " << extra.size()
                  << " tolerances, expected " << expected.size();
    return false;
  }
  std::ostringstream shown;
  shown.precision(9);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double tolerance =
        2 * ulp(t, expected[i]) + 1e-5 * max_v + (extra.empty() ? 0.0 : extra[i]);
    const double a = actual[i], e = expected[i];
    if (std::isfinite(a) && std::isfinite(e) && std::fabs(a - e) <= tolerance) continue;
    if (++bad <= 10) {
      shown << "\n  [" << i << "] expected " << e << ", actual " << a << ", tolerance "
            << tolerance;
    }
  }
  if (bad == 0) return true;
  ADD_FAILURE() << label << ": " << bad << " of " << actual.size() << " " << name_of(t)
                << " elements off; first " << std::min<std::size_t>(bad, 10) << ":" << shown.str();
  return false;
}

inline std::vector<double> widen(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace mt::test::attn
