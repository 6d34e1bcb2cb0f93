// A decoder model's shape and options, read from a Hugging Face `config.json` (Llama, Qwen2,
// Qwen3, Mistral), with the MLX `quantization` block when the checkpoint is MLX-quantised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metaltile/kernels/ffai/rope_scaling.hpp"

namespace mt::engine {

enum class Architecture : std::uint8_t { Llama, Qwen2, Qwen3, Mistral };

std::string_view name_of(Architecture a);  // the config's class name: "LlamaForCausalLM"

// MLX affine quantisation of the linear layers and the embedding (config "quantization").
struct Quantization {
  std::uint32_t group_size = 64;
  std::uint32_t bits = 4;
};

struct ModelConfig {
  Architecture arch = Architecture::Llama;
  std::uint32_t hidden = 0;          // hidden_size
  std::uint32_t intermediate = 0;    // intermediate_size
  std::uint32_t layers = 0;          // num_hidden_layers
  std::uint32_t q_heads = 0;         // num_attention_heads
  std::uint32_t kv_heads = 0;        // num_key_value_heads (q_heads when absent)
  std::uint32_t head_dim = 0;        // head_dim (hidden / q_heads when absent)
  std::uint32_t vocab = 0;           // vocab_size
  float rms_eps = 1e-6f;             // rms_norm_eps
  bool tied_embeddings = false;      // tie_word_embeddings
  bool qkv_bias = false;             // Qwen2 (attention_bias for the others)
  bool qk_norm = false;              // Qwen3
  std::uint32_t max_positions = 0;   // max_position_embeddings
  std::uint32_t sliding_window = 0;  // Mistral's sliding_window, 0 = none
  kernels::ffai::rope::RopeScaling rope{};
  std::optional<std::uint32_t> bos_token{};
  std::vector<std::uint32_t> eos_tokens{};  // eos_token_id: one id or a list
  std::optional<Quantization> quantization{};

  // Bytes of weights a decode step reads (every linear layer, the norms, the LM head and one
  // embedding row), for the bandwidth floor; `weight_bytes` is the size of one element (or, when
  // quantised, computed from bits and group size with `scale_bytes` per scale and bias).
  double decode_weight_bytes(double weight_bytes, double scale_bytes) const;
};

// Parses config.json text; `source` names it in errors. An mt::Error for an architecture the
// engine does not implement (naming it and the ones it does), a missing or non-positive
// field, head counts that do not divide, or rope parameters the kernels cannot apply.
ModelConfig parse_config(std::string_view text, std::string_view source);
// Reads DIR/config.json.
ModelConfig read_config(const std::string& dir);

}  // namespace mt::engine
