// Loading a checkpoint into device weights (include/metaltile/engine/weights.hpp). Tensors in
// the activation type are uploaded straight from the mapped file; others are converted on the
// host first. Stacked matrices (q/k/v, gate/up) are uploaded part by part at their offsets.
#include "metaltile/engine/weights.hpp"

#include <string>

#include "metaltile/core/error.hpp"
#include "metaltile/kernels/run.hpp"
#include "metaltile/runtime/bytes.hpp"

namespace mt::engine {
namespace {

bool is_activation_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

class Loader {
 public:
  Loader(const Context& ctx, const ModelConfig& config, const Checkpoint& ckpt, DType t,
         const LoadOptions& options)
      : ctx_(ctx), config_(config), ckpt_(ckpt), t_(t), options_(options) {}

  // A vector (norm weight, bias) of `n` elements, in T.
  DeviceBuffer vector(const std::string& name, std::size_t n) {
    const TensorView& v = ckpt_.at(name, {n});
    DeviceBuffer out = ctx_.allocate(n * size_of(t_));
    put(out, 0, v);
    return out;
  }

  // Several linear layers stacked row-wise into one (q, k and v; gate and up). Either all of
  // them are MLX-quantised (a `.scales` tensor beside the weight) or none is.
  Linear stacked(const std::vector<std::string>& stems, const std::vector<std::uint32_t>& rows,
                 std::uint32_t k) {
    Linear l;
    l.k = k;
    for (std::uint32_t r : rows) l.n += r;
    const bool affine = ckpt_.find(stems[0] + ".scales") != nullptr;
    if (affine) {
      const Quantization q = quantization_of(stems[0]);
      l.quant = q;
      l.wq = ctx_.allocate(std::size_t(l.n) * k * q.bits / 32 * 4);
      l.scales = ctx_.allocate(std::size_t(l.n) * (k / q.group_size) * size_of(t_));
      l.biases = ctx_.allocate(l.scales.size());
      std::size_t row = 0;
      for (std::size_t i = 0; i < stems.size(); ++i) {
        const std::size_t words = k * q.bits / 32, groups = k / q.group_size;
        const TensorView& wq = ckpt_.at(stems[i] + ".weight", {rows[i], words});
        if (wq.dtype != DType::U32) fail_dtype(wq, "u32 codes");
        l.wq.upload(wq.bytes, row * words * 4);
        put(l.scales, row * groups * size_of(t_),
            ckpt_.at(stems[i] + ".scales", {rows[i], groups}));
        put(l.biases, row * groups * size_of(t_),
            ckpt_.at(stems[i] + ".biases", {rows[i], groups}));
        row += rows[i];
      }
      return l;
    }
    l.w = ctx_.allocate(std::size_t(l.n) * k * size_of(t_));
    std::size_t row = 0;
    for (std::size_t i = 0; i < stems.size(); ++i) {
      put(l.w, row * k * size_of(t_), ckpt_.at(stems[i] + ".weight", {rows[i], k}));
      row += rows[i];
    }
    if (options_.quantise) quantise(l, *options_.quantise);
    return l;
  }

  Linear linear(const std::string& stem, std::uint32_t n, std::uint32_t k) {
    return stacked({stem}, {n}, k);
  }

  // Dense -> MLX affine on the device with the library's quantize_affine.
  void quantise(Linear& l, const Quantization& q) {
    if (l.k % q.group_size != 0) {
      throw Error("quantise on load: a linear layer's input size " + std::to_string(l.k) +
                  " is not a multiple of the group size " + std::to_string(q.group_size));
    }
    l.wq = ctx_.allocate(std::size_t(l.n) * l.k * q.bits / 32 * 4);
    l.scales = ctx_.allocate(std::size_t(l.n) * (l.k / q.group_size) * size_of(t_));
    l.biases = ctx_.allocate(l.scales.size());
    const Stream stream = ctx_.create_stream();
    kernels::run(ctx_, "quantize_affine", t_,
                 {{"w", l.w},
                  {"wq", l.wq},
                  {"scales", l.scales},
                  {"biases", l.biases},
                  {"k", l.k},
                  {"group_size", q.group_size},
                  {"bits", q.bits}},
                 stream);
    stream.synchronize();
    l.w = DeviceBuffer();
    l.quant = q;
  }

 private:
  Quantization quantization_of(const std::string& stem) const {
    if (!config_.quantization) {
      throw Error("model directory '" + ckpt_.dir() + "': tensor '" + stem +
                  ".scales' suggests an MLX-quantised checkpoint, but config.json has no "
                  "'quantization' entry");
    }
    return *config_.quantization;
  }

