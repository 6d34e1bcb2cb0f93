// Affine quantisation in MLX's format: quantize_affine, dequantize_affine, embedding_affine.
//
// quantize_affine follows MLX's own algorithm step by step in f32, so its codes, scales and
// biases are MLX's bit for bit: per group, mn and mx; scale = max((mx - mn) / (2^bits - 1),
// 1e-7), negated unless |mn| > |mx|; edge = the larger-magnitude end; q0 = rint(edge / scale);
// when q0 != 0 the scale becomes edge / q0 and the bias edge (so edge is represented exactly),
// else the bias is 0; q = clamp(rint((w - bias) / scale), 0, 2^bits - 1). rint rounds half to
// even. dequantize_affine rounds twice as MLX's does: T(T(q) * scale) + bias, in T.
//
// Work: one thread per group (quantize), one thread per 32-code unit (dequantize, embedding),
// each unit `bits` whole u32 words read or written with 8- or 16-byte accesses where aligned.
//
// Contracts: a 1-D launch, and every buffer's length against the scalars and the others (the
// weight or table holds whole rows; codes, scales and biases exactly what it implies). Contract
// products cannot wrap, so once they hold every index below (a unit's first word unit*bits, a
// table row's first unit id*dim/32 with id < vocab) is below the length of the buffer it
// indexes and no u32 arithmetic wraps.
#include "metaltile/kernels/mlx/quantized.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "affine_entry.hpp"
#include "affine_format.hpp"
#include "gemv_layout.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"

