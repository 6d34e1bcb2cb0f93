// The inverse frequencies and attention factor that the `rope` kernel takes, for the rope types
// of HF transformers' `rope_parameters` (`rope_scaling` in older configs): default, linear,
// llama3 and yarn. Computed as transformers computes them: the same formulas with f32
// rounding at the same steps (docs/kernels/rope.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace mt::kernels::ffai::rope {

enum class RopeType : std::uint8_t { Default, Linear, Llama3, Yarn };

// "default", "linear", "llama3", "yarn"; nullopt for any other name.
std::optional<RopeType> parse_rope_type(std::string_view name);
std::string_view name_of(RopeType type);

// A model's rope parameters, named as in its config. Fields a type does not use are ignored.
struct RopeScaling {
  RopeType type = RopeType::Default;
  double theta = 10000.0;  // rope_theta
  double factor = 1.0;     // linear, llama3, yarn
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_max_position_embeddings = 8192.0;  // llama3, yarn
  // yarn. beta_fast / beta_slow of 0 mean the defaults 32 / 1, as in transformers.
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> attention_factor{};  // taken as given when set
  double mscale = 0.0;                       // 0: not set
  double mscale_all_dim = 0.0;               // 0: not set
  bool truncate = true;
};

struct RopeFrequencies {
  std::vector<float> inv_freq;  // rotary_dim / 2 values: the kernel's `inv_freq` buffer
  float attn_factor = 1.0f;     // the kernel's `attn_factor` scalar
};

// inv_freq for rotary_dim rotated dimensions (head_dim times partial_rotary_factor, as
// transformers truncates it) and the attention factor. An mt::Error for a rotary_dim that is
// zero or odd, theta <= 0, factor <= 0 (linear, llama3, yarn), high_freq_factor <=
// low_freq_factor (llama3) or original_max_position_embeddings <= 0 (llama3, yarn).
RopeFrequencies rope_frequencies(const RopeScaling& scaling, std::uint32_t rotary_dim);

}  // namespace mt::kernels::ffai::rope
