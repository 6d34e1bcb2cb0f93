// RMS norm and layer norm over rows, with a weight vector (and bias for layer norm).
// Layer norm takes both moments in one pass over values shifted by the row's first element,
// which stays accurate when the mean is large. A NaN or inf in a row makes its whole output
// NaN through the sums (an inf's own element aside in rms_norm: inf * 0), as in PyTorch.
#include "../ffai/short_rows.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/mlx/rows.hpp"
#include "row_entry.hpp"

namespace mt::kernels::mlx::rows {
namespace {

constexpr DType F32 = DType::F32;

void build_rms_norm(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T), w = k.input("w", T);
  Tensor out = k.output("out", T);
  RowLoop r = row_loop(k, x);
  Val eps = k.scalar_f32("eps"), weight_offset = k.scalar_f32("weight_offset");
  k.require_len(w, r.n, "n");
  require_out_per_element(k, out, x);
  if_(r.in_range, [&] {
    Var sum_sq = f32(0.0f);
    for_each_element(r, x, [&](const Val& v, const Val&) { sum_sq += v * v; });
    Val scale = rsqrt(threadgroup_sum(sum_sq) / r.n.to(F32) + eps);
    map_elements(r, x, {w}, out, [&](const Val& v, const std::vector<Val>& wi) {
      return v * scale * (wi[0] + weight_offset);
    });
  });
}

void build_layer_norm(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T), w = k.input("w", T), b = k.input("b", T);
  Tensor out = k.output("out", T);
  RowLoop r = row_loop(k, x);
  Val eps = k.scalar_f32("eps");
  k.require_len(w, r.n, "n");
  k.require_len(b, r.n, "n");
  require_out_per_element(k, out, x);
  if_(r.in_range, [&] {
    // One pass for both moments, on values shifted by the row's first element: with the
    // shift near the mean, sum_sq - sum^2/n does not cancel catastrophically.
    Val n = r.n.to(F32);
    Val shift = x[r.base].to(F32);
    Var sum = f32(0.0f), sum_sq = f32(0.0f);
    for_each_element(r, x, [&](const Val& v, const Val&) {
      Val d = v - shift;
      sum += d;
      sum_sq += d * d;
    });
    Val total = threadgroup_sum(sum), total_sq = threadgroup_sum(sum_sq);
    Val mean = shift + total / n;
    // Rounding can make the variance slightly negative: clamp it to 0, but keep a NaN (a row
    // with inf gives inf - inf), which max() would turn into 0.
    Val raw_variance = (total_sq - total * total / n) / n;
    Val variance = select(raw_variance < 0.0f, 0.0f, raw_variance);
    Val inv_std = rsqrt(variance + eps);

    map_elements(r, x, {w, b}, out, [&](const Val& v, const std::vector<Val>& wb) {
      return (v - mean) * inv_std * wb[0] + wb[1];
    });
  });
}

}  // namespace

// Rows of n <= 256 go to rms_norm_short_rows (same buffers and scalars, several rows a
// threadgroup): one short row cannot keep a threadgroup of 32+ threads busy.
KernelInfo rms_norm::info() {
  KernelInfo info = row_kernel_info(
      build_rms_norm,
      {.summary = "RMS norm of each row, times a weight vector (plus an offset)",
       .formula = "out = x * rsqrt(mean(x^2) + eps) * (w + weight_offset), per row, in f32",
       .buffers = {kRowX, {"w", "[n] T: weight"}, {"out", "[rows, n] T"}},
       .scalars = {kRowN,
                   kRowEps,
                   {"weight_offset", "f32: added to each weight (0: Llama, Qwen; 1: Gemma)"}}},
      [](BenchScale s) {
        std::vector<BenchCase> cases = row_cases(s, {"w"}, false, true, DType::Bool);
        for (BenchCase& c : cases) c.scalars["weight_offset"] = 0.0f;
        return cases;
      });
  info.doc.geometry += "; rows of n <= 256 run as rms_norm_short_rows (several rows a group)";
  info.geometry = [](const LaunchShape& s) {
    const std::size_t n = s.u32("n");
    if (n > 0 && n <= ffai::norms::kShortRowMax) {
      return ffai::norms::short_rows_plan(s, "rms_norm_short_rows");
    }
    return row_geometry(s);
  };
  return info;
}

KernelInfo layer_norm::info() {
  return row_kernel_info(
      build_layer_norm,
      {.summary = "layer norm of each row, with weight and bias vectors",
       .formula = "out = (x - mean) * rsqrt(var + eps) * w + b, per row, in f32 (biased var)",
       .buffers = {kRowX, {"w", "[n] T: weight"}, {"b", "[n] T: bias"}, {"out", "[rows, n] T"}},
       .scalars = {kRowN, kRowEps}},
      [](BenchScale s) {
        return row_cases(s, {"w", "b"}, false, true, DType::Bool);
      });
}

}  // namespace mt::kernels::mlx::rows