namespace mt::kernels::mlx::quantized {
namespace {

using namespace affine;

constexpr DType F32 = DType::F32;
constexpr DType U32 = DType::U32;
constexpr float kInf = std::numeric_limits<float>::infinity();

// std::rint in the default rounding mode (half to even): below 2^23 in magnitude, adding and
// subtracting 2^23 rounds to an integer with IEEE's ties-to-even; larger floats are integers.
Val round_half_even(const Val& v) {
  const Val a = abs(v);
  const Val r = (a + kMagic) - kMagic;
  return select(a < kMagic, select(v < 0.0f, -r, r), v);
}

// Writes the 32 values of a unit (T, in registers) to out[first ..] in 16-byte stores.
void store_unit_values(const Tensor& out, const Val& first, const std::vector<Val>& values) {
  KernelBuilder& b = out.builder();
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(out.dtype()));
  for (std::uint32_t i = 0; i < kUnitCodes; i += lanes) {
    const ArrayRef v =
        b.thread_array("values_" + std::to_string(b.kernel().arrays.size()), out.dtype(), lanes);
    for (std::uint32_t j = 0; j < lanes; ++j) v[j] = values[i + j];
    store_vector(out, i == 0 ? first : first + i, v, lanes);
  }
}

// out[out_first .. + 32) = unit `unit` of the flat code stream, dequantised as MLX does:
// T(q) * scale rounded to T, plus bias rounded to T.
void dequantize_unit(const Tensor& wq, const Tensor& scales, const Tensor& biases,
                     const Tensor& out, const Val& unit, const Val& out_first, const Val& bits,
                     const Val& group_size) {
  const Val group = unit >> units_per_group_shift(group_size);
  const Val scale = scales[group], bias = biases[group];
  for_each_bits(bits, [&](std::uint32_t width) {
    const std::vector<Val> words = load_unit_words(wq, unit * width, width);
    store_unit_values(out, out_first, dequantize_unit_values(words, width, scale, bias));
  });
}

void build_quantize(KernelBuilder& b, DType T) {
  Tensor w = b.input("w", T);
  Tensor wq = b.output("wq", U32), scales = b.output("scales", T), biases = b.output("biases", T);
  Val k = b.scalar_u32("k"), group_size = b.scalar_u32("group_size"), bits = b.scalar_u32("bits");
  require_1d_launch(b);
  require_affine_format(b, bits, group_size);
  b.require(k > 0u && k % group_size == 0u, "k > 0 and k % group_size == 0");
  b.require_len_multiple(w, k, "k (whole rows)");
  b.require_len(wq, w.len() / 32u * bits, "len(w)*bits/32");
  b.require_len(scales, w.len() / group_size, "len(w)/group_size");
  b.require_len(biases, w.len() / group_size, "len(w)/group_size");

  const Val g = program_id(0);
  if_(g < w.len() / group_size, [&] {
    const Val units = group_size / kUnitCodes;
    const Val first_unit = g * units;
    Var lo = f32(kInf), hi = f32(-kInf);
    for (Val u : range(units)) {
      for (const Val& v : load_unit_values(w, (first_unit + u) * kUnitCodes)) {
        lo = min(lo, v);
        hi = max(hi, v);
      }
    }
    const Val n_bins = ((u32(1) << bits) - 1u).to(F32);
    const Val spread = max((hi - lo) / n_bins, 1e-7f);
    const Val low_end = abs(lo) > abs(hi);  // the edge kept exact is the larger magnitude
    const Val edge = select(low_end, lo, hi);
    const Val first_scale = select(low_end, spread, -spread);
    const Val q0 = round_half_even(edge / first_scale);
    const Val exact_edge = q0 != 0.0f;
    const Val scale = select(exact_edge, edge / q0, first_scale);
    const Val bias = select(exact_edge, edge, f32(0.0f));
    scales[g] = scale.to(T);
    biases[g] = bias.to(T);
    for_each_bits(bits, [&](std::uint32_t width) {
      for (Val u : range(units)) {
        const Val unit = first_unit + u;
        std::vector<Val> codes;
        for (const Val& v : load_unit_values(w, unit * kUnitCodes)) {
          const Val q = clamp(round_half_even((v - bias) / scale), 0.0f, float(max_code(width)));
          codes.push_back(q.to(U32));
        }
        store_unit_words(wq, unit * width, pack_unit(codes, width));
      }
    });
  });
}

void build_dequantize(KernelBuilder& b, DType T) {
  Tensor wq = b.input("wq", U32), scales = b.input("scales", T), biases = b.input("biases", T);
  Tensor out = b.output("out", T);
  Val k = b.scalar_u32("k"), group_size = b.scalar_u32("group_size"), bits = b.scalar_u32("bits");
  require_1d_launch(b);
  require_affine_format(b, bits, group_size);
  b.require(k > 0u && k % group_size == 0u, "k > 0 and k % group_size == 0");
  b.require_len_multiple(out, k, "k (whole rows)");
  b.require_len(wq, out.len() / 32u * bits, "len(out)*bits/32");
  b.require_len(scales, out.len() / group_size, "len(out)/group_size");
  b.require_len(biases, out.len() / group_size, "len(out)/group_size");

  const Val unit = program_id(0);
  if_(unit < out.len() / kUnitCodes,
      [&] { dequantize_unit(wq, scales, biases, out, unit, unit * kUnitCodes, bits, group_size); });
}

// ids[t] selects row ids[t] of the quantised table [V, dim]. An id >= V writes nothing; it is
// reported in checked mode as a read of `ids` past its end (at index max(id, len(ids))), which
// the checked backends turn into an error naming the kernel and `ids`; unchecked code drops
// that read, whose value nothing uses.
void build_embedding(KernelBuilder& b, DType T) {
  Tensor ids = b.input("ids", U32);
  Tensor wq = b.input("wq", U32), scales = b.input("scales", T), biases = b.input("biases", T);
  Tensor out = b.output("out", T);
  Val dim = b.scalar_u32("dim"), group_size = b.scalar_u32("group_size");
  Val bits = b.scalar_u32("bits");
  require_1d_launch(b);
  require_affine_format(b, bits, group_size);
  b.require(dim > 0u && dim % group_size == 0u, "dim > 0 and dim % group_size == 0");
  const Val row_words = dim / 32u * bits;
  b.require_len_multiple(wq, row_words, "dim*bits/32 (whole rows)");
  const Val vocab = wq.len() / row_words;
  const Val row_groups = dim / group_size;
  b.require_len(scales, vocab * row_groups, "vocab*dim/group_size, vocab = len(wq)/(dim*bits/32)");
  b.require_len(biases, vocab * row_groups, "vocab*dim/group_size, vocab = len(wq)/(dim*bits/32)");
  b.require_len(out, ids.len() * dim, "len(ids)*dim");

  const Val unit = program_id(0);
  if_(unit < out.len() / kUnitCodes, [&] {
    const Val row_units = dim / kUnitCodes;
    const Val token = unit / row_units;
    const Val id = ids[token];
    if_(id < vocab, [&] {
      const Val table_unit = id * row_units + (unit - token * row_units);
      dequantize_unit(wq, scales, biases, out, table_unit, unit * kUnitCodes, bits, group_size);
    }).else_([&] { ids[max(id, ids.len())].load(); });
  });
}

// --- registration: docs, geometry rules and benchmark shapes ------------------------------

// bf16 weights of the gemv shapes, 4- and 8-bit in groups of 64 (smoke: one small weight).
std::vector<QuantisedWeight> bench_weights(BenchScale scale) {
  std::vector<QuantisedWeight> all;
  for (const GemvShape& s : gemv_shapes(scale)) {
    for (std::size_t bits : {4, 8}) all.push_back({s.n, s.k, 64, bits});
  }
  return all;
}

std::string weight_label(const QuantisedWeight& q) {
  return std::to_string(q.n) + " x " + std::to_string(q.k) + " " + q.label();
}

std::vector<BenchCase> quantize_cases(BenchScale scale) {
  std::vector<BenchCase> cases;
  for (const QuantisedWeight& q : bench_weights(scale)) {
    BenchCase c{weight_label(q), DType::BF16, {}, {}, {}, 0.0, 0.0};
    c.elements["w"] = q.n * q.k;
    q.add_to(c);
    c.scalars["k"] = std::uint32_t(q.k);
    c.bytes = 2.0 * double(q.n * q.k) + q.bytes(DType::BF16);
    cases.push_back(c);
  }
  return cases;
}

std::vector<BenchCase> dequantize_cases(BenchScale scale) {
  std::vector<BenchCase> cases = quantize_cases(scale);
  for (BenchCase& c : cases) {
    c.elements["out"] = c.elements.at("w");
    c.elements.erase("w");
  }
  return cases;
}

// A 128256-token vocabulary of dim 4096: one decode token and a 512-token prompt.
std::vector<BenchCase> embedding_cases(BenchScale scale) {
  const bool full = scale == BenchScale::Full;
  const QuantisedWeight table{full ? 128256u : 64u, full ? 4096u : 128u, 64, 4};
  std::vector<BenchCase> cases;
  for (std::size_t tokens : full ? std::vector<std::size_t>{1, 512} : std::vector<std::size_t>{5}) {
    BenchCase c{"V" + std::to_string(table.n) + " D" + std::to_string(table.k) + " " +
                    table.label() + " T" + std::to_string(tokens),
                DType::BF16,
                {},
                {},
                {},
                0.0,
                0.0};
    table.add_to(c);
    c.elements["ids"] = tokens;
    c.elements["out"] = tokens * table.k;
    c.scalars["dim"] = std::uint32_t(table.k);
    c.fills["ids"] = BenchFill::below(std::uint32_t(table.n));
    // Each token reads its row's codes and group parameters and writes its row.
    const QuantisedWeight rows{tokens, table.k, table.group_size, table.bits};
    c.bytes = 4.0 * double(tokens) + rows.bytes(DType::BF16) + 2.0 * double(tokens * table.k);
    cases.push_back(c);
  }
  return cases;
}

LaunchPlan per_unit_of(const LaunchShape& s, std::string_view tensor) {
  return geometry::threads_1d(s.elements(tensor) / kUnitCodes, 128);
}

}  // namespace

