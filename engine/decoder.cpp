// The decoder step (include/metaltile/engine/decoder.hpp). Launches per layer, all on device
// buffers fixed at construction (so the step can be captured once and replayed):
//
//   add_rms_norm    residual += previous output; normed = norm(residual)   (layer 0: rms_norm)
//   gemv            qkv = normed W_qkv^T             (q, k and v stacked: one launch)
//   qkv_rope_append bias, q/k norm, RoPE; k and v written into the cache at positions[0]
//   attention_decode over lengths[0] cached positions
//   gemv            o = attn W_o^T
//   add_rms_norm    residual += o; normed = norm(residual)
//   gemv            gate_up = normed W_gu^T          (gate and up stacked: one launch)
//   swiglu_gate_up  act = silu(gate) * up
//   gemv            mlp = act W_down^T
//
// then the final add_rms_norm and the LM head (only when logits are wanted), and
// step_positions, which advances the position and length for the next replay. Dense layers
// use `gemv`, MLX-quantised ones `qgemv_affine`; shape scalars are specialised per runner.
#include "metaltile/engine/decoder.hpp"

#include <cmath>

#include "metaltile/core/error.hpp"
#include "metaltile/kernels/ffai/rope_scaling.hpp"
#include "metaltile/runtime/bytes.hpp"

