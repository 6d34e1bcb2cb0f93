// The decoder step (include/metaltile/engine/decoder.hpp). Launches per layer, all on device
// buffers fixed at construction (so the step can be captured once and replayed):
//
//   add_rms_norm    residual += previous output; normed = norm(residual)   (layer 0: rms_norm)
//   gemv            qkv = normed W_qkv^T             (q, k and v stacked: one launch)
//   qkv_rope_append bias, q/k norm, RoPE; k and v written into the cache at positions[0]
//                   (qkv_rope_append_<format>: quantised into an int8 / int4 / fp8 cache)
//   attention_decode over lengths[0] cached positions (attention_decode_<format>)
//   gemv            o = attn W_o^T
//   add_rms_norm    residual += o; normed = norm(residual)
//   gemv            gate_up = normed W_gu^T          (gate and up stacked: one launch)
//   swiglu_gate_up  act = silu(gate) * up
//   gemv            mlp = act W_down^T
//
// then the final add_rms_norm and the LM head (only when logits are wanted), and
// step_positions, which advances the position and length for the next replay. Dense layers
// use `gemv`, MLX-quantised ones `qgemv_affine`; shape scalars are specialised per runner.
//
// Prefill runs the same layers on a chunk of T prompt tokens at once: the projections as
// matrix products of T rows (`gemm` on the tensor cores for dense f16/bf16 weights,
// `qgemm_affine` for MLX-quantised ones past 4 rows, `qgemv_affine` below; `gemv` for up to 16
// rows of dense f32), RoPE and the cache append of all T tokens in one
// qkv_rope_append, and attention_prefill, where token t attends causally to the cache up to its
// own position. Only the last token of the prompt needs logits: its row of the final norm is
// gathered (the `embedding` kernel over the normed rows) into the decode step's buffer, and the
// decode step's LM head runs on it.
#include "metaltile/engine/decoder.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "metaltile/core/error.hpp"
#include "metaltile/kernels/ffai/rope_scaling.hpp"
#include "metaltile/runtime/bytes.hpp"

