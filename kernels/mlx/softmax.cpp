// Row softmax in two passes over the row. The first keeps a running max and the sum of
// exponentials rescaled to it, one rescale per vector of elements; the threadgroup combines
// the (max, sum) pairs; the second pass writes the normalised exponentials.
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/kernels/mlx/rows.hpp"
#include "order_key.hpp"
#include "row_entry.hpp"

namespace mt::kernels::mlx::rows {
namespace {

// exp(a - b), taken as 1 when a == b so that two -inf give 1 rather than NaN.
Val exp_diff(const Val& a, const Val& b) { return select(a == b, 1.0f, exp(a - b)); }

void build_softmax(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T);
  Tensor out = k.output("out", T);
  RowLoop r = row_loop(k, x);
  require_out_per_element(k, out, x);
  if_(r.in_range, [&] {
    Var run_max = f32(-kInfinity);
    Var run_sum = f32(0.0f);
    for_each_chunk(r, x, [&](const std::vector<Val>& values, const Val&) {
      Val chunk_max = values[0];
      for (std::size_t j = 1; j < values.size(); ++j) chunk_max = max(chunk_max, values[j]);
      Val new_max = max(run_max, chunk_max);
      Val sum = run_sum * exp_diff(run_max, new_max);
      // An element of -inf adds exactly 0, also while the running max is still -inf.
      for (const Val& v : values) sum = sum + select(v == -kInfinity, 0.0f, exp(v - new_max));
      run_sum = sum;
      run_max = new_max;
    });
    Val row_max = threadgroup_max(run_max);
    Val inv_sum = 1.0f / threadgroup_sum(run_sum * exp_diff(run_max, row_max));

    map_elements(r, x, {}, out,
                 [&](const Val& v, const std::vector<Val>&) { return exp(v - row_max) * inv_sum; });
  });
}

}  // namespace

KernelInfo softmax::info() {
  return row_kernel_info(
      build_softmax,
      {.summary = "softmax of each row",
       .formula = "out = exp(x - max(x)) / sum(exp(x - max(x))), per row, in f32",
       .buffers = {kRowX, {"out", "[rows, n] T"}},
       .scalars = {kRowN}},
      [](BenchScale s) { return row_cases(s, {}, false, false, DType::Bool); });
}

}  // namespace mt::kernels::mlx::rows
