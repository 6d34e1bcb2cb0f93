// inv_freq and the attention factor for each rope type, step for step as transformers computes
// them in f32 torch tensors (modeling_rope_utils.py): each tensor operation rounds to f32, and a
// Python float meeting a tensor is first rounded to f32. The scalar parts (yarn's correction
// range, the attention factor) are Python floats, so double here. `1.0 / t` and `c / t` are
// written as transformers' torch evaluates them: reciprocal, then times c.
//
// The one step that can differ from transformers is base ** (2i / dim): torch's f32 pow is not
// correctly rounded, ours (the double result rounded once) is; the two agree or differ by one
// ulp (the fixtures in tests/kernels/ffai/rope_scaling_test.cpp show where).
#include "metaltile/kernels/ffai/rope_scaling.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "metaltile/core/error.hpp"

namespace mt::kernels::ffai::rope {
namespace {

float f32(double x) { return static_cast<float>(x); }

void check(bool ok, const std::string& what) {
  if (!ok) throw Error("rope_frequencies: " + what);
}

// base ** (arange(0, dim, 2) / dim): the exponent is an f32 division, the power rounded to f32.
std::vector<float> powers(double base, std::uint32_t dim) {
  std::vector<float> p;
  for (std::uint32_t i = 0; i < dim; i += 2) {
    const float exponent = static_cast<float>(i) / static_cast<float>(dim);
    p.push_back(f32(std::pow(static_cast<double>(f32(base)), static_cast<double>(exponent))));
  }
  return p;
}

std::vector<float> reciprocals(const std::vector<float>& v) {
  std::vector<float> r;
  for (float x : v) r.push_back(1.0f / x);
  return r;
}

// c / t, which torch evaluates as reciprocal(t) * c.
float divide_scalar_by(double c, float t) { return (1.0f / t) * f32(c); }

std::vector<float> llama3(const RopeScaling& s, std::vector<float> inv_freq) {
  const float factor = f32(s.factor), low = f32(s.low_freq_factor);
  const double old_context = s.original_max_position_embeddings;
  const float low_freq_wavelen = f32(old_context / s.low_freq_factor);
  const float high_freq_wavelen = f32(old_context / s.high_freq_factor);
  const float spread = f32(s.high_freq_factor - s.low_freq_factor);
  for (float& f : inv_freq) {
    const float wavelen = divide_scalar_by(2.0 * std::numbers::pi, f);
    const float scaled = wavelen > low_freq_wavelen ? f / factor : f;
    const float smooth = (divide_scalar_by(old_context, wavelen) - low) / spread;
    const float smoothed = (1.0f - smooth) * scaled / factor + smooth * scaled;
    const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    f = medium ? smoothed : scaled;
  }
  return inv_freq;
}

double yarn_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

RopeFrequencies yarn(const RopeScaling& s, std::uint32_t dim) {
  const double base = s.theta, factor = s.factor;
  double attention = 0.0;
  if (s.attention_factor) {
    attention = *s.attention_factor;
  } else if (s.mscale != 0.0 && s.mscale_all_dim != 0.0) {
    attention = yarn_mscale(factor, s.mscale) / yarn_mscale(factor, s.mscale_all_dim);
  } else {
    attention = yarn_mscale(factor, 1.0);
  }
  const double beta_fast = s.beta_fast != 0.0 ? s.beta_fast : 32.0;
  const double beta_slow = s.beta_slow != 0.0 ? s.beta_slow : 1.0;
  auto correction_dim = [&](double rotations) {
    return dim * std::log(s.original_max_position_embeddings / (rotations * 2 * std::numbers::pi)) /
           (2 * std::log(base));
  };
  double low = correction_dim(beta_fast), high = correction_dim(beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // transformers' guard against a zero-width ramp

  const std::vector<float> pos = powers(base, dim);
  RopeFrequencies r{{}, f32(attention)};
  const float low_f = f32(low), width = f32(high - low), factor_f = f32(factor);
  for (std::size_t i = 0; i < pos.size(); ++i) {
    const float extrapolation = 1.0f / pos[i];
    const float interpolation = 1.0f / (factor_f * pos[i]);
    const float ramp = std::clamp((static_cast<float>(i) - low_f) / width, 0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    r.inv_freq.push_back(interpolation * (1.0f - extrapolation_factor) +
                         extrapolation * extrapolation_factor);
  }
  return r;
}

}  // namespace

std::optional<RopeType> parse_rope_type(std::string_view name) {
  for (RopeType t : {RopeType::Default, RopeType::Linear, RopeType::Llama3, RopeType::Yarn}) {
    if (name == name_of(t)) return t;
  }
  return std::nullopt;
}

std::string_view name_of(RopeType type) {
  switch (type) {
    case RopeType::Default: return "default";
    case RopeType::Linear: return "linear";
    case RopeType::Llama3: return "llama3";
    case RopeType::Yarn: return "yarn";
  }
  return "?";
}

RopeFrequencies rope_frequencies(const RopeScaling& s, std::uint32_t rotary_dim) {
  check(rotary_dim > 0 && rotary_dim % 2 == 0,
        "rotary_dim must be even and > 0, got " + std::to_string(rotary_dim));
  check(s.theta > 0.0, "theta must be > 0");
  if (s.type != RopeType::Default) check(s.factor > 0.0, "factor must be > 0");
  if (s.type == RopeType::Llama3) {
    check(s.high_freq_factor > s.low_freq_factor, "high_freq_factor must exceed low_freq_factor");
  }
  if (s.type == RopeType::Llama3 || s.type == RopeType::Yarn) {
    check(s.original_max_position_embeddings > 0.0, "original_max_position_embeddings must be > 0");
  }

  if (s.type == RopeType::Yarn) return yarn(s, rotary_dim);
  RopeFrequencies r{reciprocals(powers(s.theta, rotary_dim)), 1.0f};
  if (s.type == RopeType::Linear) {
    for (float& f : r.inv_freq) f /= f32(s.factor);
  } else if (s.type == RopeType::Llama3) {
    r.inv_freq = llama3(s, std::move(r.inv_freq));
  }
  return r;
}

}  // namespace mt::kernels::ffai::rope
