// Quantised GEMV: out[m, n] = sum_k x[m, k] * (scale[n, g] * q[n, k] + bias[n, g]), g = k /
// group_size, M = 1..16, accumulated in f32 (mx.quantized_matmul with transpose=True). The warp
// layout is gemv_layout.hpp's: R weight rows a warp, lanes splitting K.
//
// One x-row (qgemv_affine_m1) is the decode case and must stream wq at the memory roofline;
// with 4-bit codes an H100 SM must then dequantise ~26 codes per clock, so the instructions
// per code are the budget. Each lane takes whole 32-code units (`bits` words: one 16-byte load
// for 4 bits, two for 8) of its four weight rows, U units of each, issuing every load before
// using any; each x load serves the four rows. Scale and bias leave the inner loop, per unit:
//   sum_i x_i * (s q_i + b) = s * sum_i x_i q_i + b * sum_i x_i,
// and q_i becomes a float without being shifted down: for 2, 4 and 8 bits a code at bit e of a
// word (or of the word shifted right by 16, e < 16) is bitcast((word & mask << e) | 2^23 bits)
// - 2^23 = q_i * 2^e exactly, so a code costs an and-or, a subtraction and one fma into the
// partial sum of its e; the partial sums are scaled by 2^-e (exactly) once per unit. 3-, 5- and
// 6-bit codes are shifted (across words where they straddle) and masked instead.
//
// Several x-rows (qgemv_affine_m4/_m8, qgemv_affine) are bound by the fmas (M per code), not
// by memory: lanes take runs of 8 codes (`bits` bytes) of each row, dequantise each code once
// to s * q + b and use it in M fmas, with one 16-byte x load per x-row and run. The loop body
// stays small (8 codes), which keeps the kernels quick to compile.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../activation_kernel.hpp"
#include "affine_entry.hpp"
#include "affine_format.hpp"
#include "gemv_layout.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/mlx/quantized.hpp"
#include "qgemv_body.hpp"

