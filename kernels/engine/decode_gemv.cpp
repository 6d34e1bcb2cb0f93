// The decode step's GEMVs with their neighbours fused in, so a decoder layer at batch 1 needs
// no launch of its own for the RMS norms, the residual adds or the SwiGLU activation:
//
//   rms_norm_gemv          out[n] = r * sum_k w[n, k] * h[k] * (g[k] + weight_offset)
//   rms_norm_gemv_swiglu   out[j] = silu(a_j) * b_j,  a_j = r * sum_k w[j, k] * h[k] * (g[k] + o),
//                                                     b_j = the same over row n + j
//   residual_gemv          out[n] = residual[n] + sum_k w[n, k] * x[k]
//
// with r = 1 / sqrt(sum_k h[k]^2 / K + eps) (the RMS norm of h, applied after the dot product:
// sum_k w (h r g) = r sum_k w (h g)). Everything is f32 with one rounding to T per output.
//
// They are the dense GEMV's main loop (kernels/mlx/gemv_body.hpp) with another reader or
// another epilogue. Every warp streams all of h for its rows anyway, so it sums h^2 on the way
// and needs no pass, barrier or launch of its own for the norm. The SwiGLU form gives each
// warp the gate row j and the up row n + j of the stacked gate/up weight, so the activation is
// applied where both sums meet.
//
// rms_norm_qgemv, rms_norm_qgemv_swiglu and residual_qgemv are the same over an MLX affine
// weight (wq, scales, biases, group_size, bits as qgemv_affine), on the quantised GEMV's
// one-row loop (kernels/mlx/qgemv_body.hpp: whole 32-code units, scale and bias folded out).
#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "../mlx/affine_entry.hpp"
#include "../mlx/affine_format.hpp"
#include "fused_norm.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/kernels/engine/decoder.hpp"