namespace mt::engine {
namespace {

// Prompt tokens per prefill chunk unless the options say otherwise.
constexpr std::uint32_t kDefaultChunk = 512;
// The rows gemv takes at once.
constexpr std::uint32_t kGemvRows = 16;
// Up to this many rows, quantised weights go through qgemv_affine (the weight bytes dominate);
// past it through the quantised GEMM on the tensor cores.
constexpr std::uint32_t kQgemvRows = 4;

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

// The kernel name suffix of a cache format ("", "_int8", ...), as the library names them.
std::string kernel_suffix(KvFormat f) {
  switch (f) {
    case KvFormat::Raw: return "";
    case KvFormat::Int8: return "_int8";
    case KvFormat::Int4: return "_int4";
    case KvFormat::Fp8E4M3: return "_fp8_e4m3";
    case KvFormat::Fp8E5M2: return "_fp8_e5m2";
  }
  return "";
}

std::uint32_t code_bits(KvFormat f) { return f == KvFormat::Raw ? 0 : f == KvFormat::Int4 ? 4 : 8; }
bool has_bias(KvFormat f) { return f == KvFormat::Int8 || f == KvFormat::Int4; }

}  // namespace

KvFormat parse_kv_format(const std::string& name) {
  if (name == "f16" || name == "raw") return KvFormat::Raw;
  if (name == "int8") return KvFormat::Int8;
  if (name == "int4") return KvFormat::Int4;
  if (name == "fp8" || name == "fp8-e4m3") return KvFormat::Fp8E4M3;
  if (name == "fp8-e5m2") return KvFormat::Fp8E5M2;
  throw Error("KV-cache format '" + name +
              "': expected f16 (the activation type), int8, int4, fp8 (e4m3) or fp8-e5m2");
}

std::string kv_format_name(KvFormat f) {
  switch (f) {
    case KvFormat::Raw: return "f16";
    case KvFormat::Int8: return "int8";
    case KvFormat::Int4: return "int4";
    case KvFormat::Fp8E4M3: return "fp8";
    case KvFormat::Fp8E5M2: return "fp8-e5m2";
  }
  return "";
}

Decoder::Decoder(const Context& ctx, const ModelWeights& weights, const DecoderOptions& options)
    : ctx_(ctx), weights_(weights), options_(options), stream_(ctx.create_stream()) {
  const ModelConfig& c = weights_.config;
  const DType t = weights_.dtype;
  const std::size_t e = size_of(t);
  if (options_.max_seq == 0) throw Error("decoder: max_seq must be positive");
  const std::size_t rows = std::size_t(c.kv_heads) * options_.max_seq;  // cache rows per layer
  const KvFormat kv = options_.kv;
  if (kv != KvFormat::Raw) {
    kv_group_ = options_.kv_group_size != 0 ? options_.kv_group_size : std::min(32u, c.head_dim);
    // The attention kernels' lanes read 16 channels of one group.
    if (kv_group_ % 16 != 0 || c.head_dim % kv_group_ != 0) {
      throw Error("decoder: a KV quantisation group of " + std::to_string(kv_group_) +
                  " channels must be a multiple of 16 that divides head_dim (" +
                  std::to_string(c.head_dim) + ")");
    }
  }
  for (std::uint32_t l = 0; l < c.layers; ++l) {
    LayerCache cache;
    for (const std::string x : {"k", "v"}) {
      if (kv == KvFormat::Raw) {
        cache[x] = ctx_.allocate(rows * c.head_dim * e);
        continue;
      }
      cache[x + "_w"] = ctx_.allocate(rows * c.head_dim * code_bits(kv) / 8);
      cache[x + "_s"] = ctx_.allocate(rows * (c.head_dim / kv_group_) * e);
      if (has_bias(kv)) cache[x + "_b"] = ctx_.allocate(rows * (c.head_dim / kv_group_) * e);
    }
    caches_.push_back(std::move(cache));
  }
  step_ = allocate_activations(1);
  logits_ = ctx_.allocate(std::size_t(c.vocab) * e);
  ids_ = ctx_.upload(u32_bytes(0));
  positions_ = ctx_.upload(u32_bytes(0));
  lengths_ = ctx_.upload(u32_bytes(1));
  const kernels::ffai::rope::RopeFrequencies rope =
      kernels::ffai::rope::rope_frequencies(c.rope, c.head_dim);
  inv_freq_ = ctx_.upload(tensor_bytes(rope.inv_freq, DType::F32));
  attn_factor_ = rope.attn_factor;
  no_sinks_ = ctx_.allocate(0);
  no_penalty_ = ctx_.allocate(0);
  sampler_ = std::make_unique<kernels::KernelRunner>(ctx_, "sample", t);
  if (options_.batched_prefill) {
    chunk_ = std::min(options_.prefill_chunk != 0 ? options_.prefill_chunk : kDefaultChunk,
                      max_linear_rows());
  }
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

Decoder::Activations Decoder::allocate_activations(std::uint32_t rows) const {
  const ModelConfig& c = weights_.config;
  const std::size_t e = size_of(weights_.dtype) * rows;
  const std::size_t qkv_rows = std::size_t(c.q_heads + 2 * c.kv_heads) * c.head_dim;
  Activations a;
  a.rows = rows;
  a.residual[0] = ctx_.allocate(c.hidden * e);
  a.residual[1] = ctx_.allocate(c.hidden * e);
  a.normed = ctx_.allocate(c.hidden * e);
  a.qkv = ctx_.allocate(qkv_rows * e);
  a.q = ctx_.allocate(std::size_t(c.q_heads) * c.head_dim * e);
  a.attn = ctx_.allocate(std::size_t(c.q_heads) * c.head_dim * e);
  a.o = ctx_.allocate(c.hidden * e);
  a.gate_up = ctx_.allocate(2 * std::size_t(c.intermediate) * e);
  a.act = ctx_.allocate(std::size_t(c.intermediate) * e);
  a.mlp = ctx_.allocate(c.hidden * e);
  return a;
}

// The linear layer on `rows` rows of x. One row: the decode GEMV. More: the matrix kernel of
// the weights' form, which also bounds the rows of a prefill chunk (max_linear_rows).
void Decoder::add_linear(std::vector<Launch>& into, const Linear& l, const DeviceBuffer& x,
                         const DeviceBuffer& out, std::uint32_t rows) {
  if (l.quantised()) {
    const ConstMap shape{
        {"k", l.k}, {"n", l.n}, {"group_size", l.quant->group_size}, {"bits", l.quant->bits}};
    if (rows > kQgemvRows) {
      kernels::KernelRunner& r = runner("qgemm_affine", shape);
      into.push_back({&r,
                      {{"a", x},
                       {"wq", l.wq},
                       {"scales", l.scales},
                       {"biases", l.biases},
                       {"out", out},
                       {"m", rows}}});
      return;
    }
    kernels::KernelRunner& r = runner("qgemv_affine", shape);
    into.push_back(
        {&r, {{"x", x}, {"wq", l.wq}, {"scales", l.scales}, {"biases", l.biases}, {"out", out}}});
    return;
  }
  if (rows > 1 && weights_.dtype != DType::F32) {
    kernels::KernelRunner& r = runner("gemm", {{"k", l.k}, {"n", l.n}});
    into.push_back({&r, {{"a", x}, {"b", l.w}, {"out", out}, {"m", rows}}});
    return;
  }
  kernels::KernelRunner& r = runner("gemv", {{"k", l.k}, {"n", l.n}});
  into.push_back({&r, {{"w", l.w}, {"x", x}, {"out", out}}});
}

// gemm (dense f16 / bf16) and qgemm_affine (quantised, any dtype) take any number of rows;
// gemv (dense f32) 16. (The LM head runs on one row only.)
std::uint32_t Decoder::max_linear_rows() const {
  if (weights_.dtype != DType::F32) return std::numeric_limits<std::uint32_t>::max();
  for (const LayerWeights& l : weights_.layers) {
    for (const Linear* linear : {&l.qkv, &l.o, &l.gate_up, &l.down}) {
      if (!linear->quantised()) return kGemvRows;
    }
  }
  return std::numeric_limits<std::uint32_t>::max();
}

// The layer's q/k/v after its projection (a.qkv) through RoPE into the cache, and attention
// into a.attn: decode over lengths_, prefill causally over positions.
void Decoder::add_attention(std::vector<Launch>& into, const Activations& a, std::uint32_t layer,
                            const DeviceBuffer& positions, bool prefill) {
  add_append(into, a, layer, positions);
  add_attend(into, a, layer, positions, prefill);
}

// What RoPE and the cache append take wherever they run (qkv_rope_append, or the q/k/v
// projection's store): the bias, positions, frequencies, q and the layer's cache.
DeviceBindings Decoder::append_bindings(const Activations& a, std::uint32_t layer,
                                        const DeviceBuffer& positions) const {
  const ModelConfig& c = weights_.config;
  DeviceBindings append{{"bias", weights_.layers[layer].qkv_bias},
                        {"positions", positions},
                        {"inv_freq", inv_freq_},
                        {"q", a.q},
                        {"head_dim", c.head_dim},
                        {"n_q_heads", c.q_heads},
                        {"n_kv_heads", c.kv_heads},
                        {"max_seq", options_.max_seq},
                        {"attn_factor", attn_factor_},
                        {"has_bias", std::uint32_t(c.qkv_bias)}};
  for (const auto& [name, buffer] : caches_[layer]) {
    // The append kernels name a raw cache k_cache / v_cache, the quantised parts as attention.
    append[options_.kv == KvFormat::Raw ? name + "_cache" : name] = buffer;
  }
  if (options_.kv != KvFormat::Raw) append["group_size"] = kv_group_;
  return append;
}

// Bias, q/k norm and RoPE of a.qkv, q into a.q, k and v into the layer's cache.
void Decoder::add_append(std::vector<Launch>& into, const Activations& a, std::uint32_t layer,
                         const DeviceBuffer& positions) {
  const ModelConfig& c = weights_.config;
  const LayerWeights& l = weights_.layers[layer];
  DeviceBindings append = append_bindings(a, layer, positions);
  append.insert({{"qkv", a.qkv},
                 {"q_norm", l.q_norm},
                 {"k_norm", l.k_norm},
                 {"eps", c.rms_eps},
                 {"has_qk_norm", std::uint32_t(c.qk_norm)}});
  into.push_back({&runner("qkv_rope_append" + kernel_suffix(options_.kv)), std::move(append)});
}

// Attention of a.q over the layer's cache into a.attn.
void Decoder::add_attend(std::vector<Launch>& into, const Activations& a, std::uint32_t layer,
                         const DeviceBuffer& positions, bool prefill) {
  const ModelConfig& c = weights_.config;
  DeviceBindings attend{{"q", a.q},
                        {"sinks", no_sinks_},
                        {"out", a.attn},
                        {"head_dim", c.head_dim},
                        {"n_q_heads", c.q_heads},
                        {"n_kv_heads", c.kv_heads},
                        {"max_seq", options_.max_seq},
                        {"scale", 1.0f / std::sqrt(float(c.head_dim))},
                        {"window", c.sliding_window},
                        {"softcap", 0.0f},
                        {"has_sinks", 0u}};
  for (const auto& [name, buffer] : caches_[layer]) attend[name] = buffer;
  if (options_.kv != KvFormat::Raw) attend["group_size"] = kv_group_;
  if (prefill) {
    attend["positions"] = positions;
  } else {
    attend["lengths"] = lengths_;
  }
  into.push_back(
      {&runner((prefill ? "attention_prefill" : "attention_decode") + kernel_suffix(options_.kv)),
       std::move(attend)});
}

void Decoder::plan_layers(std::vector<Launch>& into, const Activations& a, const DeviceBuffer& ids,
                          const DeviceBuffer& positions, bool prefill) {
  const ModelConfig& c = weights_.config;
  const ConstMap hidden{{"n", c.hidden}};
  const float eps = c.rms_eps;
  const std::uint32_t rows = a.rows;
  // Token embeddings into residual 0.
  add_embedding(into, ids, a.residual[0]);
  int cur = 0;  // the residual buffer holding the stream
  // residual[other] = x + residual[cur]; normed = norm(residual[other]) * w.
  auto add_norm = [&](const DeviceBuffer& x, const DeviceBuffer& w) {
    into.push_back({&runner("add_rms_norm", hidden),
                    {{"x", x},
                     {"residual", a.residual[cur]},
                     {"w", w},
                     {"h", a.residual[1 - cur]},
                     {"out", a.normed},
                     {"eps", eps},
                     {"weight_offset", 0.0f}}});
    cur = 1 - cur;
  };
  for (std::uint32_t i = 0; i < c.layers; ++i) {
    const LayerWeights& l = weights_.layers[i];
    if (i == 0) {
      into.push_back({&runner("rms_norm", hidden),
                      {{"x", a.residual[0]},
                       {"w", l.attn_norm},
                       {"out", a.normed},
                       {"eps", eps},
                       {"weight_offset", 0.0f}}});
    } else {
      add_norm(a.mlp, l.attn_norm);
    }
    add_linear(into, l.qkv, a.normed, a.qkv, rows);
    add_attention(into, a, i, positions, prefill);
    add_linear(into, l.o, a.attn, a.o, rows);
    add_norm(a.o, l.mlp_norm);
    add_linear(into, l.gate_up, a.normed, a.gate_up, rows);
    into.push_back({&runner("swiglu_gate_up", {{"n", c.intermediate}}),
                    {{"gate_up", a.gate_up}, {"out", a.act}}});
    add_linear(into, l.down, a.act, a.mlp, rows);
  }
  // The final norm (the last launch): residual[other] = mlp + residual[cur]; normed = norm(...).
  add_norm(a.mlp, weights_.final_norm);
}

void Decoder::plan_launches() {
  // Prefill's last chunk copies its final norm's last row into step_.normed for the head.
  std::vector<Launch> head;
  add_linear(head, weights_.head, step_.normed, logits_, 1);
  prefill_head_ = head.back();
  if (options_.fuse_decode) {
    plan_fused_step();
  } else {
    // The final norm belongs to the head: the step without logits stops before it.
    plan_layers(body_, step_, ids_, positions_, false);
    head_.push_back(body_.back());
    body_.pop_back();
    head_.push_back(*prefill_head_);
  }
  advance_.push_back(
      {&runner("step_positions"), {{"positions", positions_}, {"lengths", lengths_}}});
}

// A fused decode kernel on linear l: `kernel` ("rms_norm_gemv", ...) on a dense weight, its
// quantised form ("rms_norm_qgemv", ...) on MLX affine parts, with the shape as constants.
Decoder::Launch Decoder::fused_linear(const std::string& kernel, const Linear& l, std::uint32_t n,
                                      DeviceBindings bindings) {
  ConstMap consts{{"k", l.k}, {"n", n}};
  if (!l.quantised()) {
    bindings["w"] = l.w;
    return {&runner(kernel, consts), std::move(bindings)};
  }
  bindings["wq"] = l.wq;
  bindings["scales"] = l.scales;
  bindings["biases"] = l.biases;
  consts["group_size"] = l.quant->group_size;
  consts["bits"] = l.quant->bits;
  const std::size_t at = kernel.find("gemv");
  return {&runner(kernel.substr(0, at) + "q" + kernel.substr(at), consts), std::move(bindings)};
}

// The token embedding of ids into out.
void Decoder::add_embedding(std::vector<Launch>& into, const DeviceBuffer& ids,
                            const DeviceBuffer& out) {
  const ModelConfig& c = weights_.config;
  if (weights_.embed.quantised()) {
    const Quantization& q = *weights_.embed.quant;
    into.push_back({&runner("embedding_affine",
                            {{"dim", c.hidden}, {"group_size", q.group_size}, {"bits", q.bits}}),
                    {{"ids", ids},
                     {"wq", weights_.embed.wq},
                     {"scales", weights_.embed.scales},
                     {"biases", weights_.embed.biases},
                     {"out", out}}});
  } else {
    into.push_back({&runner("embedding", {{"dim", c.hidden}}),
                    {{"ids", ids}, {"table", weights_.embed.w}, {"out", out}}});
  }
}

// The decode step of plan_layers with the norms, residual adds and SwiGLU inside the GEMVs
// (their q forms on quantised weights):
//   q, cache = rope(W_qkv rms_norm(h))  (rms_norm_gemv_rope; with a quantised cache or q/k
//                                        norm: rms_norm_gemv, then qkv_rope_append)
//   h  += W_o attention(qkv)            (residual_gemv into the other residual buffer)
//   act = swiglu(W_gate_up rms_norm(h)) (rms_norm_gemv_swiglu)
//   h  += W_down act                    (residual_gemv)
// and the head: logits = W_head rms_norm(h) (rms_norm_gemv).
void Decoder::plan_fused_step() {
  const ModelConfig& c = weights_.config;
  const Activations& a = step_;
  const float eps = c.rms_eps;
  int cur = 0;  // the residual buffer holding the stream
  const auto norm_gemv = [&](std::vector<Launch>& into, const std::string& kernel,
                             const DeviceBuffer& norm, const Linear& l, std::uint32_t n,
                             const DeviceBuffer& out) {
    into.push_back(fused_linear(kernel, l, n,
                                {{"h", a.residual[cur]},
                                 {"norm", norm},
                                 {"out", out},
                                 {"eps", eps},
                                 {"weight_offset", 0.0f}}));
  };
  const auto residual_gemv = [&](const Linear& l, const DeviceBuffer& x) {
    body_.push_back(
        fused_linear("residual_gemv", l, l.n,
                     {{"x", x}, {"residual", a.residual[cur]}, {"out", a.residual[1 - cur]}}));
    cur = 1 - cur;
  };
  // RoPE and the append go into the q/k/v projection's store where nothing comes between them
  // (a raw cache, no q/k norm).
  const bool rope_in_projection = options_.kv == KvFormat::Raw && !c.qk_norm;
  add_embedding(body_, ids_, a.residual[0]);
  for (std::uint32_t i = 0; i < c.layers; ++i) {
    const LayerWeights& l = weights_.layers[i];
    if (rope_in_projection) {
      DeviceBindings rope = append_bindings(a, i, positions_);
      rope.insert(
          {{"h", a.residual[cur]}, {"norm", l.attn_norm}, {"eps", eps}, {"weight_offset", 0.0f}});
      body_.push_back(fused_linear("rms_norm_gemv_rope", l.qkv, l.qkv.n, std::move(rope)));
    } else {
      norm_gemv(body_, "rms_norm_gemv", l.attn_norm, l.qkv, l.qkv.n, a.qkv);
      add_append(body_, a, i, positions_);
    }
    add_attend(body_, a, i, positions_, false);
    residual_gemv(l.o, a.attn);
    norm_gemv(body_, "rms_norm_gemv_swiglu", l.mlp_norm, l.gate_up, c.intermediate, a.act);
    residual_gemv(l.down, a.act);
  }
  norm_gemv(head_, "rms_norm_gemv", weights_.final_norm, weights_.head, weights_.head.n, logits_);
}

std::vector<std::string> Decoder::step_kernels() const {
  std::vector<std::string> names;
  for (const std::vector<Launch>* part : {&body_, &head_, &advance_}) {
    for (const Launch& l : *part) names.push_back(l.runner->info().name);
  }
  return names;
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

void Decoder::check_token(std::uint32_t token) const {
  if (token >= weights_.config.vocab) {
    throw Error("decoder: token id " + std::to_string(token) + " is outside the vocabulary (" +
                std::to_string(weights_.config.vocab) + " tokens)");
  }
}

void Decoder::feed(std::uint32_t token, bool logits) {
  check_room();
  check_token(token);
  stream_.synchronize();  // the previous step may still read ids
  ids_.upload(u32_bytes(token));
  run_step(logits);
  ++position_;
  has_logits_ = logits;
}

void Decoder::prefill(std::span<const std::uint32_t> tokens) {
  if (tokens.empty()) return;
  if (tokens.size() > options_.max_seq - position_) {
    throw Error("decoder: " + std::to_string(tokens.size()) + " prompt tokens do not fit the KV " +
                "cache (" + std::to_string(options_.max_seq - position_) + " of " +
                std::to_string(options_.max_seq) + " positions left); raise max_seq");
  }
  for (std::uint32_t token : tokens) check_token(token);
  if (chunk_ == 1 || tokens.size() == 1) {
    for (std::size_t i = 0; i < tokens.size(); ++i) feed(tokens[i], i + 1 == tokens.size());
    return;
  }
  prefill_chunks(tokens);
}

// Every chunk's ids and positions are uploaded first (fresh buffers each, so no launch waits
// for an upload), then all chunks' launches are queued; the last chunk adds the final norm's
// last row and the LM head. Activations are reused across chunks of one size: the stream
// orders the launches.
void Decoder::prefill_chunks(std::span<const std::uint32_t> tokens) {
  struct Chunk {
    std::uint32_t start, rows;
    DeviceBuffer ids, positions;
  };
  std::vector<Chunk> chunks;
  stream_.synchronize();
  const auto enqueue_start = std::chrono::steady_clock::now();
  for (std::uint32_t start = 0; start < tokens.size(); start += chunk_) {
    const std::uint32_t rows =
        std::min<std::uint32_t>(chunk_, std::uint32_t(tokens.size()) - start);
    std::vector<std::uint32_t> positions(rows);
    std::iota(positions.begin(), positions.end(), position_ + start);
    chunks.push_back({start, rows, ctx_.upload(tensor_bytes(tokens.subspan(start, rows))),
                      ctx_.upload(tensor_bytes(std::span<const std::uint32_t>(positions)))});
  }
  const DeviceBuffer last_row = ctx_.upload(u32_bytes(chunks.back().rows - 1));
  // Keep the activations of the full chunk size and of the last, shorter one.
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    const bool needed = std::any_of(chunks.begin(), chunks.end(),
                                    [&](const Chunk& c) { return c.rows == it->first; });
    it = needed || it->first == chunk_ ? std::next(it) : chunks_.erase(it);
  }
  for (const Chunk& chunk : chunks) {
    auto found = chunks_.find(chunk.rows);
    if (found == chunks_.end()) {
      found = chunks_.emplace(chunk.rows, allocate_activations(chunk.rows)).first;
    }
    const Activations& a = found->second;
    std::vector<Launch> launches;
    plan_layers(launches, a, chunk.ids, chunk.positions, true);
    if (&chunk == &chunks.back()) {
      // The prompt's last row of the final norm, as the decode step's normed row, and the head.
      launches.push_back({&runner("embedding", {{"dim", weights_.config.hidden}}),
                          {{"ids", last_row}, {"table", a.normed}, {"out", step_.normed}}});
      launches.push_back(*prefill_head_);
    } else {
      launches.pop_back();  // the final norm: only the last chunk's is used
    }
    for (const Launch& l : launches) l.runner->launch(l.bindings, stream_);
  }
  prefill_enqueue_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - enqueue_start)
          .count();
  // Waits for the chunks (their ids and positions die here) and points the decode step after
  // the prompt.
  set_position(position_ + std::uint32_t(tokens.size()));
  has_logits_ = true;
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