namespace mt::kernels::mlx::quantized {
namespace {

using namespace affine;

constexpr DType F32 = DType::F32;
constexpr DType U32 = DType::U32;
constexpr std::uint32_t kRunCodes = 8;  // codes per run (the multi-row variants' step)

// Units of each weight row in flight per lane with one x-row and four rows a warp: two for 2
// and 4 bits (eight 8- or 16-byte loads), one for 8 bits (two 16-byte loads a unit already) and
// for the widths that straddle words (not tuned: 3, 5 and 6 bits). With fewer rows a warp, as
// many more units.
constexpr std::uint32_t units_in_flight(std::uint32_t bits, std::uint32_t rows_per_warp) {
  return (bits == 2 || bits == 4 ? 2 : 1) * (4 / rows_per_warp);
}

QgemvParams declare_qgemv(KernelBuilder& b, DType T, std::uint32_t x_rows) {
  const Tensor x = b.input("x", T);
  return declare_qgemv_weight(b, T, x, {.x_rows = x_rows});
}

// Row-invariant addressing of the warp's weight rows.
struct RowBases {
  std::vector<Val> words;   // first word of each row
  std::vector<Val> groups;  // first group of each row
};

RowBases row_bases(const QgemvParams& q, const GemvPlace& p, std::uint32_t bits) {
  RowBases r;
  const Val row_words = q.k / 32u * bits, row_groups = q.k / q.group_size;
  for (const Val& row : p.load_rows) {
    r.words.push_back(row * row_words);
    r.groups.push_back(row * row_groups);
  }
  return r;
}

// The scale and bias (as f32) of group `group` of each row.
std::vector<std::pair<Val, Val>> group_params(const QgemvParams& q, const RowBases& rb,
                                              const Val& group) {
  std::vector<std::pair<Val, Val>> out;
  for (const Val& row_group : rb.groups) {
    const Val scale = q.scales[row_group + group].to(F32);
    out.emplace_back(scale, q.biases[row_group + group].to(F32));
  }
  return out;
}

// --- one x-row: whole units, scale and bias folded out -----------------------------------

// sum_i x_i * q_i over a unit: one partial sum per position e (code_times_power), each scaled
// by 2^-e (exactly) at the end.
Val dot_codes(const std::vector<Val>& words, const std::vector<Val>& xs, std::uint32_t bits) {
  std::vector<std::pair<std::uint32_t, Val>> partials;  // (e, sum), in order of first use
  for (std::uint32_t i = 0; i < kUnitCodes; ++i) {
    const auto [q, e] = code_times_power(words, i, bits);
    auto it = partials.begin();
    while (it != partials.end() && it->first != e) ++it;
    if (it == partials.end()) {
      partials.emplace_back(e, xs[i] * q);
    } else {
      it->second = fma(xs[i], q, it->second);
    }
  }
  // Code 0 sits at bit 0, so the first partial is the unscaled one.
  Val dot = partials.front().second;
  for (std::size_t j = 1; j < partials.size(); ++j) {
    dot = fma(partials[j].second, f32(1.0f / float(1u << partials[j].first)), dot);
  }
  return dot;
}

// Pairwise sum (short dependency chains).
Val tree_sum(std::vector<Val> v) {
  while (v.size() > 1) {
    std::vector<Val> next;
    for (std::size_t i = 0; i + 1 < v.size(); i += 2) next.push_back(v[i] + v[i + 1]);
    if (v.size() % 2 == 1) next.push_back(v.back());
    v = std::move(next);
  }
  return v.front();
}

// `count` units of each of the warp's rows, 32 apart from `first` (< units, the row's units):
// y_r += s * sum x q + b * sum x per unit. Units past the row's end (the last step of a lane)
// re-read the row's last unit and add nothing (nor to the reader's squares).
void accumulate_units(const QgemvParams& q, const RowBases& rb, const Val& units, const Val& first,
                      std::uint32_t count, std::uint32_t bits, const UnitReader& read,
                      std::vector<Var>& acc, Var* squares) {
  const Val group_shift = units_per_group_shift(q.group_size);
  std::vector<Val> unit = {first}, inside;  // inside[u - 1]: unit u exists (unit 0 always does)
  for (std::uint32_t u = 1; u < count; ++u) {
    const Val at = first + 32u * u;
    inside.push_back(at < units);
    unit.push_back(min(at, units - 1u));
  }
  // Every weight load of the step first, so that all of them are in flight together.
  std::vector<std::vector<std::vector<Val>>> words(count);
  for (std::uint32_t u = 0; u < count; ++u) {
    for (const Val& row_first : rb.words) {
      words[u].push_back(load_unit_words(q.wq, row_first + unit[u] * bits, bits));
    }
  }
  StepSums sums(acc);
  for (std::uint32_t u = 0; u < count; ++u) {
    const auto params = group_params(q, rb, unit[u] >> group_shift);
    const UnitValues values = read(unit[u] * kUnitCodes);
    const std::vector<Val>& xs = values.x;
    if (squares != nullptr) {
      *squares =
          *squares + (u == 0 ? *values.squares : select(inside[u - 1], *values.squares, 0.0f));
    }
    const Val x_sum = tree_sum(xs);
    for (std::size_t r = 0; r < sums.size(); ++r) {
      const Val dot = dot_codes(words[u][r], xs, bits);
      const auto& [scale, bias] = params[r];
      if (u == 0) {
        sums[r] = fma(bias, x_sum, fma(scale, dot, sums[r]));
      } else {
        sums[r] = sums[r] + select(inside[u - 1], fma(scale, dot, bias * x_sum), 0.0f);
      }
    }
  }
  sums.write_back();
}

// --- several x-rows: runs of 8 codes ----------------------------------------------------

// ((hi:lo) >> shift) as a u32, shift in {0, 8, 16, 24} (hi << 32 - shift is split in two so
// that shift 0 adds nothing: shift amounts are taken modulo 32).
Val funnel_shift(const Val& lo, const Val& hi, const Val& shift) {
  return (lo >> shift) | ((hi << 1u) << (31u - shift));
}

// The 8 codes (u32) of run `run` of a row: `bits` bytes of its stream from byte run * bits.
// Words past the tensor's end are clamped to its last word (their bits are never used).
std::vector<Val> run_codes(const Tensor& wq, const Val& row_first, const Val& run,
                           std::uint32_t bits) {
  std::vector<Val> words;
  if (bits == 4) {
    words.push_back(wq[row_first + run]);
  } else if (bits == 8) {
    const ArrayRef v = load_vector(wq, row_first + run * 2u, 2);
    words = {v[0], v[1]};
  } else if (bits == 2) {
    words.push_back(wq[row_first + (run >> 1u)] >> ((run & 1u) << 4u));
  } else {
    // The run starts at a byte; load the words it may touch and shift them down to it.
    const Val byte = run * bits;
    const Val first = row_first + (byte >> 2u), shift = (byte & 3u) << 3u;
    const std::uint32_t loaded = (24 + 8 * bits + 31) / 32, kept = (8 * bits + 31) / 32;
    std::vector<Val> raw = {wq[first]};
    for (std::uint32_t i = 1; i < loaded; ++i) raw.push_back(wq[min(first + i, wq.len() - 1u)]);
    for (std::uint32_t i = 0; i < kept; ++i) {
      words.push_back(i + 1 < loaded ? funnel_shift(raw[i], raw[i + 1], shift) : raw[i] >> shift);
    }
  }
  std::vector<Val> codes;
  for (std::uint32_t j = 0; j < kRunCodes; ++j) codes.push_back(extract_code(words, j, bits));
  return codes;
}

// Run `run` of each of the warp's rows dequantised to s * q + b: one copy of the unpacking per
// bits value (only the one for `bits` runs), writing the same locals, so the fmas that follow
// exist once.
void dequantize_run(const QgemvParams& q, const GemvPlace& p, const Val& run,
                    std::vector<Var>& weights) {
  // log2(group_size / 8): 2 more than the unit shift.
  const Val group = run >> (units_per_group_shift(q.group_size) + 2u);
  std::vector<std::pair<Val, Val>> params;
  const Val row_groups = q.k / q.group_size;
  for (const Val& row : p.load_rows) {
    const Val scale = q.scales[row * row_groups + group].to(F32);
    params.emplace_back(scale, q.biases[row * row_groups + group].to(F32));
  }
  for_each_bits(q.bits, [&](std::uint32_t bits) {
    const RowBases rb = row_bases(q, p, bits);
    for (std::size_t r = 0; r < rb.words.size(); ++r) {
      const std::vector<Val> codes = run_codes(q.wq, rb.words[r], run, bits);
      for (std::uint32_t j = 0; j < kRunCodes; ++j) {
        weights[r * kRunCodes + j] =
            fma(code_as_float(codes[j]), params[r].first, params[r].second);
      }
    }
  });
}

// The run's dequantised weights times every x-row (one 16-byte x load per x-row and run).
void accumulate_run(const QgemvParams& q, const GemvPlace& p, const Val& run,
                    const std::vector<Var>& weights, const GemvTiling& t, std::vector<Var>& acc) {
  std::vector<Val> w;
  for (const Var& v : weights) w.push_back(v);
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(q.x.dtype()));
  const Val first = run * kRunCodes;
  StepSums sums(acc);
  for (std::uint32_t m = 0; m < t.x_rows; ++m) {
    for (std::uint32_t j0 = 0; j0 < kRunCodes; j0 += lanes) {
      const ArrayRef xv = load_vector(q.x, p.x_row_base[m] + (j0 == 0 ? first : first + j0), lanes);
      for (std::uint32_t j = 0; j < lanes; ++j) {
        const Val xj = xv[j].to(F32);
        for (std::uint32_t r = 0; r < t.rows_per_warp; ++r) {
          Val& a = sums[r * t.x_rows + m];
          a = fma(w[r * kRunCodes + j0 + j], xj, a);
        }
      }
    }
  }
  sums.write_back();
}

template <std::uint32_t XRows, std::uint32_t RowsPerWarp>
void build_qgemv(KernelBuilder& b, DType T) {
  const QgemvParams q = declare_qgemv(b, T, XRows);
  const GemvTiling t{XRows, RowsPerWarp};
  const GemvPlace p = place_gemv_warp(q.x, q.k, q.n, t);
  std::vector<Var> acc = gemv_accumulators(t);
  if_(p.active, [&] {
    if constexpr (XRows == 1) {
      accumulate_qgemv_m1(q, p, RowsPerWarp, read_units(q.x), acc, nullptr);
    } else {
      std::vector<Var> weights;  // [R, 8], reserved: a Var copy is a new local
      weights.reserve(std::size_t{RowsPerWarp} * kRunCodes);
      for (std::uint32_t i = 0; i < RowsPerWarp * kRunCodes; ++i) {
        weights.emplace_back(f32(0.0f), "w_" + std::to_string(i));
      }
      for (Val run : range(p.lane, q.k / kRunCodes, 32u)) {
        dequantize_run(q, p, run, weights);
        accumulate_run(q, p, run, weights, t, acc);
      }
    }
    store_gemv_results(q.out, p, q.n, acc, t);
  });
}

}  // namespace

