// The decoder forward pass on device-resident buffers: one token a step through every layer,
// with the weights, the KV cache and all activations in device memory. A step is recorded
// once as a graph (one replay a token); only token ids and, when asked, the logits cross to
// the host.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "metaltile/engine/weights.hpp"
#include "metaltile/kernels/run.hpp"

namespace mt::engine {

struct DecoderOptions {
  std::uint32_t max_seq = 4096;  // KV-cache positions per sequence
  bool use_graphs = true;        // replay a captured step; false: launch every kernel each step
};

struct SamplingOptions {
  float temperature = 0.0f;  // 0: greedy
  std::uint32_t top_k = 0;   // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off
  std::uint64_t seed = 0;
};

class Decoder {
 public:
  // Allocates the KV cache and the activations and prepares every kernel; an mt::Error when
  // the shapes are outside what the kernels take (head_dim, max_seq).
  Decoder(const Context& ctx, const ModelWeights& weights, const DecoderOptions& options);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Forgets the sequence: the next token goes to position 0.
  void reset();
  std::uint32_t position() const { return position_; }
  const ModelConfig& config() const { return weights_.config; }

  // Runs one token at position(); with `logits` also the final norm and the LM head, whose
  // result logits() then returns. An mt::Error when the cache is full.
  void feed(std::uint32_t token, bool logits);
  // Feeds each token; only the last computes logits.
  void prefill(std::span<const std::uint32_t> tokens);
  // Draws the next token from the current logits (on the device) and returns it; the drawn
  // token is left as the next input, which feed_drawn() runs without an upload.
  std::uint32_t sample(const SamplingOptions& options);
  void feed_drawn();
  // The last logits computed, as f32 (waits for the step).
  std::vector<float> logits() const;

 private:
  struct Launch {
    kernels::KernelRunner* runner;
    DeviceBindings bindings;
  };
  kernels::KernelRunner& runner(const std::string& name, const ConstMap& consts = {});
  void plan_launches();
  void add_linear(std::vector<Launch>& into, const Linear& l, const DeviceBuffer& x,
                  const DeviceBuffer& out);
  void record(bool with_head) const;
  void run_step(bool with_head);
  void check_room() const;
  void set_position(std::uint32_t position);

  Context ctx_;
  ModelWeights weights_;  // handles: the buffers are shared, not copied
  DecoderOptions options_;
  Stream stream_;
  std::map<std::string, std::unique_ptr<kernels::KernelRunner>> runners_;
  std::unique_ptr<kernels::KernelRunner> sampler_;
  // Device state: caches per layer, the residual stream (two buffers, written alternately),
  // activations, the token id, position and length.
  std::vector<DeviceBuffer> k_cache_, v_cache_;
  DeviceBuffer residual_[2], normed_, qkv_, q_, attn_, o_, gate_up_, act_, mlp_, logits_;
  DeviceBuffer ids_, positions_, lengths_, inv_freq_, no_sinks_, no_penalty_;
  std::vector<Launch> body_, head_, advance_;
  std::unique_ptr<Graph> graph_body_, graph_full_;
  std::uint32_t position_ = 0;
  std::uint32_t draws_ = 0;
  bool has_logits_ = false;
};

}  // namespace mt::engine
