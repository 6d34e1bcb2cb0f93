// Row reductions: sum and max (as T, accumulated in f32) and argmax (u32 index, lowest on
// ties). Each thread reduces its strided elements, then the threadgroup combines. NaN is the
// largest value for max and argmax (a row with a NaN has max NaN and argmax the index of its
// first NaN, as in PyTorch and NumPy); sums propagate NaN and inf - inf by IEEE arithmetic.
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/mlx/rows.hpp"
#include "order_key.hpp"
#include "row_entry.hpp"

namespace mt::kernels::mlx::rows {
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

KernelInfo row_sum::info() {
  return row_kernel_info(build_row_sum,
                         {.summary = "sum of each row",
                          .formula = "out[r] = sum(x[r, :]), accumulated in f32",
                          .buffers = {kRowX, {"out", "[rows] T"}},
                          .scalars = {kRowN}},
                         [](BenchScale s) { return row_cases(s, {}, true, false, DType::Bool); });
}

KernelInfo row_max::info() {
  return row_kernel_info(build_row_max,
                         {.summary = "largest element of each row",
                          .formula = "out[r] = max(x[r, :])",
                          .buffers = {kRowX, {"out", "[rows] T"}},
                          .scalars = {kRowN}},
                         [](BenchScale s) { return row_cases(s, {}, true, false, DType::Bool); });
}

KernelInfo argmax::info() {
  return row_kernel_info(build_argmax,
                         {.summary = "index of the largest element of each row",
                          .formula = "out[r] = argmax(x[r, :]), the lowest index on ties",
                          .buffers = {kRowX, {"out", "[rows] u32"}},
                          .scalars = {kRowN}},
                         [](BenchScale s) { return row_cases(s, {}, true, false, DType::U32); });
}

}  // namespace mt::kernels::mlx::rows