QgemvParams declare_qgemv_weight(KernelBuilder& b, DType T, const Tensor& x,
                                 const QgemvShape& shape) {
  const Tensor wq = b.input("wq", U32), scales = b.input("scales", T),
               biases = b.input("biases", T);
  QgemvParams p{x,
                wq,
                scales,
                biases,
                b.output("out", T),
                b.scalar_u32("k"),
                b.scalar_u32("n"),
                b.scalar_u32("group_size"),
                b.scalar_u32("bits")};
  require_affine_format(b, p.bits, p.group_size);
  require_gemv_rows(b, p.x, p.out, p.k, p.n, shape.x_rows, shape.x_name);
  require_weight_rows(b, p, p.n * shape.weight_rows,
                      shape.weight_rows == 1 ? "n" : std::to_string(shape.weight_rows) + "*n");
  return p;
}

void require_weight_rows(KernelBuilder& b, const QgemvParams& p, const Val& rows,
                         const std::string& rows_text) {
  b.require(p.k % p.group_size == 0u, "k % group_size == 0");
  const Val row_words = p.k / 32u * p.bits, row_groups = p.k / p.group_size;
  b.require_len(p.wq, rows * row_words, rows_text + "*k*bits/32");
  b.require_len(p.scales, rows * row_groups, rows_text + "*k/group_size");
  b.require_len(p.biases, rows * row_groups, rows_text + "*k/group_size");
}