namespace mt::kernels::engine::decoder {
namespace {

// The epilogues: each total scaled by the norm's r, or added to its residual row.
mlx::GemvFinish scaled_by(const Val& r) {
  return [r](const Val& total, const Val&, const Val&) { return total * r; };
}

mlx::GemvFinish plus_residual(const Tensor& residual) {
  return [&residual](const Val& total, const Val&, const Val& row) {
    return total + residual[row].to(F32);
  };
}

// The SwiGLU forms: a warp owns `outputs` consecutive outputs from j = (group * kGemvWarps +
// warp) * outputs, each from gate row j + i and up row n + j + i (accumulators i and
// outputs + i).
GemvPlace place_swiglu_warp(const Val& n, std::uint32_t outputs) {
  const Val j = (program_id(0) * kGemvWarps + warp_id()) * outputs;
  std::vector<Val> rows;
  for (std::uint32_t i = 0; i < outputs; ++i) rows.push_back(min(j + i, n - 1u));
  for (std::uint32_t i = 0; i < outputs; ++i) rows.push_back(rows[i] + n);
  return {lane_id(), u32(1), j, rows, {u32(0)}, j < n};
}

// out[j + i] = silu(r * gate_i) * (r * up_i), stored by lane 0 for the outputs below n.
void store_swiglu(const Tensor& out, const GemvPlace& p, const std::vector<Var>& acc,
                  const Val& r) {
  const std::size_t outputs = acc.size() / 2;
  for (std::size_t i = 0; i < outputs; ++i) {
    const Val gate = warp_sum(acc[i]) * r, up = warp_sum(acc[outputs + i]) * r;
    const Val at = i == 0 ? p.first_row : p.first_row + std::uint32_t(i);
    if_(p.lane == 0u && at < out.len(), [&] { out[at] = (silu(gate) * up).to(out.dtype()); });
  }
}

void build_rms_norm_gemv(KernelBuilder& b, DType T) {
  const NormInput in = declare_norm_input(b, T);
  Tensor w = b.input("w", T);
  Tensor out = b.output("out", T);
  Val k = b.scalar_u32("k"), n = b.scalar_u32("n");
  mlx::require_gemv_rows(b, in.h, out, k, n, 1, "h");
  require_norm_input(b, in, k);
  b.require_len(w, n * k, "n*k");

  overlap_dense_rows(w, {mlx::group_first_row(kNormTiling.rows_per_warp)},
                     kGemvWarps * kNormTiling.rows_per_warp, k);
  const GemvPlace p = mlx::place_gemv_warp(in.h, k, n, kNormTiling);
  std::vector<Var> acc = mlx::gemv_accumulators(kNormTiling);
  Var squares(f32(0.0f), "squares");
  if_(p.active, [&] {
    mlx::accumulate_dense_gemv(w, k, p, kNormTiling, kNormUnroll, read_normed(in, squares), acc);
    mlx::store_gemv_results(out, p, n, acc, kNormTiling,
                            scaled_by(inverse_rms(squares, k, in.eps)));
  });
}

void build_rms_norm_gemv_swiglu(KernelBuilder& b, DType T) {
  const NormInput in = declare_norm_input(b, T);
  Tensor w = b.input("w", T);
  Tensor out = b.output("out", T);
  Val k = b.scalar_u32("k"), n = b.scalar_u32("n");
  mlx::require_gemv_rows(b, in.h, out, k, n, 1, "h");
  require_norm_input(b, in, k);
  b.require_len(w, 2u * n * k, "2*n*k (gate rows, then up rows)");

  const Val gate = mlx::group_first_row(1);
  overlap_dense_rows(w, {gate, gate + n}, kGemvWarps, k);
  const GemvPlace p = place_swiglu_warp(n, 1);
  std::vector<Var> acc = mlx::gemv_accumulators(kNormTiling);
  Var squares(f32(0.0f), "squares");
  if_(p.active, [&] {
    mlx::accumulate_dense_gemv(w, k, p, kNormTiling, kNormUnroll, read_normed(in, squares), acc);
    store_swiglu(out, p, acc, inverse_rms(squares, k, in.eps));
  });
}

void build_residual_gemv(KernelBuilder& b, DType T) {
  Tensor x = b.input("x", T), w = b.input("w", T), residual = b.input("residual", T);
  Tensor out = b.output("out", T);
  Val k = b.scalar_u32("k"), n = b.scalar_u32("n");
  mlx::require_gemv_rows(b, x, out, k, n, 1);
  b.require_len(w, n * k, "n*k");
  b.require_len(residual, n, "n");

  overlap_dense_rows(w, {mlx::group_first_row(kResidualTiling.rows_per_warp)},
                     kGemvWarps * kResidualTiling.rows_per_warp, k);
  const GemvPlace p = mlx::place_gemv_warp(x, k, n, kResidualTiling);
  std::vector<Var> acc = mlx::gemv_accumulators(kResidualTiling);
  if_(p.active, [&] {
    mlx::accumulate_dense_gemv(w, k, p, kResidualTiling, kResidualUnroll, mlx::read_x_rows(x, p),
                               acc);
    mlx::store_gemv_results(out, p, n, acc, kResidualTiling, plus_residual(residual));
  });
}

// --- over MLX affine weights ---------------------------------------------------------------

// Four weight rows a warp, as qgemv_affine_m1: each unit of x (or h and g) serves all four.
constexpr GemvTiling kQuantTiling{1, 4};
// Outputs a warp of rms_norm_qgemv_swiglu owns: 4 weight rows share each unit of the normed h
// (its loads, conversion, norm weight and sums cost as much as the codes' own work when only a
// gate and an up row share them).
constexpr std::uint32_t kQuantSwigluOutputs = 2;

void build_rms_norm_qgemv(KernelBuilder& b, DType T) {
  const NormInput in = declare_norm_input(b, T);
  const q::QgemvParams p = q::declare_qgemv_weight(b, T, in.h, {.x_name = "h"});
  require_norm_input(b, in, p.k);
  overlap_quantised_rows(p, {mlx::group_first_row(kQuantTiling.rows_per_warp)},
                         kGemvWarps * kQuantTiling.rows_per_warp);
  const GemvPlace place = mlx::place_gemv_warp(in.h, p.k, p.n, kQuantTiling);
  std::vector<Var> acc = mlx::gemv_accumulators(kQuantTiling);
  Var squares(f32(0.0f), "squares");
  if_(place.active, [&] {
    q::accumulate_qgemv_m1(p, place, kQuantTiling.rows_per_warp, read_normed_units(in), acc,
                           &squares);
    mlx::store_gemv_results(p.out, place, p.n, acc, kQuantTiling,
                            scaled_by(inverse_rms(squares, p.k, in.eps)));
  });
}

void build_rms_norm_qgemv_swiglu(KernelBuilder& b, DType T) {
  const NormInput in = declare_norm_input(b, T);
  const q::QgemvParams p = q::declare_qgemv_weight(b, T, in.h, {.weight_rows = 2, .x_name = "h"});
  require_norm_input(b, in, p.k);
  const Val gate = mlx::group_first_row(kQuantSwigluOutputs);
  overlap_quantised_rows(p, {gate, gate + p.n}, kGemvWarps * kQuantSwigluOutputs);
  const GemvPlace place = place_swiglu_warp(p.n, kQuantSwigluOutputs);
  std::vector<Var> acc = mlx::gemv_accumulators({1, 2 * kQuantSwigluOutputs});
  Var squares(f32(0.0f), "squares");
  if_(place.active, [&] {
    q::accumulate_qgemv_m1(p, place, 2 * kQuantSwigluOutputs, read_normed_units(in), acc, &squares);
    store_swiglu(p.out, place, acc, inverse_rms(squares, p.k, in.eps));
  });
}

void build_residual_qgemv(KernelBuilder& b, DType T) {
  const Tensor x = b.input("x", T), residual = b.input("residual", T);
  const q::QgemvParams p = q::declare_qgemv_weight(b, T, x, {});
  b.require_len(residual, p.n, "n");
  overlap_quantised_rows(p, {mlx::group_first_row(kQuantTiling.rows_per_warp)},
                         kGemvWarps * kQuantTiling.rows_per_warp);
  const GemvPlace place = mlx::place_gemv_warp(x, p.k, p.n, kQuantTiling);
  std::vector<Var> acc = mlx::gemv_accumulators(kQuantTiling);
  if_(place.active, [&] {
    q::accumulate_qgemv_m1(p, place, kQuantTiling.rows_per_warp, q::read_units(x), acc, nullptr);
    mlx::store_gemv_results(p.out, place, p.n, acc, kQuantTiling, plus_residual(residual));
  });
}

// --- registration --------------------------------------------------------------------------

// Llama 3.1 8B's shapes (hidden 4096, MLP 14336, q/k/v 6144 rows, vocabulary 128256); smoke:
// small odd shapes for the interpreter.
struct Shape {
  std::size_t n, k;
  std::string label() const { return std::to_string(n) + " x " + std::to_string(k); }
};

std::vector<BenchCase> norm_cases(BenchScale scale, bool swiglu) {
  const bool full = scale == BenchScale::Full;
  std::vector<Shape> shapes;
  if (!full) {
    shapes = {{swiglu ? 20u : 48u, 256}};
  } else if (swiglu) {
    shapes = {{14336, 4096}};
  } else {
    shapes = {{6144, 4096}, {128256, 4096}};
  }
  const DType t = full ? DType::BF16 : DType::F32;
  std::vector<BenchCase> cases;
  for (const Shape& s : shapes) {
    const std::size_t rows = swiglu ? 2 * s.n : s.n;
    BenchCase c;
    c.label = (swiglu ? std::to_string(rows) + " x " + std::to_string(s.k) : s.label()) + " M1";
    c.dtype = t;
    c.elements = {{"h", s.k}, {"norm", s.k}, {"w", rows * s.k}, {"out", s.n}};
    c.scalars = {{"k", std::uint32_t(s.k)},
                 {"n", std::uint32_t(s.n)},
                 {"eps", 1e-5f},
                 {"weight_offset", 0.0f}};
    c.bytes = double((rows * s.k + 2 * s.k + s.n) * size_of(t));
    c.flops = 2.0 * double(rows * s.k);
    cases.push_back(c);
  }
  return cases;
}

std::vector<BenchCase> residual_cases(BenchScale scale) {
  const bool full = scale == BenchScale::Full;
  const std::vector<Shape> shapes =
      full ? std::vector<Shape>{{4096, 4096}, {4096, 14336}} : std::vector<Shape>{{48, 256}};
  const DType t = full ? DType::BF16 : DType::F32;
  std::vector<BenchCase> cases;
  for (const Shape& s : shapes) {
    BenchCase c;
    c.label = s.label() + " M1";
    c.dtype = t;
    c.elements = {{"x", s.k}, {"w", s.n * s.k}, {"residual", s.n}, {"out", s.n}};
    c.scalars = {{"k", std::uint32_t(s.k)}, {"n", std::uint32_t(s.n)}};
    c.bytes = double((s.n * s.k + s.k + 2 * s.n) * size_of(t));
    c.flops = 2.0 * double(s.n * s.k);
    cases.push_back(c);
  }
  return cases;
}

// The same shapes over 4-bit weights in groups of 64 (smoke: 4 bits, groups of 32).
std::vector<BenchCase> quantised_cases(std::vector<BenchCase> cases, BenchScale scale,
                                       std::size_t weight_rows_per_output) {
  const bool full = scale == BenchScale::Full;
  for (BenchCase& c : cases) {
    const std::size_t k = std::get<std::uint32_t>(c.scalars.at("k"));
    const std::size_t rows = std::get<std::uint32_t>(c.scalars.at("n")) * weight_rows_per_output;
    const mlx::affine::QuantisedWeight w{rows, k, full ? 64u : 32u, 4};
    c.elements.erase("w");
    w.add_to(c);
    c.label += " " + w.label();
    c.bytes += w.bytes(c.dtype) - double(rows * k * size_of(c.dtype));
  }
  return cases;
}

const ParamDoc kK{"k", "u32: K, the row length of w and h (> 0)"};

const ParamDoc kQuantisedK{"k", "u32: K (a multiple of group_size)"};

// The scalars of the quantised norm forms: K, N (as `n_text` says), the format, the norm's.
std::vector<ParamDoc> quantised_norm_scalars(std::string n_text) {
  return {kQuantisedK,
          {"n", std::move(n_text)},
          mlx::affine::kGroupSizeDoc,
          mlx::affine::kBitsDoc,
          kEps,
          kOffset};
}

std::string geometry_text(std::uint32_t rows_per_warp, std::uint32_t unroll, std::string rows) {
  return "Reduction mode, " + std::to_string(kGemvThreads) + " threads a group; each warp owns " +
         rows + ", lanes split K with " + std::to_string(unroll) +
         " 16-byte vector(s) per row in flight (" + std::to_string(rows_per_warp) +
         " weight rows a warp)";
}

}  // namespace

KernelInfo rms_norm_gemv::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_rms_norm_gemv,
      .doc = {.summary = "RMS norm of one row fused into the GEMV that follows it (decode at "
                         "batch 1: the q/k/v projection, the LM head)",
              .formula = "out[n] = r * sum_k w[n, k] * h[k] * (norm[k] + weight_offset), r = 1 / "
                         "sqrt(sum_k h[k]^2 / K + eps); f32, rounded to T once",
              .buffers = {kH, kNorm, {"w", "[N, K] T: the weight"}, {"out", "[N] T"}},
              .scalars = {kK, {"n", "u32: N, the rows of w (> 0)"}, kEps, kOffset},
              .geometry = geometry_text(kNormTiling.rows_per_warp, kNormUnroll,
                                        "2 weight rows (ceil(n / 8) groups)")},
      .geometry =
          [](const LaunchShape& s) {
            return mlx::gemv_launch(s.u32("n"), kNormTiling.rows_per_warp, "");
          },
      .bench = [](BenchScale s) { return norm_cases(s, false); },
  };
}

