// Random models of real shapes (`tile generate --random NAME`): the configs of a few public
// models and weights filled on the device by the `fill_uniform` kernel.
#include <cmath>
#include <map>

#include "metaltile/core/error.hpp"
#include "metaltile/engine/weights.hpp"
#include "metaltile/kernels/run.hpp"

namespace mt::engine {
namespace {

namespace rope = kernels::ffai::rope;

ModelConfig llama3(std::uint32_t hidden, std::uint32_t intermediate, std::uint32_t layers,
                   std::uint32_t head_dim, bool tied, double factor) {
  ModelConfig c;
  c.arch = Architecture::Llama;
  c.hidden = hidden;
  c.intermediate = intermediate;
  c.layers = layers;
  c.q_heads = 32;
  c.kv_heads = 8;
  c.head_dim = head_dim;
  c.vocab = 128256;
  c.rms_eps = 1e-5f;
  c.tied_embeddings = tied;
  c.max_positions = 131072;
  c.rope.type = rope::RopeType::Llama3;
  c.rope.theta = 500000.0;
  c.rope.factor = factor;
  c.rope.low_freq_factor = 1.0;
  c.rope.high_freq_factor = 4.0;
  c.rope.original_max_position_embeddings = 8192.0;
  c.bos_token = 128000;
  c.eos_tokens = {128001, 128008, 128009};
  return c;
}

class RandomFill {
 public:
  RandomFill(const Context& ctx, DType t, std::uint32_t seed)
      : ctx_(ctx), t_(t), seed_(seed), stream_(ctx.create_stream()) {}

  DeviceBuffer values(std::size_t n, float scale, float offset) {
    DeviceBuffer out = ctx_.allocate(n * size_of(t_));
    kernels::run(ctx_, "fill_uniform", t_,
                 {{"out", out},
                  {"n", static_cast<std::uint32_t>(n)},
                  {"seed", seed_++},
                  {"scale", scale},
                  {"offset", offset}},
                 stream_);
    return out;
  }
  // Uniform with the variance of N(0, 1 / k): scale sqrt(3 / k).
  Linear linear(std::uint32_t n, std::uint32_t k) {
    Linear l;
    l.n = n;
    l.k = k;
    l.w = values(std::size_t(n) * k, std::sqrt(3.0f / float(k)), 0.0f);
    return l;
  }
  void quantise(Linear& l, const Quantization& q) {
    l.wq = ctx_.allocate(std::size_t(l.n) * l.k * q.bits / 32 * 4);
    l.scales = ctx_.allocate(std::size_t(l.n) * (l.k / q.group_size) * size_of(t_));
    l.biases = ctx_.allocate(l.scales.size());
    kernels::run(ctx_, "quantize_affine", t_,
                 {{"w", l.w},
                  {"wq", l.wq},
                  {"scales", l.scales},
                  {"biases", l.biases},
                  {"k", l.k},
                  {"group_size", q.group_size},
                  {"bits", q.bits}},
                 stream_);
    stream_.synchronize();  // the dense weight goes next
    l.w = DeviceBuffer();
    l.quant = q;
  }
  void finish() { stream_.synchronize(); }

 private:
  const Context& ctx_;
  DType t_;
  std::uint32_t seed_;
  Stream stream_;
};

}  // namespace

ModelConfig named_config(const std::string& name) {
  if (name == "llama-3.2-1b") return llama3(2048, 8192, 16, 64, true, 32.0);
  if (name == "llama-3.1-8b") return llama3(4096, 14336, 32, 128, false, 8.0);
  if (name == "qwen3-0.6b") {
    ModelConfig c;
    c.arch = Architecture::Qwen3;
    c.hidden = 1024;
    c.intermediate = 3072;
    c.layers = 28;
    c.q_heads = 16;
    c.kv_heads = 8;
    c.head_dim = 128;
    c.vocab = 151936;
    c.rms_eps = 1e-6f;
    c.tied_embeddings = true;
    c.qk_norm = true;
    c.max_positions = 40960;
    c.rope.theta = 1000000.0;
    c.eos_tokens = {151645};
    return c;
  }
  if (name == "tiny") {
    ModelConfig c;
    c.hidden = 64;
    c.intermediate = 96;
    c.layers = 2;
    c.q_heads = 4;
    c.kv_heads = 2;
    c.head_dim = 16;
    c.vocab = 128;
    c.max_positions = 256;
    c.rms_eps = 1e-5f;
    return c;
  }
  throw Error("--random: no model shape named '" + name +
              "' (llama-3.2-1b, llama-3.1-8b, qwen3-0.6b and tiny are known)");
}

ModelWeights random_weights(const Context& ctx, const ModelConfig& c, DType dtype,
                            const std::optional<Quantization>& quantise, std::uint32_t seed) {
  ModelWeights m;
  m.config = c;
  m.dtype = dtype;
  RandomFill fill(ctx, dtype, seed);
  auto linear = [&](std::uint32_t n, std::uint32_t k) {
    Linear l = fill.linear(n, k);
    if (quantise) fill.quantise(l, *quantise);
    return l;
  };
  // Embedding rows of unit RMS, so the first norm sees typical values.
  m.embed.n = c.vocab;
  m.embed.k = c.hidden;
  m.embed.w = fill.values(std::size_t(c.vocab) * c.hidden, std::sqrt(3.0f), 0.0f);
  m.head = c.tied_embeddings ? m.embed : fill.linear(c.vocab, c.hidden);
  if (quantise) fill.quantise(m.head, *quantise);
  m.final_norm = fill.values(c.hidden, 0.0f, 1.0f);
  const std::uint32_t d = c.head_dim;
  for (std::uint32_t i = 0; i < c.layers; ++i) {
    LayerWeights l;
    l.attn_norm = fill.values(c.hidden, 0.0f, 1.0f);
    l.mlp_norm = fill.values(c.hidden, 0.0f, 1.0f);
    l.qkv = linear((c.q_heads + 2 * c.kv_heads) * d, c.hidden);
    l.o = linear(c.hidden, c.q_heads * d);
    l.gate_up = linear(2 * c.intermediate, c.hidden);
    l.down = linear(c.hidden, c.intermediate);
    l.qkv_bias =
        c.qkv_bias ? fill.values((c.q_heads + 2 * c.kv_heads) * d, 0.1f, 0.0f) : ctx.allocate(0);
    l.q_norm = c.qk_norm ? fill.values(d, 0.0f, 1.0f) : ctx.allocate(0);
    l.k_norm = c.qk_norm ? fill.values(d, 0.0f, 1.0f) : ctx.allocate(0);
    m.layers.push_back(std::move(l));
  }
  fill.finish();
  return m;
}

}  // namespace mt::engine
