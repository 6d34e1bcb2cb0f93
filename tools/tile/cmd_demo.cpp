// tile demo [--max-seq N] [--dtype D]: fills a KV cache (8 kv heads x head_dim 128) token by
// token on the default backend with the raw and the four quantised layouts, reads it back
// (bulk dequant for the quantised ones) and prints error, footprint and time per variant.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/error.hpp"
#include "metaltile/kernels/ffai/kv_cache.hpp"
#include "metaltile/runtime/context.hpp"

namespace mt::tile {
namespace {

namespace kv = kernels::ffai::kv_cache;
using Bytes = std::vector<std::uint8_t>;
using Dims = std::array<std::size_t, 3>;

constexpr std::uint32_t kHeads = 8, kHeadDim = 128, kGroupSize = 32;

struct Demo {
  Context ctx;
  DType t;
  std::uint32_t max_seq;
  std::vector<float> tokens;  // [max_seq, kHeads, kHeadDim], already rounded to t

  std::size_t token_elements() const { return std::size_t{kHeads} * kHeadDim; }
  std::size_t cache_elements() const { return token_elements() * max_seq; }
  std::size_t groups() const { return cache_elements() / kGroupSize; }
};

struct Row {
  std::string variant;
  double max_err = 0, mean_err = 0, bytes_per_element = 0, write_us = 0;
  std::optional<double> read_us;  // bulk dequant; none for the raw cache
};

Bytes le(std::uint32_t v) {
  return {std::uint8_t(v), std::uint8_t(v >> 8), std::uint8_t(v >> 16), std::uint8_t(v >> 24)};
}

std::uint32_t bits_of_t(float v, DType t) {
  switch (t) {
    case DType::F16: return f32_to_f16_bits(v);
    case DType::BF16: return f32_to_bf16_bits(v);
    default: {
      std::uint32_t u = 0;
      static_assert(sizeof u == sizeof v);
      std::memcpy(&u, &v, sizeof u);
      return u;
    }
  }
}

float value_of_t(const std::uint8_t* p, DType t) {
  std::uint32_t u = 0;
  for (std::size_t b = 0; b < size_of(t); ++b) u |= std::uint32_t(p[b]) << (8 * b);
  if (t == DType::F16) return f16_bits_to_f32(std::uint16_t(u));
  if (t == DType::BF16) return bf16_bits_to_f32(std::uint16_t(u));
  float v = 0;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

Bytes pack(const float* values, std::size_t n, DType t) {
  const std::size_t size = size_of(t);
  Bytes out(n * size);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t u = bits_of_t(values[i], t);
    for (std::size_t b = 0; b < size; ++b) out[i * size + b] = std::uint8_t(u >> (8 * b));
  }
  return out;
}

// Launch shape for `work` threads in groups of up to 256, the grid rounded up (the kernels
// ignore threads past their work).
std::pair<Dims, Dims> grid_for(std::size_t work) {
  const std::size_t tpg = work < 256 ? work : 256;
  return {{(work + tpg - 1) / tpg, 1, 1}, {tpg, 1, 1}};
}

DispatchResult run(const Demo& d, const Kernel& k, const BufferMap& b, std::size_t work) {
  const auto [grid, tpg] = grid_for(work);
  return d.ctx.dispatch_with_grid(k, b, {}, grid, tpg);
}

// Compares a raw-layout cache [kHeads, max_seq, kHeadDim] with the tokens it was built from.
void measure(const Demo& d, const Bytes& cache, Row& row) {
  double sum = 0;
  for (std::size_t p = 0; p < d.max_seq; ++p) {
    for (std::size_t h = 0; h < kHeads; ++h) {
      for (std::size_t i = 0; i < kHeadDim; ++i) {
        const float want = d.tokens[(p * kHeads + h) * kHeadDim + i];
        const std::size_t at = ((h * d.max_seq + p) * kHeadDim + i) * size_of(d.t);
        const double err = std::fabs(double(value_of_t(cache.data() + at, d.t)) - want);
        // NaN must not hide behind max(): report it as an infinite error.
        row.max_err = std::isnan(err) ? INFINITY : std::max(row.max_err, err);
        sum += err;
      }
    }
  }
  row.mean_err = sum / double(d.cache_elements());
}

Row raw_update(const Demo& d) {
  Row row;
  row.variant = "raw update";
  const Kernel k = kv::kv_cache_update::kernel_ir_for(d.t);
  BufferMap b;
  b["out"] = Bytes(d.cache_elements() * size_of(d.t), 0xFF);  // NaN in every float type
  b["head_dim"] = le(kHeadDim);
  b["max_seq"] = le(d.max_seq);
  for (std::uint32_t p = 0; p < d.max_seq; ++p) {
    b["src"] = pack(&d.tokens[p * d.token_elements()], d.token_elements(), d.t);
    b["position"] = le(p);
    DispatchResult r = run(d, k, b, d.token_elements());
    row.write_us += r.elapsed_us;
    b["out"] = std::move(r.outputs.at("out"));
  }
  row.bytes_per_element = double(size_of(d.t));
  measure(d, b["out"], row);
  return row;
}

Row raw_update_many(const Demo& d) {
  Row row;
  row.variant = "raw update_many";
  Bytes pos_bytes;
  for (std::uint32_t p = 0; p < d.max_seq; ++p) {
    const Bytes w = le(p);
    pos_bytes.insert(pos_bytes.end(), w.begin(), w.end());
  }
  BufferMap b;
  b["src"] = pack(d.tokens.data(), d.tokens.size(), d.t);
  b["positions"] = std::move(pos_bytes);
  b["out"] = Bytes(d.cache_elements() * size_of(d.t), 0xFF);
  b["head_dim"] = le(kHeadDim);
  b["max_seq"] = le(d.max_seq);
  b["n_kv_heads_x_head_dim"] = le(std::uint32_t(d.token_elements()));
  DispatchResult r = run(d, kv::kv_cache_update_many::kernel_ir_for(d.t), b, d.cache_elements());
  row.write_us = r.elapsed_us;
  row.bytes_per_element = double(size_of(d.t));
  measure(d, r.outputs.at("out"), row);
  return row;
}

// One quantise dispatch per position into a growing cache, then one bulk dequant of it all.
template <class Quantize, class Dequant>
Row quantised(const Demo& d, const std::string& variant, std::uint32_t bits, bool has_bias) {
  Row row;
  row.variant = variant;
  const std::size_t words = d.cache_elements() / (32 / bits), params = d.groups();
  BufferMap q;
  q["out_w"] = Bytes(words * 4, 0);
  q["out_s"] = Bytes(params * size_of(d.t), 0);
  if (has_bias) q["out_b"] = Bytes(params * size_of(d.t), 0);
  q["head_dim"] = le(kHeadDim);
  q["max_seq"] = le(d.max_seq);
  q["group_size"] = le(kGroupSize);
  const Kernel qk = Quantize::kernel_ir_for(d.t);
  for (std::uint32_t p = 0; p < d.max_seq; ++p) {
    q["src"] = pack(&d.tokens[p * d.token_elements()], d.token_elements(), d.t);
    q["position"] = le(p);
    DispatchResult r = run(d, qk, q, d.token_elements() / kGroupSize);
    row.write_us += r.elapsed_us;
    for (auto& [name, bytes] : r.outputs) q[name] = std::move(bytes);
  }

  BufferMap dq;
  dq["in_w"] = std::move(q["out_w"]);
  dq["in_s"] = std::move(q["out_s"]);
  if (has_bias) dq["in_b"] = std::move(q["out_b"]);
  dq["out"] = Bytes(d.cache_elements() * size_of(d.t), 0xFF);
  dq["head_dim"] = le(kHeadDim);
  dq["max_seq"] = le(d.max_seq);
  dq["group_size"] = le(kGroupSize);
  dq["n_positions"] = le(d.max_seq);
  row.bytes_per_element =
      double(dq["in_w"].size() + dq["in_s"].size() + (has_bias ? dq["in_b"].size() : 0)) /
      double(d.cache_elements());
  DispatchResult r = run(d, Dequant::kernel_ir_for(d.t), dq, d.cache_elements());
  row.read_us = r.elapsed_us;
  measure(d, r.outputs.at("out"), row);
  return row;
}

// Deterministic activations in about [-2, 2]: xorshift noise plus a per-group offset.
std::vector<float> make_tokens(std::uint32_t max_seq, DType t) {
  std::vector<float> v(std::size_t{max_seq} * kHeads * kHeadDim);
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  for (std::size_t i = 0; i < v.size(); ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const float noise = float(s >> 40) / 16777216.0f * 2.0f - 1.0f;
    v[i] = round_to(t, noise + std::sin(float(i / kGroupSize) * 0.7f));
  }
  return v;
}

std::uint32_t parse_max_seq(const std::string& text) {
  std::size_t used = 0;
  unsigned long n = 0;
  try {
    n = std::stoul(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || text[0] == '-' || n == 0 || n > 65536) {
    throw Error("--max-seq expects an integer in [1, 65536], got '" + text + "'");
  }
  return static_cast<std::uint32_t>(n);
}

std::string number(double v, int precision, bool fixed = true) {
  std::ostringstream s;
  if (fixed) s << std::fixed;
  s << std::setprecision(precision) << v;
  return s.str();
}

int run_demo(const ParsedArgs& args) {
  const std::uint32_t max_seq = parse_max_seq(args.value_or("--max-seq", "256"));
  const std::string dtype_name = args.value_or("--dtype", "f16");
  const std::optional<DType> t = parse_dtype(dtype_name);
  if (!t || (*t != DType::F32 && *t != DType::F16 && *t != DType::BF16)) {
    throw Error("--dtype must be f32, f16 or bf16, got '" + dtype_name + "'");
  }

  const Demo d{Context::create(), *t, max_seq, make_tokens(max_seq, *t)};
  std::cout << "tile demo: backend " << d.ctx.description() << ", dtype " << name_of(d.t) << "\n"
            << "KV cache of " << kHeads << " kv heads x " << max_seq << " positions x head_dim "
            << kHeadDim << " (" << d.cache_elements() << " elements), group_size " << kGroupSize
            << "; one write dispatch per position (update_many: one for all), summed launch "
               "times\n\n";

  const std::vector<Row> rows = {
      raw_update(d),
      raw_update_many(d),
      quantised<kv::quantize_kv_int4, kv::bulk_dequant_kv_int4>(d, "int4", 4, true),
      quantised<kv::quantize_kv_int8, kv::bulk_dequant_kv_int8>(d, "int8", 8, true),
      quantised<kv::quantize_kv_fp8_e4m3, kv::bulk_dequant_kv_fp8_e4m3>(d, "fp8_e4m3", 8, false),
      quantised<kv::quantize_kv_fp8_e5m2, kv::bulk_dequant_kv_fp8_e5m2>(d, "fp8_e5m2", 8, false),
  };

  const int w[] = {16, 12, 13, 11, 14, 12};
  std::cout << std::left << std::setw(w[0]) << "variant" << std::right << std::setw(w[1])
            << "max abs err" << std::setw(w[2]) << "mean abs err" << std::setw(w[3]) << "bytes/elem"
            << std::setw(w[4]) << "quantise us" << std::setw(w[5]) << "dequant us"
            << "\n";
  for (const Row& r : rows) {
    std::cout << std::left << std::setw(w[0]) << r.variant << std::right << std::setw(w[1])
              << number(r.max_err, 6) << std::setw(w[2]) << number(r.mean_err, 6) << std::setw(w[3])
              << number(r.bytes_per_element, 3) << std::setw(w[4]) << number(r.write_us, 1)
              << std::setw(w[5]) << (r.read_us ? number(*r.read_us, 1) : std::string("-")) << "\n";
  }
  return 0;
}

}  // namespace

const Verb& demo_verb() {
  static const Verb verb{
      {"demo",
       "fill a KV cache token by token with every layout, read it back, print error and time",
       {},
       {{"--max-seq", "N", "cache positions, 1 to 65536 (default 256)"},
        {"--dtype", "D", "activation type: f32, f16 or bf16 (default f16)"}}},
      run_demo};
  return verb;
}

}  // namespace mt::tile