KernelInfo quantize_affine::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_quantize,
      .doc = {.summary = "quantise a weight [N, K] into MLX's affine format (mx.quantize)",
              .formula = "per group: scale and bias as MLX chooses them (the larger-magnitude "
                         "end exact); q = clamp(rint((w - bias) / scale), 0, 2^bits - 1)",
              .buffers = {{"w", "[N, K] T"}, kWqDoc, kScalesDoc, kBiasesDoc},
              .scalars = {{"k", "u32: K, the row length (a multiple of group_size)"},
                          kGroupSizeDoc,
                          kBitsDoc},
              .geometry = "one thread per group (len(w) / group_size), 128 a group"},
      .geometry =
          [](const LaunchShape& s) {
            return geometry::threads_1d(s.elements("w") / s.u32("group_size"), 128);
          },
      .bench = quantize_cases,
  };
}

KernelInfo dequantize_affine::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_dequantize,
      .doc = {.summary = "dequantise an MLX affine weight into [N, K] T (mx.dequantize)",
              .formula = "out = T(T(q) * scale) + bias, each product and sum rounded to T",
              .buffers = {kWqDoc, kScalesDoc, kBiasesDoc, {"out", "[N, K] T"}},
              .scalars = {{"k", "u32: K, the row length (a multiple of group_size)"},
                          kGroupSizeDoc,
                          kBitsDoc},
              .geometry = "one thread per 32 codes (len(out) / 32), 128 a group"},
      .geometry = [](const LaunchShape& s) { return per_unit_of(s, "out"); },
      .bench = dequantize_cases,
  };
}

KernelInfo embedding_affine::info() {
  return KernelInfo{
      .default_mode = KernelMode::Grid3D,
      .dtypes = activation_dtypes(),
      .body = build_embedding,
      .doc = {.summary = "look up token rows of an MLX affine quantised embedding table",
              .formula = "out[t, :] = dequantize_affine(row ids[t] of the table); an id >= V is "
                         "an error in checked mode and writes nothing unchecked",
              .buffers = {{"ids", "[T] u32: token ids < V"},
                          {"wq", "[V, dim * bits / 32] u32: codes"},
                          {"scales", "[V, dim / group_size] T"},
                          {"biases", "[V, dim / group_size] T"},
                          {"out", "[T, dim] T"}},
              .scalars = {{"dim", "u32: D, the row length (a multiple of group_size)"},
                          kGroupSizeDoc,
                          kBitsDoc},
              .geometry = "one thread per 32 output elements (len(out) / 32), 128 a group"},
      .geometry = [](const LaunchShape& s) { return per_unit_of(s, "out"); },
      .bench = embedding_cases,
  };
}

}  // namespace mt::kernels::mlx::quantized
