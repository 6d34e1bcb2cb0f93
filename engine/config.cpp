// config.json parsing (include/metaltile/engine/config.hpp). Field names follow transformers;
// rope parameters are read from `rope_parameters` (transformers 5) or from `rope_theta` and
// `rope_scaling` (older files).
#include "metaltile/engine/config.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "metaltile/core/error.hpp"
#include "metaltile/engine/json.hpp"

namespace mt::engine {
namespace {

namespace rope = kernels::ffai::rope;

class Fields {
 public:
  Fields(const json::Value& root, std::string_view source) : root_(root), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("model config '" + std::string(source_) + "': " + what);
  }
  const json::Value* find(std::string_view key) const {
    const json::Value* v = root_.find(key);
    return v == nullptr || v->is_null() ? nullptr : v;
  }
  std::uint32_t count(std::string_view key) const {
    const json::Value* v = find(key);
    if (v == nullptr) fail("missing field '" + std::string(key) + "'");
    return positive(*v, key);
  }
  std::uint32_t count_or(std::string_view key, std::uint32_t fallback) const {
    const json::Value* v = find(key);
    return v == nullptr ? fallback : positive(*v, key);
  }
  double number_or(std::string_view key, double fallback) const {
    const json::Value* v = find(key);
    return v == nullptr ? fallback : v->number(key);
  }
  bool flag_or(std::string_view key, bool fallback) const {
    const json::Value* v = find(key);
    return v == nullptr ? fallback : v->boolean(key);
  }
  std::uint32_t positive(const json::Value& v, std::string_view key) const {
    const double d = v.number(key);
    if (!(d >= 1) || d != std::floor(d) || d > 4294967295.0) {
      fail("field '" + std::string(key) + "' must be a positive whole number");
    }
    return static_cast<std::uint32_t>(d);
  }

 private:
  const json::Value& root_;
  std::string_view source_;
};

Architecture architecture(const Fields& f) {
  const json::Value* list = f.find("architectures");
  if (list == nullptr || list->array("architectures").empty()) {
    f.fail("no 'architectures' entry");
  }
  const std::string& name = list->array("architectures")[0].string("architectures[0]");
  for (Architecture a :
       {Architecture::Llama, Architecture::Qwen2, Architecture::Qwen3, Architecture::Mistral}) {
    if (name == name_of(a)) return a;
  }
  f.fail("architecture '" + name +
         "' is not supported (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
         "MistralForCausalLM are)");
}

rope::RopeScaling rope_scaling(const Fields& f) {
  rope::RopeScaling r;
  r.theta = f.number_or("rope_theta", 10000.0);
  const json::Value* params = f.find("rope_parameters");
  if (params == nullptr) params = f.find("rope_scaling");
  if (params == nullptr) return r;
  const Fields p(*params, "rope parameters");
  r.theta = p.number_or("rope_theta", r.theta);
  const json::Value* type = p.find("rope_type");
  if (type == nullptr) type = p.find("type");
  const std::string type_name = type == nullptr ? "default" : type->string("rope_type");
  const std::optional<rope::RopeType> parsed = rope::parse_rope_type(type_name);
  if (!parsed) f.fail("rope type '" + type_name + "' is not supported");
  r.type = *parsed;
  r.factor = p.number_or("factor", r.factor);
  r.low_freq_factor = p.number_or("low_freq_factor", r.low_freq_factor);
  r.high_freq_factor = p.number_or("high_freq_factor", r.high_freq_factor);
  r.original_max_position_embeddings =
      p.number_or("original_max_position_embeddings", r.original_max_position_embeddings);
  r.beta_fast = p.number_or("beta_fast", r.beta_fast);
  r.beta_slow = p.number_or("beta_slow", r.beta_slow);
  if (const json::Value* a = p.find("attention_factor")) r.attention_factor = a->number();
  r.mscale = p.number_or("mscale", 0.0);
  r.mscale_all_dim = p.number_or("mscale_all_dim", 0.0);
  r.truncate = p.flag_or("truncate", true);
  return r;
}

}  // namespace

std::string_view name_of(Architecture a) {
  switch (a) {
    case Architecture::Llama: return "LlamaForCausalLM";
    case Architecture::Qwen2: return "Qwen2ForCausalLM";
    case Architecture::Qwen3: return "Qwen3ForCausalLM";
    case Architecture::Mistral: return "MistralForCausalLM";
  }
  return "?";
}

ModelConfig parse_config(std::string_view text, std::string_view source) {
  const json::Value root = json::parse(text, source);
  const Fields f(root, source);
  ModelConfig c;
  c.arch = architecture(f);
  c.hidden = f.count("hidden_size");
  c.intermediate = f.count("intermediate_size");
  c.layers = f.count("num_hidden_layers");
  c.q_heads = f.count("num_attention_heads");
  c.kv_heads = f.count_or("num_key_value_heads", c.q_heads);
  c.head_dim = f.count_or("head_dim", c.hidden / c.q_heads);
  c.vocab = f.count("vocab_size");
  c.max_positions = f.count_or("max_position_embeddings", 4096);
  c.rms_eps = static_cast<float>(f.number_or("rms_norm_eps", 1e-6));
  c.tied_embeddings = f.flag_or("tie_word_embeddings", false);
  c.qkv_bias = c.arch == Architecture::Qwen2 || f.flag_or("attention_bias", false);
  c.qk_norm = c.arch == Architecture::Qwen3;
  if (c.q_heads % c.kv_heads != 0) {
    f.fail("num_attention_heads (" + std::to_string(c.q_heads) +
           ") is not a multiple of num_key_value_heads (" + std::to_string(c.kv_heads) + ")");
  }
  if (c.arch == Architecture::Mistral) {
    c.sliding_window = f.count_or("sliding_window", 0);
  } else if (f.flag_or("use_sliding_window", false)) {
    f.fail("use_sliding_window is not supported");
  }
  c.rope = rope_scaling(f);
  if (const json::Value* bos = f.find("bos_token_id")) c.bos_token = f.positive(*bos, "bos");
  if (const json::Value* eos = f.find("eos_token_id")) {
    if (eos->is_array()) {
      for (const json::Value& id : eos->array()) {
        c.eos_tokens.push_back(static_cast<std::uint32_t>(id.number("eos_token_id")));
      }
    } else {
      c.eos_tokens.push_back(static_cast<std::uint32_t>(eos->number("eos_token_id")));
    }
  }
  if (const json::Value* q = f.find("quantization")) {
    const Fields qf(*q, "quantization");
    c.quantization = Quantization{qf.count("group_size"), qf.count("bits")};
    if (qf.find("mode") != nullptr && qf.find("mode")->string("mode") != "affine") {
      f.fail("quantization mode '" + qf.find("mode")->string() + "' is not supported (affine is)");
    }
  }
  return c;
}

ModelConfig read_config(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("model directory '" + dir + "': cannot read config.json");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

double ModelConfig::decode_weight_bytes(double weight_bytes, double scale_bytes) const {
  const double qkv = double(q_heads + 2 * kv_heads) * head_dim * hidden;
  const double o = double(q_heads) * head_dim * hidden;
  const double mlp = 3.0 * intermediate * hidden;
  const double head = double(vocab) * hidden;
  const double linear = layers * (qkv + o + mlp) + head;
  double per_weight = weight_bytes;
  if (quantization) {
    per_weight = quantization->bits / 8.0 + 2.0 * scale_bytes / quantization->group_size;
  }
  const double norms = (2.0 * layers + 1) * hidden * scale_bytes;
  return linear * per_weight + norms + hidden * per_weight;
}

}  // namespace mt::engine
