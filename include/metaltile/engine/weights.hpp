// A decoder's weights in device memory, in the layouts the engine's kernels take: the q, k
// and v projections stacked into one [(Hq + 2 Hkv) D, hidden] matrix, gate and up into one
// [2F, hidden], each linear layer dense (T) or MLX affine (u32 codes, T scales and biases).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metaltile/engine/config.hpp"
#include "metaltile/engine/safetensors.hpp"
#include "metaltile/runtime/context.hpp"

namespace mt::engine {

// out = x W^T for W [n, k]: dense, or quantised in the MLX affine format.
struct Linear {
  std::uint32_t n = 0, k = 0;
  DeviceBuffer w;                   // dense: [n, k] T
  DeviceBuffer wq, scales, biases;  // affine: [n, k bits / 32] u32, [n, k / group] T twice
  std::optional<Quantization> quant{};

  bool quantised() const { return quant.has_value(); }
};

struct LayerWeights {
  DeviceBuffer attn_norm, mlp_norm;  // [hidden] T
  Linear qkv, o, gate_up, down;
  DeviceBuffer qkv_bias;        // [(Hq + 2 Hkv) D] T, or empty
  DeviceBuffer q_norm, k_norm;  // [D] T (Qwen3), or empty
};

struct ModelWeights {
  ModelConfig config;
  DType dtype = DType::BF16;  // the activation type T every kernel runs in
  Linear embed;               // the [vocab, hidden] table (quantised in MLX checkpoints)
  Linear head;                // the LM head (the embedding's buffers when tied)
  DeviceBuffer final_norm;
  std::vector<LayerWeights> layers;
};

// How to turn a checkpoint into device weights.
struct LoadOptions {
  std::optional<DType> dtype{};            // T; default: the checkpoint's float type
  std::optional<Quantization> quantise{};  // quantise dense linear layers on load
};

// Reads DIR (config.json and the safetensors files) and uploads the weights, converting floats
// to T. An mt::Error names any missing tensor, any tensor of the wrong shape or dtype, and an
// unsupported architecture.
ModelWeights load_weights(const Context& ctx, const std::string& dir, const LoadOptions& options);

// The same from a parsed config and an opened checkpoint.
ModelWeights load_weights(const Context& ctx, const ModelConfig& config, const Checkpoint& ckpt,
                          const LoadOptions& options);

// Random weights of the config's shape made on the device (uniform, scaled by 1 / sqrt(fan-in);
// norm weights 1), dense in T or quantised as `quantise` says: for speed measurements.
ModelWeights random_weights(const Context& ctx, const ModelConfig& config, DType dtype,
                            const std::optional<Quantization>& quantise, std::uint32_t seed);

// The configs `tile generate --random NAME` knows: "llama-3.2-1b", "llama-3.1-8b",
// "qwen3-0.6b", "tiny" (2 layers, hidden 64). An mt::Error listing them for another name.
ModelConfig named_config(const std::string& name);

}  // namespace mt::engine
