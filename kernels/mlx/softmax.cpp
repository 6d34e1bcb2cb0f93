// Row softmax in two passes over the row: an online pass keeps a running max and the sum of
// exponentials rescaled to it; the threadgroup combines the (max, sum) pairs; a second pass
// writes the normalised exponentials.
#include "metaltile/kernels/mlx/rows.hpp"
#include "row_loop.hpp"

namespace mt::kernels::mlx {
namespace {

// exp(a - b), taken as 1 when a == b so that two -inf give 1 rather than NaN.
Val exp_diff(const Val& a, const Val& b) { return select(a == b, 1.0f, exp(a - b)); }

void build_softmax(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T);
  Tensor out = k.output("out", T);
  RowLoop r = row_loop(k, x);
  if_(r.in_range, [&] {
    Var run_max = f32(-kInfinity);
    Var run_sum = f32(0.0f);
    for_each_element(r, x, [&](const Val& v, const Val&) {
      Val new_max = max(run_max, v);
      Val term = select(v == -kInfinity, 0.0f, exp_diff(v, new_max));
      run_sum = run_sum * exp_diff(run_max, new_max) + term;
      run_max = new_max;
    });
    Val row_max = threadgroup_max(run_max);
    Val inv_sum = 1.0f / threadgroup_sum(run_sum * exp_diff(run_max, row_max));

    map_elements(r, x, out, [&](const Val& v, const Val&) { return exp(v - row_max) * inv_sum; });
  });
}

}  // namespace

Kernel softmax::kernel_ir_for(DType t) { return trace_row_kernel(name, build_softmax, t); }

}  // namespace mt::kernels::mlx