KernelInfo rms_norm_gemv_swiglu::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_rms_norm_gemv_swiglu,
      .doc = {.summary = "RMS norm, the stacked gate/up projection and SwiGLU in one launch "
                         "(decode at batch 1)",
              .formula = "out[j] = silu(a_j) * b_j, a_j = r * sum_k w[j, k] * h[k] * (norm[k] + "
                         "weight_offset), b_j the same over row n + j, r as rms_norm_gemv; f32, "
                         "rounded to T once",
              .buffers = {kH,
                          kNorm,
                          {"w", "[2N, K] T: the gate rows, then the up rows"},
                          {"out", "[N] T"}},
              .scalars = {kK, {"n", "u32: N, the MLP's intermediate size (> 0)"}, kEps, kOffset},
              .geometry = geometry_text(kNormTiling.rows_per_warp, kNormUnroll,
                                        "output j: gate row j and up row n + j (ceil(n / 4) "
                                        "groups)")},
      .geometry = [](const LaunchShape& s) { return mlx::gemv_launch(s.u32("n"), 1, ""); },
      .bench = [](BenchScale s) { return norm_cases(s, true); },
  };
}

KernelInfo residual_gemv::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_residual_gemv,
      .doc = {.summary = "GEMV with the residual add fused into its store (decode at batch 1: "
                         "the attention output and MLP down projections)",
              .formula = "out[n] = residual[n] + sum_k w[n, k] * x[k]; f32, rounded to T once",
              .buffers = {{"x", "[K] T: one row"},
                          {"w", "[N, K] T: the weight"},
                          {"residual", "[N] T: the residual stream"},
                          {"out", "[N] T: the new residual stream (a buffer apart from residual)"}},
              .scalars = {{"k", "u32: K, the row length of w and x (> 0)"},
                          {"n", "u32: N, the rows of w (> 0)"}},
              .geometry = geometry_text(kResidualTiling.rows_per_warp, kResidualUnroll,
                                        "1 weight row (ceil(n / 4) groups)")},
      .geometry =
          [](const LaunchShape& s) {
            return mlx::gemv_launch(s.u32("n"), kResidualTiling.rows_per_warp, "");
          },
      .bench = [](BenchScale s) { return residual_cases(s); },
  };
}

