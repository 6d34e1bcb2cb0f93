// Dense GEMV for decode: out[m, n] = sum_k x[m, k] * w[n, k], M = 1..16, accumulated in f32.
//
// The weight is read exactly once, so the kernel is a stream over w at the memory roofline:
// each lane issues R * U 16-byte loads of w (R weight rows of its warp, U vectors of each)
// before it uses any, so enough bytes are in flight per SM; x (at most 16 rows, tiny) is read
// through L1 and converted once per load, then reused for the R weight rows; every weight
// element is converted once and reused for the M x-rows. The inner loop is one fma per
// (weight element, x-row). Rows whose length is not a multiple of the 16-byte lane count are
// read one element per lane instead (any K works). gemv_layout.hpp has the warp layout.
#include "metaltile/kernels/mlx/gemv.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "gemv_body.hpp"
#include "gemv_layout.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt::kernels::mlx::gemv {
namespace {

// x-rows per pass, weight rows per warp, 16-byte vectors per weight row in flight per lane.
template <std::uint32_t XRows, std::uint32_t RowsPerWarp, std::uint32_t Unroll>
void build_gemv(KernelBuilder& b, DType T) {
  Tensor w = b.input("w", T), x = b.input("x", T);
  Tensor out = b.output("out", T);
  Val k = b.scalar_u32("k"), n = b.scalar_u32("n");
  require_gemv_rows(b, x, out, k, n, XRows);
  b.require_len(w, n * k, "n*k");

  const GemvTiling t{XRows, RowsPerWarp};
  const GemvPlace p = place_gemv_warp(x, k, n, t);
  std::vector<Var> acc = gemv_accumulators(t);
  if_(p.active, [&] {
    accumulate_dense_gemv(w, k, p, t, Unroll, read_x_rows(x, p), acc);
    store_gemv_results(out, p, n, acc, t);
  });
}

// --- registration: docs, geometry rules and benchmark shapes ------------------------------

// The variant that serves M rows of x: the fewest accumulators that hold them.
LaunchPlan gemv_rule(const LaunchShape& s) {
  const std::size_t k = s.u32("k"), n = s.u32("n");
  const std::size_t m = s.elements("x") / k;
  if (m <= 1) return gemv_launch(n, 1, std::string(gemv_m1::name));
  if (m <= 4) return gemv_launch(n, 2, std::string(gemv_m4::name));
  if (m <= 8) return gemv_launch(n, 4, std::string(gemv_m8::name));
  return gemv_launch(n, 4, "");
}

std::vector<BenchCase> gemv_cases(BenchScale scale, const std::vector<std::size_t>& ms) {
  std::vector<BenchCase> cases;
  for (const GemvShape& s : gemv_shapes(scale)) {
    for (std::size_t m : ms) {
      BenchCase c{s.label(m), DType::BF16, {}, {}, {}, 0.0, 0.0};
      c.elements = {{"w", s.n * s.k}, {"x", m * s.k}, {"out", m * s.n}};
      c.scalars = {{"k", std::uint32_t(s.k)}, {"n", std::uint32_t(s.n)}};
      c.bytes = 2.0 * double(s.n * s.k + m * s.k + m * s.n);
      c.flops = 2.0 * double(m * s.n * s.k);
      cases.push_back(c);
    }
  }
  return cases;
}

KernelInfo gemv_info(void (*body)(KernelBuilder&, DType), std::uint32_t x_rows,
                     std::uint32_t rows_per_warp, std::uint32_t unroll, GeometryRule rule,
                     std::vector<std::size_t> bench_ms, std::string summary) {
  const std::string most = std::to_string(x_rows);
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = body,
      .doc = {.summary = std::move(summary),
              .formula = "out[m, n] = sum_k x[m, k] * w[n, k], in f32, rounded to T once",
              .buffers = {{"w", "[N, K] T: the weight (row n is output feature n)"},
                          {"x", "[M, K] T: 1 <= M <= " + most + " rows"},
                          {"out", "[M, N] T"}},
              .scalars = {{"k", "u32: K, the row length of w and x (> 0)"},
                          {"n", "u32: N, the rows of w (> 0)"}},
              .geometry = "Reduction mode, " + std::to_string(kGemvThreads) +
                          " threads a group; each warp owns " + std::to_string(rows_per_warp) +
                          " weight row(s) (ceil(n / " + std::to_string(kGemvWarps * rows_per_warp) +
                          ") groups), lanes split K with " + std::to_string(unroll) +
                          " 16-byte vector(s) per row in flight; " + most +
                          " x-rows per pass (x-rows past M re-read row M - 1, never stored)"},
      .geometry = std::move(rule),
      .bench = [ms = std::move(bench_ms)](BenchScale s) { return gemv_cases(s, ms); },
  };
}

}  // namespace

KernelInfo gemv::info() {
  return gemv_info(build_gemv<16, 4, 1>, 16, 4, 1, gemv_rule, {1, 4, 16},
                   "dense GEMV for M = 1..16 rows of x: runs gemv_m1, gemv_m4 or gemv_m8 when M "
                   "fits, else this kernel (16 x-rows a pass)");
}
KernelInfo gemv_m1::info() {
  return gemv_info(
      build_gemv<1, 1, 4>, 1, 1, 4,
      [](const LaunchShape& s) { return gemv_launch(s.u32("n"), 1, ""); }, {1},
      "dense GEMV for one row of x: one weight row per warp, four 16-byte loads per lane in "
      "flight");
}
KernelInfo gemv_m4::info() {
  return gemv_info(
      build_gemv<4, 2, 2>, 4, 2, 2,
      [](const LaunchShape& s) { return gemv_launch(s.u32("n"), 2, ""); }, {4},
      "dense GEMV for up to 4 rows of x: two weight rows per warp");
}
KernelInfo gemv_m8::info() {
  return gemv_info(
      build_gemv<8, 4, 1>, 8, 4, 1,
      [](const LaunchShape& s) { return gemv_launch(s.u32("n"), 4, ""); }, {8},
      "dense GEMV for up to 8 rows of x: four weight rows per warp");
}

}  // namespace mt::kernels::mlx::gemv