namespace mt::engine {
namespace {

std::string consts_key(const std::string& name, const ConstMap& consts) {
  std::string key = name;
  for (const auto& [k, v] : consts) {
    key += " " + k + "=";
    std::visit([&](auto x) { key += std::to_string(x); }, v);
  }
  return key;
}

std::vector<std::uint8_t> u32_bytes(std::uint32_t v) {
  return tensor_bytes(std::span<const std::uint32_t>(&v, 1));
}

}  // namespace

Decoder::Decoder(const Context& ctx, const ModelWeights& weights, const DecoderOptions& options)
    : ctx_(ctx), weights_(weights), options_(options), stream_(ctx.create_stream()) {
  const ModelConfig& c = weights_.config;
  const DType t = weights_.dtype;
  const std::size_t e = size_of(t);
  if (options_.max_seq == 0) throw Error("decoder: max_seq must be positive");
  const std::size_t cache = std::size_t(c.kv_heads) * options_.max_seq * c.head_dim * e;
  for (std::uint32_t l = 0; l < c.layers; ++l) {
    k_cache_.push_back(ctx_.allocate(cache));
    v_cache_.push_back(ctx_.allocate(cache));
  }
  const std::size_t qkv_rows = std::size_t(c.q_heads + 2 * c.kv_heads) * c.head_dim;
  residual_[0] = ctx_.allocate(c.hidden * e);
  residual_[1] = ctx_.allocate(c.hidden * e);
  normed_ = ctx_.allocate(c.hidden * e);
  qkv_ = ctx_.allocate(qkv_rows * e);
  q_ = ctx_.allocate(std::size_t(c.q_heads) * c.head_dim * e);
  attn_ = ctx_.allocate(std::size_t(c.q_heads) * c.head_dim * e);
  o_ = ctx_.allocate(c.hidden * e);
  gate_up_ = ctx_.allocate(2 * std::size_t(c.intermediate) * e);
  act_ = ctx_.allocate(std::size_t(c.intermediate) * e);
  mlp_ = ctx_.allocate(c.hidden * e);
  logits_ = ctx_.allocate(std::size_t(c.vocab) * e);
  ids_ = ctx_.upload(u32_bytes(0));
  positions_ = ctx_.upload(u32_bytes(0));
  lengths_ = ctx_.upload(u32_bytes(1));
  const kernels::ffai::rope::RopeFrequencies rope =
      kernels::ffai::rope::rope_frequencies(c.rope, c.head_dim);
  inv_freq_ = ctx_.upload(tensor_bytes(rope.inv_freq, DType::F32));
  no_sinks_ = ctx_.allocate(0);
  no_penalty_ = ctx_.allocate(0);
  sampler_ = std::make_unique<kernels::KernelRunner>(ctx_, "sample", t);
  plan_launches();
  // One eager step compiles every kernel and allocates the runners' scratch buffers, which a
  // capture must not do; it writes cache position 0, which the first real token overwrites.
  run_step(true);
  stream_.synchronize();
  if (options_.use_graphs) {
    graph_body_ = std::make_unique<Graph>(ctx_.capture(stream_, [&] { record(false); }));
    graph_full_ = std::make_unique<Graph>(ctx_.capture(stream_, [&] { record(true); }));
  }
  reset();
}

Decoder::~Decoder() = default;

kernels::KernelRunner& Decoder::runner(const std::string& name, const ConstMap& consts) {
  std::unique_ptr<kernels::KernelRunner>& r = runners_[consts_key(name, consts)];
  if (!r) {
    const DType t = name == "step_positions" ? DType::U32 : weights_.dtype;
    r = std::make_unique<kernels::KernelRunner>(ctx_, name, t, consts);
  }
  return *r;
}

void Decoder::add_linear(std::vector<Launch>& into, const Linear& l, const DeviceBuffer& x,
                         const DeviceBuffer& out) {
  if (l.quantised()) {
    kernels::KernelRunner& r = runner(
        "qgemv_affine",
        {{"k", l.k}, {"n", l.n}, {"group_size", l.quant->group_size}, {"bits", l.quant->bits}});
    into.push_back(
        {&r, {{"x", x}, {"wq", l.wq}, {"scales", l.scales}, {"biases", l.biases}, {"out", out}}});
  } else {
    kernels::KernelRunner& r = runner("gemv", {{"k", l.k}, {"n", l.n}});
    into.push_back({&r, {{"w", l.w}, {"x", x}, {"out", out}}});
  }
}

void Decoder::plan_launches() {
  const ModelConfig& c = weights_.config;
  const ConstMap hidden{{"n", c.hidden}};
  const float eps = c.rms_eps;
  // Token embedding into residual 0.
  if (weights_.embed.quantised()) {
    const Quantization& q = *weights_.embed.quant;
    body_.push_back({&runner("embedding_affine",
                             {{"dim", c.hidden}, {"group_size", q.group_size}, {"bits", q.bits}}),
                     {{"ids", ids_},
                      {"wq", weights_.embed.wq},
                      {"scales", weights_.embed.scales},
                      {"biases", weights_.embed.biases},
                      {"out", residual_[0]}}});
  } else {
    body_.push_back({&runner("embedding", {{"dim", c.hidden}}),
                     {{"ids", ids_}, {"table", weights_.embed.w}, {"out", residual_[0]}}});
  }
  int cur = 0;  // the residual buffer holding the stream
  // residual[other] = x + residual[cur]; normed = norm(residual[other]) * w.
  auto add_norm = [&](std::vector<Launch>& into, const DeviceBuffer& x, const DeviceBuffer& w) {
    into.push_back({&runner("add_rms_norm", hidden),
                    {{"x", x},
                     {"residual", residual_[cur]},
                     {"w", w},
                     {"h", residual_[1 - cur]},
                     {"out", normed_},
                     {"eps", eps},
                     {"weight_offset", 0.0f}}});
    cur = 1 - cur;
  };
  const kernels::ffai::rope::RopeFrequencies rope =
      kernels::ffai::rope::rope_frequencies(c.rope, c.head_dim);
  for (std::uint32_t i = 0; i < c.layers; ++i) {
    const LayerWeights& l = weights_.layers[i];
    if (i == 0) {
      body_.push_back({&runner("rms_norm", hidden),
                       {{"x", residual_[0]},
                        {"w", l.attn_norm},
                        {"out", normed_},
                        {"eps", eps},
                        {"weight_offset", 0.0f}}});
    } else {
      add_norm(body_, mlp_, l.attn_norm);
    }
    add_linear(body_, l.qkv, normed_, qkv_);
    body_.push_back({&runner("qkv_rope_append"),
                     {{"qkv", qkv_},
                      {"bias", l.qkv_bias},
                      {"q_norm", l.q_norm},
                      {"k_norm", l.k_norm},
                      {"positions", positions_},
                      {"inv_freq", inv_freq_},
                      {"q", q_},
                      {"k_cache", k_cache_[i]},
                      {"v_cache", v_cache_[i]},
                      {"head_dim", c.head_dim},
                      {"n_q_heads", c.q_heads},
                      {"n_kv_heads", c.kv_heads},
                      {"max_seq", options_.max_seq},
                      {"eps", eps},
                      {"attn_factor", rope.attn_factor},
                      {"has_bias", std::uint32_t(c.qkv_bias)},
                      {"has_qk_norm", std::uint32_t(c.qk_norm)}}});
    body_.push_back({&runner("attention_decode"),
                     {{"q", q_},
                      {"k", k_cache_[i]},
                      {"v", v_cache_[i]},
                      {"lengths", lengths_},
                      {"sinks", no_sinks_},
                      {"out", attn_},
                      {"head_dim", c.head_dim},
                      {"n_q_heads", c.q_heads},
                      {"n_kv_heads", c.kv_heads},
                      {"max_seq", options_.max_seq},
                      {"scale", 1.0f / std::sqrt(float(c.head_dim))},
                      {"window", c.sliding_window},
                      {"softcap", 0.0f},
                      {"has_sinks", 0u}}});
    add_linear(body_, l.o, attn_, o_);
    add_norm(body_, o_, l.mlp_norm);
    add_linear(body_, l.gate_up, normed_, gate_up_);
    body_.push_back({&runner("swiglu_gate_up", {{"n", c.intermediate}}),
                     {{"gate_up", gate_up_}, {"out", act_}}});
    add_linear(body_, l.down, act_, mlp_);
  }
  add_norm(head_, mlp_, weights_.final_norm);
  add_linear(head_, weights_.head, normed_, logits_);
  advance_.push_back(
      {&runner("step_positions"), {{"positions", positions_}, {"lengths", lengths_}}});
}

void Decoder::record(bool with_head) const {
  for (const Launch& l : body_) l.runner->launch(l.bindings, stream_);
  if (with_head) {
    for (const Launch& l : head_) l.runner->launch(l.bindings, stream_);
  }
  for (const Launch& l : advance_) l.runner->launch(l.bindings, stream_);
}

void Decoder::run_step(bool with_head) {
  const Graph* g = with_head ? graph_full_.get() : graph_body_.get();
  if (g != nullptr) {
    g->replay(stream_);
  } else {
    record(with_head);
  }
}

void Decoder::set_position(std::uint32_t position) {
  stream_.synchronize();
  positions_.upload(u32_bytes(position));
  lengths_.upload(u32_bytes(position + 1));
  position_ = position;
}

void Decoder::reset() {
  set_position(0);
  has_logits_ = false;
}

void Decoder::check_room() const {
  if (position_ >= options_.max_seq) {
    throw Error("decoder: the KV cache is full (" + std::to_string(options_.max_seq) +
                " positions); start a new sequence or raise max_seq");
  }
}

void Decoder::feed(std::uint32_t token, bool logits) {
  check_room();
  if (token >= weights_.config.vocab) {
    throw Error("decoder: token id " + std::to_string(token) + " is outside the vocabulary (" +
                std::to_string(weights_.config.vocab) + " tokens)");
  }
  stream_.synchronize();  // the previous step may still read ids
  ids_.upload(u32_bytes(token));
  run_step(logits);
  ++position_;
  has_logits_ = logits;
}

void Decoder::prefill(std::span<const std::uint32_t> tokens) {
  for (std::size_t i = 0; i < tokens.size(); ++i) feed(tokens[i], i + 1 == tokens.size());
}

std::uint32_t Decoder::sample(const SamplingOptions& o) {
  if (!has_logits_) throw Error("decoder: sample() before any step computed logits");
  sampler_->launch({{"logits", logits_},
                    {"penalty_ids", no_penalty_},
                    {"out", ids_},
                    {"vocab", weights_.config.vocab},
                    {"temperature", o.temperature},
                    {"top_k", o.top_k},
                    {"top_p", o.top_p},
                    {"min_p", o.min_p},
                    {"seed_lo", std::uint32_t(o.seed)},
                    {"seed_hi", std::uint32_t(o.seed >> 32)},
                    {"offset", draws_++},
                    {"n_penalty", 0u},
                    {"repetition_penalty", 1.0f}},
                   stream_);
  stream_.synchronize();
  const std::vector<std::uint8_t> bytes = ids_.download();
  return detail::read_le(bytes.data(), 4);
}

void Decoder::feed_drawn() {
  check_room();
  run_step(true);
  ++position_;
  has_logits_ = true;
}

std::vector<float> Decoder::logits() const {
  if (!has_logits_) throw Error("decoder: no step has computed logits yet");
  stream_.synchronize();
  return tensor_values(logits_.download(), weights_.dtype);
}

}  // namespace mt::engine