  [[noreturn]] void fail_dtype(const TensorView& v, const std::string& expected) const {
    throw Error("model directory '" + ckpt_.dir() + "': tensor '" + v.name + "' has dtype " +
                std::string(name_of(v.dtype)) + ", expected " + expected);
  }

  // Uploads a float tensor into `dst` at `offset`, converted to T.
  void put(const DeviceBuffer& dst, std::size_t offset, const TensorView& v) {
    if (!is_activation_type(v.dtype)) fail_dtype(v, "f32, f16 or bf16");
    if (v.dtype == t_) {
      dst.upload(v.bytes, offset);
      return;
    }
    const std::vector<float> values = tensor_values(v.bytes, v.dtype);
    dst.upload(tensor_bytes(values, t_), offset);
  }

  const Context& ctx_;
  const ModelConfig& config_;
  const Checkpoint& ckpt_;
  DType t_;
  const LoadOptions& options_;
};

DType default_dtype(const Checkpoint& ckpt) {
  const TensorView* norm = ckpt.find("model.norm.weight");
  if (norm != nullptr && is_activation_type(norm->dtype)) return norm->dtype;
  return DType::BF16;
}

}  // namespace

ModelWeights load_weights(const Context& ctx, const ModelConfig& c, const Checkpoint& ckpt,
                          const LoadOptions& options) {
  ModelWeights m;
  m.config = c;
  m.dtype = options.dtype.value_or(default_dtype(ckpt));
  if (!is_activation_type(m.dtype)) {
    throw Error("load_weights: the activation type must be f32, f16 or bf16, not " +
                std::string(name_of(m.dtype)));
  }
  Loader load(ctx, c, ckpt, m.dtype, options);
  const std::uint32_t d = c.head_dim, q_rows = c.q_heads * d, kv_rows = c.kv_heads * d;
  // The embedding is a table, not a layer: quantise-on-load leaves it dense unless the
  // checkpoint itself is quantised.
  LoadOptions dense = options;
  dense.quantise.reset();
  Loader load_table(ctx, c, ckpt, m.dtype, dense);
  m.embed = load_table.linear("model.embed_tokens", c.vocab, c.hidden);
  if (c.tied_embeddings) {
    m.head = m.embed;
    if (options.quantise && !m.head.quantised()) load.quantise(m.head, *options.quantise);
  } else {
    m.head = load.linear("lm_head", c.vocab, c.hidden);
  }
  m.final_norm = load.vector("model.norm.weight", c.hidden);
  for (std::uint32_t i = 0; i < c.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l;
    l.attn_norm = load.vector(p + "input_layernorm.weight", c.hidden);
    l.mlp_norm = load.vector(p + "post_attention_layernorm.weight", c.hidden);
    l.qkv = load.stacked({p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
                         {q_rows, kv_rows, kv_rows}, c.hidden);
    l.o = load.linear(p + "self_attn.o_proj", c.hidden, q_rows);
    l.gate_up = load.stacked({p + "mlp.gate_proj", p + "mlp.up_proj"},
                             {c.intermediate, c.intermediate}, c.hidden);
    l.down = load.linear(p + "mlp.down_proj", c.hidden, c.intermediate);
    if (c.qkv_bias) {
      l.qkv_bias = ctx.allocate(std::size_t(q_rows + 2 * kv_rows) * size_of(m.dtype));
      const DeviceBuffer q = load.vector(p + "self_attn.q_proj.bias", q_rows);
      const DeviceBuffer k = load.vector(p + "self_attn.k_proj.bias", kv_rows);
      const DeviceBuffer v = load.vector(p + "self_attn.v_proj.bias", kv_rows);
      std::size_t at = 0;
      for (const DeviceBuffer* part : {&q, &k, &v}) {
        l.qkv_bias.upload(part->download(), at);
        at += part->size();
      }
    } else {
      l.qkv_bias = ctx.allocate(0);
    }
    if (c.qk_norm) {
      l.q_norm = load.vector(p + "self_attn.q_norm.weight", d);
      l.k_norm = load.vector(p + "self_attn.k_norm.weight", d);
    } else {
      l.q_norm = ctx.allocate(0);
      l.k_norm = ctx.allocate(0);
    }
    m.layers.push_back(std::move(l));
  }
  return m;
}

ModelWeights load_weights(const Context& ctx, const std::string& dir, const LoadOptions& options) {
  const ModelConfig config = read_config(dir);
  const Checkpoint ckpt = Checkpoint::open(dir);
  return load_weights(ctx, config, ckpt, options);
}

}  // namespace mt::engine