KernelInfo rms_norm_qgemv::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_rms_norm_qgemv,
      .doc = {.summary = "rms_norm_gemv over an MLX affine weight (decode at batch 1)",
              .formula = "out[n] = r * sum_k (scale * q[n, k] + bias) * h[k] * (norm[k] + "
                         "weight_offset), r as rms_norm_gemv; f32, rounded to T once",
              .buffers = {kH,
                          kNorm,
                          mlx::affine::kWqDoc,
                          mlx::affine::kScalesDoc,
                          mlx::affine::kBiasesDoc,
                          {"out", "[N] T"}},
              .scalars = quantised_norm_scalars("u32: N, the rows of the weight (> 0)"),
              .geometry = "Reduction mode, 128 threads a group; each warp owns 4 weight rows "
                          "(ceil(n / 16) groups), lanes take whole 32-code units along K"},
      .geometry = [](const LaunchShape& s) { return mlx::gemv_launch(s.u32("n"), 4, ""); },
      .bench = [](BenchScale s) { return quantised_cases(norm_cases(s, false), s, 1); },
  };
}

KernelInfo rms_norm_qgemv_swiglu::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_rms_norm_qgemv_swiglu,
      .doc = {.summary = "rms_norm_gemv_swiglu over an MLX affine weight (decode at batch 1)",
              .formula = "out[j] = silu(a_j) * b_j over the dequantised stacked gate/up weight, "
                         "as rms_norm_gemv_swiglu",
              .buffers = {kH,
                          kNorm,
                          {"wq", "[2N, K * bits / 32] u32: gate rows, then up rows"},
                          {"scales", "[2N, K / group_size] T"},
                          {"biases", "[2N, K / group_size] T"},
                          {"out", "[N] T"}},
              .scalars = quantised_norm_scalars("u32: N, the MLP's intermediate size (> 0)"),
              .geometry = "Reduction mode, 128 threads a group; warp j owns outputs 2j and "
                          "2j + 1: gate rows 2j, 2j + 1 and up rows n + 2j, n + 2j + 1 (ceil(n / "
                          "8) groups), lanes take whole 32-code units"},
      .geometry =
          [](const LaunchShape& s) {
            return mlx::gemv_launch(s.u32("n"), kQuantSwigluOutputs, "");
          },
      .bench = [](BenchScale s) { return quantised_cases(norm_cases(s, true), s, 2); },
  };
}

KernelInfo residual_qgemv::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_residual_qgemv,
      .doc = {.summary = "residual_gemv over an MLX affine weight (decode at batch 1)",
              .formula = "out[n] = residual[n] + sum_k x[k] * (scale * q[n, k] + bias); f32, "
                         "rounded to T once",
              .buffers = {{"x", "[K] T: one row"},
                          {"residual", "[N] T: the residual stream"},
                          mlx::affine::kWqDoc,
                          mlx::affine::kScalesDoc,
                          mlx::affine::kBiasesDoc,
                          {"out", "[N] T: the new residual stream (a buffer apart from residual)"}},
              .scalars = {kQuantisedK,
                          {"n", "u32: N, the rows of the weight (> 0)"},
                          mlx::affine::kGroupSizeDoc,
                          mlx::affine::kBitsDoc},
              .geometry = "Reduction mode, 128 threads a group; each warp owns 4 weight rows "
                          "(ceil(n / 16) groups), lanes take whole 32-code units along K"},
      .geometry = [](const LaunchShape& s) { return mlx::gemv_launch(s.u32("n"), 4, ""); },
      .bench = [](BenchScale s) { return quantised_cases(residual_cases(s), s, 1); },
  };
}

}  // namespace mt::kernels::engine::decoder