UnitReader read_units(const Tensor& x) {
  return [&x](const Val& first) { return UnitValues{load_unit_values(x, first), std::nullopt}; };
}

void accumulate_qgemv_m1(const QgemvParams& q, const GemvPlace& p, std::uint32_t rows_per_warp,
                         const UnitReader& read, std::vector<Var>& acc, Var* squares) {
  const Val units = q.k / kUnitCodes;  // per row
  for_each_bits(q.bits, [&](std::uint32_t bits) {
    const RowBases rb = row_bases(q, p, bits);
    const std::uint32_t count = units_in_flight(bits, rows_per_warp);
    for (Val c : range(p.lane, units, 32u * count)) {
      accumulate_units(q, rb, units, c, count, bits, read, acc, squares);
    }
  });
}

namespace {

// --- registration: docs, geometry rules and benchmark shapes ------------------------------

LaunchPlan qgemv_rule(const LaunchShape& s) {
  const std::size_t k = s.u32("k"), n = s.u32("n");
  const std::size_t m = s.elements("x") / k;
  if (m <= 1) return gemv_launch(n, 4, std::string(qgemv_affine_m1::name));
  if (m <= 4) return gemv_launch(n, 2, std::string(qgemv_affine_m4::name));
  if (m <= 8) return gemv_launch(n, 4, std::string(qgemv_affine_m8::name));
  return gemv_launch(n, 4, "");
}

std::vector<BenchCase> qgemv_cases(BenchScale scale, const std::vector<std::size_t>& ms) {
  std::vector<BenchCase> cases;
  for (const GemvShape& s : gemv_shapes(scale)) {
    for (std::size_t bits : {4, 8}) {
      const QuantisedWeight w{s.n, s.k, 64, bits};
      for (std::size_t m : ms) {
        BenchCase c{s.label(m) + " " + w.label(), DType::BF16, {}, {}, {}, 0.0, 0.0};
        w.add_to(c);
        c.elements["x"] = m * s.k;
        c.elements["out"] = m * s.n;
        c.scalars["k"] = std::uint32_t(s.k);
        c.scalars["n"] = std::uint32_t(s.n);
        c.bytes = w.bytes(DType::BF16) + 2.0 * double(m * s.k + m * s.n);
        c.flops = 2.0 * double(m * s.n * s.k);
        cases.push_back(c);
      }
    }
  }
  return cases;
}

KernelInfo qgemv_info(void (*body)(KernelBuilder&, DType), std::uint32_t x_rows,
                      std::uint32_t rows_per_warp, GeometryRule rule,
                      std::vector<std::size_t> bench_ms, std::string summary) {
  const std::string most = std::to_string(x_rows);
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = body,
      .doc = {.summary = std::move(summary),
              .formula = "out[m, n] = sum_k x[m, k] * (scale[n, k / group_size] * q[n, k] + "
                         "bias[n, k / group_size]), in f32, rounded to T once",
              .buffers = {{"x", "[M, K] T: 1 <= M <= " + most + " rows"},
                          kWqDoc,
                          kScalesDoc,
                          kBiasesDoc,
                          {"out", "[M, N] T"}},
              .scalars = {{"k", "u32: K (a multiple of group_size)"},
                          {"n", "u32: N, the rows of the weight (> 0)"},
                          kGroupSizeDoc,
                          kBitsDoc},
              .geometry = "Reduction mode, " + std::to_string(kGemvThreads) +
                          " threads a group; each warp owns " + std::to_string(rows_per_warp) +
                          " weight row(s) (ceil(n / " + std::to_string(kGemvWarps * rows_per_warp) +
                          ") groups), lanes take whole 32-code units along K; " + most +
                          " x-rows per pass"},
      .geometry = std::move(rule),
      .bench = [ms = std::move(bench_ms)](BenchScale s) { return qgemv_cases(s, ms); },
  };
}

