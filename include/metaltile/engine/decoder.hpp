// The decoder forward pass on device-resident buffers: one token a step through every layer,
// with the weights, the KV cache (raw or quantised) and all activations in device memory. A
// step is recorded once as a graph (one replay a token); a prompt runs in chunks of many tokens
// at once (matrix products, causal prefill attention). Only token ids and, when asked, the
// logits cross to the host.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "metaltile/engine/weights.hpp"
#include "metaltile/kernels/run.hpp"

namespace mt::engine {

// How the KV cache is stored (docs/kernels/kv_cache.md): in the activation type, or quantised
// per group of channels (affine int8 / int4 with a scale and bias, fp8 with a scale).
enum class KvFormat : std::uint8_t { Raw, Int8, Int4, Fp8E4M3, Fp8E5M2 };

// "f16" (raw: the activation type), "int8", "int4", "fp8" (e4m3), "fp8-e5m2"; an mt::Error
// listing them for another name.
KvFormat parse_kv_format(const std::string& name);
std::string kv_format_name(KvFormat f);

struct DecoderOptions {
  std::uint32_t max_seq = 4096;  // KV-cache positions per sequence
  bool use_graphs = true;        // replay a captured step; false: launch every kernel each step
  KvFormat kv = KvFormat::Raw;
  std::uint32_t kv_group_size = 0;  // channels per KV quantisation group; 0: min(32, head_dim)
  bool batched_prefill = true;      // false: the prompt goes token by token through the step
  // Most prompt tokens per prefill chunk; 0: 512. Chunks are also limited by the matrix kernels
  // of the weights: 16 rows for gemv / qgemv_affine (f32 or quantised weights).
  std::uint32_t prefill_chunk = 0;
  // Fuse the decode step's RMS norms, residual adds and SwiGLU into its GEMVs where the
  // projections are dense (rms_norm_gemv, rms_norm_gemv_swiglu, residual_gemv); false: a
  // launch for each, as prefill has them.
  bool fuse_decode = true;
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
  // Runs the tokens at position() .. position() + size - 1 and computes the logits of the
  // last: in chunks of many tokens at once (options' batched_prefill), or token by token
  // through the decode step. An mt::Error when they do not fit the cache or an id is outside
  // the vocabulary (nothing runs then).
  void prefill(std::span<const std::uint32_t> tokens);
  // Tokens per prefill chunk (1 when batched prefill is off).
  std::uint32_t prefill_chunk() const { return chunk_; }
  // Host time the last batched prefill took to queue its launches (before waiting for them):
  // near the whole prefill time, the host's launching bounds it; far below, the device does.
  double last_prefill_enqueue_ms() const { return prefill_enqueue_ms_; }
  // Draws the next token from the current logits (on the device) and returns it; the drawn
  // token is left as the next input, which feed_drawn() runs without an upload.
  std::uint32_t sample(const SamplingOptions& options);
  void feed_drawn();
  // The last logits computed, as f32 (waits for the step).
  std::vector<float> logits() const;
  // Waits for every launch queued so far (to time a prefill or a step).
  void synchronize() const { stream_.synchronize(); }
  // The kernels a decode step with logits launches, in order, by the name they are requested
  // by (attention's split-K entry counts once): what the step's plan chose.
  std::vector<std::string> step_kernels() const;

 private:
  struct Launch {
    kernels::KernelRunner* runner;
    DeviceBindings bindings;
  };
  // The activations of a step of `rows` tokens.
  struct Activations {
    std::uint32_t rows = 0;
    DeviceBuffer residual[2], normed, qkv, q, attn, o, gate_up, act, mlp;
  };
  // One layer's cache by buffer name: k, v (raw) or k_w, k_s[, k_b], v_w, v_s[, v_b].
  using LayerCache = std::map<std::string, DeviceBuffer>;

  kernels::KernelRunner& runner(const std::string& name, const ConstMap& consts = {});
  Activations allocate_activations(std::uint32_t rows) const;
  // The launches of the embedding, every layer and the final norm (the last launch) for a.rows
  // tokens with ids and positions in device memory: decode attends over lengths_, prefill (the
  // rows of a chunk) causally over positions.
  void plan_layers(std::vector<Launch>& into, const Activations& a, const DeviceBuffer& ids,
                   const DeviceBuffer& positions, bool prefill);
  void plan_launches();
  // The decode step with the norms, residual adds and SwiGLU fused into its GEMVs (dense or
  // quantised), and RoPE with the cache append in the q/k/v projection where it can be: 5
  // launches a layer instead of 9 (6 with a quantised cache or q/k norm).
  void plan_fused_step();
  Launch fused_linear(const std::string& kernel, const Linear& l, std::uint32_t n,
                      DeviceBindings bindings);
  void add_embedding(std::vector<Launch>& into, const DeviceBuffer& ids, const DeviceBuffer& out);
  void add_attention(std::vector<Launch>& into, const Activations& a, std::uint32_t layer,
                     const DeviceBuffer& positions, bool prefill);
  DeviceBindings append_bindings(const Activations& a, std::uint32_t layer,
                                 const DeviceBuffer& positions) const;
  void add_append(std::vector<Launch>& into, const Activations& a, std::uint32_t layer,
                  const DeviceBuffer& positions);
  void add_attend(std::vector<Launch>& into, const Activations& a, std::uint32_t layer,
                  const DeviceBuffer& positions, bool prefill);
  void add_linear(std::vector<Launch>& into, const Linear& l, const DeviceBuffer& x,
                  const DeviceBuffer& out, std::uint32_t rows);
  std::uint32_t max_linear_rows() const;
  void prefill_chunks(std::span<const std::uint32_t> tokens);
  void record(bool with_head) const;
  void run_step(bool with_head);
  void check_room() const;
  void check_token(std::uint32_t token) const;
  void set_position(std::uint32_t position);

  Context ctx_;
  ModelWeights weights_;  // handles: the buffers are shared, not copied
  DecoderOptions options_;
  Stream stream_;
  std::map<std::string, std::unique_ptr<kernels::KernelRunner>> runners_;
  std::unique_ptr<kernels::KernelRunner> sampler_;
  // Device state: caches per layer, the decode step's activations (the residual stream in two
  // buffers, written alternately), the token id, position and length; prefill's activations
  // by chunk size.
  std::vector<LayerCache> caches_;
  std::uint32_t kv_group_ = 0;
  std::uint32_t chunk_ = 1;
  double prefill_enqueue_ms_ = 0.0;
  Activations step_;
  std::map<std::uint32_t, Activations> chunks_;
  DeviceBuffer logits_;
  DeviceBuffer ids_, positions_, lengths_, inv_freq_, no_sinks_, no_penalty_;
  float attn_factor_ = 1.0f;  // RoPE's, with inv_freq_ (rope_frequencies of the config)
  // The decode step: body_ (every layer), head_ (the final norm and the LM head) and advance_
  // (the position); prefill_head_: the LM head alone, on step_.normed.
  std::vector<Launch> body_, head_, advance_;
  std::optional<Launch> prefill_head_;
  std::unique_ptr<Graph> graph_body_, graph_full_;
  std::uint32_t position_ = 0;
  std::uint32_t draws_ = 0;
  bool has_logits_ = false;
};

}  // namespace mt::engine
