// Row reductions: sum and max (as T, accumulated in f32) and argmax (u32 index, lowest on
// ties). Each thread reduces its strided elements, then the threadgroup combines. NaN is the
// largest value for max and argmax (a row with a NaN has max NaN and argmax the index of its
// first NaN, as in PyTorch and NumPy); sums propagate NaN and inf - inf by IEEE arithmetic.
#include "metaltile/kernels/mlx/rows.hpp"
#include "row_loop.hpp"

namespace mt::kernels::mlx {
namespace {

void build_row_sum(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T);
  Tensor out = k.output("out", T);
  RowLoop r = row_loop(k, x);
  require_out_per_row(k, out, r);
  if_(r.in_range, [&] {
    Var sum = f32(0.0f);
    for_each_element(r, x, [&](const Val& v, const Val&) { sum += v; });
    Val total = threadgroup_sum(sum);
    if_(r.first == 0u, [&] { out[r.row] = total.to(T); });
  });
}

void build_row_max(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T);
  Tensor out = k.output("out", T);
  RowLoop r = row_loop(k, x);
  require_out_per_row(k, out, r);
  if_(r.in_range, [&] {
    Var largest = f32(-kInfinity);
    Var nan_seen = constant(DType::Bool, 0);
    for_each_element(r, x, [&](const Val& v, const Val&) {
      largest = max(largest, v);  // skips NaN: remembered apart
      nan_seen = nan_seen || v != v;
    });
    Val key = threadgroup_max(select(nan_seen, u32(kNaNOrderKey), order_key(largest)));
    if_(r.first == 0u, [&] { out[r.row] = from_order_key(key).to(T); });
  });
}

void build_argmax(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T);
  Tensor out = k.output("out", DType::U32);
  RowLoop r = row_loop(k, x);
  require_out_per_row(k, out, r);
  if_(r.in_range, [&] {
    // Each thread visits its indices in increasing order, so a strict > keeps the lowest
    // index on ties; a NaN beats every number, and the first NaN stays.
    Var best = f32(-kInfinity);
    Var best_index = r.first;
    for_each_element(r, x, [&](const Val& v, const Val& i) {
      Val better = v > best || (v != v && best == best);
      best = select(better, v, best);
      best_index = select(better, i, best_index);
    });
    // Across threads by order key (NaN largest), with -0 and +0 equal so the lower index wins.
    ArgMax winner = threadgroup_argmax(order_key(select(best == 0.0f, 0.0f, best)), best_index);
    if_(r.first == 0u, [&] { out[r.row] = winner.index; });
  });
}

}  // namespace

Kernel row_sum::kernel_ir_for(DType t) { return trace_row_kernel(name, build_row_sum, t); }
Kernel row_max::kernel_ir_for(DType t) { return trace_row_kernel(name, build_row_max, t); }
Kernel argmax::kernel_ir_for(DType t) { return trace_row_kernel(name, build_argmax, t); }

std::vector<KernelInfo> kernel_infos() {
  auto info = [](std::string_view name, Kernel (*build)(DType)) {
    return KernelInfo{"mlx::rows", std::string(name), KernelMode::Reduction, activation_dtypes(),
                      build};
  };
  return {info(softmax::name, softmax::kernel_ir_for),
          info(rms_norm::name, rms_norm::kernel_ir_for),
          info(layer_norm::name, layer_norm::kernel_ir_for),
          info(argmax::name, argmax::kernel_ir_for),
          info(row_sum::name, row_sum::kernel_ir_for),
          info(row_max::name, row_max::kernel_ir_for)};
}

}  // namespace mt::kernels::mlx