GeometryRule own_launch(std::uint32_t rows_per_warp) {
  return
      [rows_per_warp](const LaunchShape& s) { return gemv_launch(s.u32("n"), rows_per_warp, ""); };
}

}  // namespace

KernelInfo qgemv_affine::info() {
  return qgemv_info(build_qgemv<16, 4>, 16, 4, qgemv_rule, {1, 4, 16},
                    "quantised GEMV for M = 1..16 rows of x (mx.quantized_matmul, transpose): "
                    "runs qgemv_affine_m1, _m4 or _m8 when M fits, else this kernel");
}
KernelInfo qgemv_affine_m1::info() {
  return qgemv_info(build_qgemv<1, 4>, 1, 4, own_launch(4), {1},
                    "quantised GEMV for one row of x: scale and bias folded out of the inner "
                    "loop, codes converted in place");
}
KernelInfo qgemv_affine_m1_r2::info() {
  return qgemv_info(build_qgemv<1, 2>, 1, 2, own_launch(2), {1},
                    "quantised GEMV for one row of x as qgemv_affine_m1, with two weight rows a "
                    "warp and twice the units in flight (twice the warps, half the x reuse)");
}
KernelInfo qgemv_affine_m4::info() {
  return qgemv_info(build_qgemv<4, 2>, 4, 2, own_launch(2), {4},
                    "quantised GEMV for up to 4 rows of x");
}
KernelInfo qgemv_affine_m8::info() {
  return qgemv_info(build_qgemv<8, 4>, 8, 4, own_launch(4), {8},
                    "quantised GEMV for up to 8 rows of x");
}

}  // namespace mt::kernels::mlx::quantized
