// Fused residual RMS norm and the RMS norm of many short rows.
//
// add_rms_norm is the pre-norm residual step of a decoder layer: one threadgroup per row adds
// the residual (h is rounded to T and stored), accumulates sum(h^2) from the rounded values,
// and after the threadgroup reduction makes the scaled output from h read back (its own
// writes, from L2). Keeping h in registers instead (tried: up to 8 vectors a thread) took 95
// registers a thread, so 1024-thread launches failed, and reached only 82 % of copy on the H200.
// Both passes use 16-byte vectors when n is a multiple of the vector width.
//
// rms_norm_short_rows serves rows too short to keep a threadgroup busy (per-head q/k norm:
// n = head_dim = 128, so one row is 16 vectors of bf16). A team of `team` lanes (the row's
// vector count rounded up to a power of two, at most 32) shares a row; a threadgroup of 256
// threads holds 256 / team rows, and the team reduces sum(x^2) with warp shuffles, so no
// threadgroup barrier is needed. The team size is derived from n in the kernel (uniform
// arithmetic the compiler hoists) and by the geometry rule (short_rows.hpp) in the same way.
//
// Contracts: a 1-D launch (short rows: of whole warps), x of whole rows and every other buffer
// exactly as long as x or n imply; a row's elements are then row*n + i < len(x), which fits u32.
#include "metaltile/kernels/ffai/norms.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "../mlx/row_entry.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "short_rows.hpp"

namespace mt::kernels::ffai::norms {
namespace {

constexpr DType F32 = DType::F32;

// The scalars every RMS norm here shares; requires len(w) == n.
struct NormScalars {
  Val eps;
  Val weight_offset;
};

NormScalars norm_scalars(KernelBuilder& k, const Tensor& w, const Val& n) {
  NormScalars s{k.scalar_f32("eps"), k.scalar_f32("weight_offset")};
  k.require_len(w, n, "n");
  return s;
}

// One normalised element in f32: v * scale * (w + weight_offset).
Val scaled(const Val& v, const Val& scale, const Val& w, const Val& weight_offset) {
  return v * scale * (w + weight_offset);
}

// The row's scale, 1 / sqrt(mean(h^2) + eps), from each thread's sum of h^2 (a threadgroup
// reduction, whose barrier also orders the threads' writes of h before later reads).
Val rms_scale(const Val& sum_sq, const RowLoop& r, const NormScalars& s) {
  return rsqrt(threadgroup_sum(sum_sq) / r.n.to(F32) + s.eps);
}

// round_T(a + b), the sum taken in f32; adds the square of the rounded value to sum_sq.
Val add_rounded(const Val& a, const Val& b, DType t, Var& sum_sq) {
  Val rounded = (a.to(F32) + b.to(F32)).to(t);
  Val v = rounded.to(F32);
  sum_sq += v * v;
  return rounded;
}

// out[row, i] = x[row, i] * scale * (w[i] + weight_offset) for the elements this thread owns.
void write_scaled(const RowLoop& r, const Tensor& x, const Tensor& w, const Tensor& out,
                  const Val& scale, const Val& weight_offset) {
  map_elements(r, x, {w}, out, [&](const Val& v, const std::vector<Val>& wi) {
    return scaled(v, scale, wi[0], weight_offset);
  });
}

// h[row, i] = round_T(x[row, i] + residual[row, i]) for the elements this thread owns (in the
// order map_elements visits them); returns this thread's sum of h^2 over the rounded values.
Val add_rows(const RowLoop& r, const Tensor& x, const Tensor& residual, const Tensor& h) {
  KernelBuilder& k = x.builder();
  const DType T = x.dtype();
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(T));
  Var sum_sq = f32(0.0f);
  auto add = [&](const Val& a, const Val& b) { return add_rounded(a, b, T, sum_sq); };
  if_(r.n % lanes == 0u, [&] {
    for (Val chunk : range(r.first, r.n / lanes, r.stride)) {
      Val at = r.base + chunk * lanes;
      ArrayRef xv = load_vector(x, at, lanes);
      ArrayRef rv = load_vector(residual, at, lanes);
      ArrayRef hv = k.thread_array("h_vec", T, lanes);
      for (std::uint32_t j = 0; j < lanes; ++j) {
        Val xj = xv[j];
        hv[j] = add(xj, rv[j]);
      }
      store_vector(h, at, hv, lanes);
    }
  }).else_([&] {
    for (Val i : r.elements()) {
      Val xi = x[r.base + i];
      h[r.base + i] = add(xi, residual[r.base + i]);
    }
  });
  return sum_sq;
}

void build_add_rms_norm(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T), residual = k.input("residual", T), w = k.input("w", T);
  Tensor h = k.output("h", T), out = k.output("out", T);
  RowLoop r = row_loop(k, x);
  NormScalars s = norm_scalars(k, w, r.n);
  k.require_len(residual, x.len(), "rows*n = len(x)");
  require_out_per_element(k, h, x);
  require_out_per_element(k, out, x);
  if_(r.in_range, [&] {
    Val scale = rms_scale(add_rows(r, x, residual, h), r, s);
    // The barrier inside threadgroup_sum orders every write of h before these reads.
    write_scaled(r, h, w, out, scale, s.weight_offset);
  });
}

// The team of lanes sharing one row: `size` (a power of two, 1..32) and its log2, derived
// from n as short_row_team() does on the host.
struct Team {
  Val size;
  Val log2;
};

Team team_for(const Val& n, DType t) {
  const std::uint32_t lanes = static_cast<std::uint32_t>(16 / size_of(t));
  Val work = select(n % lanes == 0u, n / lanes, n);
  Var size = u32(1), log2 = u32(0);
  for (std::uint32_t b = 1; b <= 5; ++b) {
    Val bigger = work > (1u << (b - 1));
    size = select(bigger, u32(1u << b), size);
    log2 = select(bigger, u32(b), log2);
  }
  return Team{size, log2};
}

// The sum of v over the team of lanes (a butterfly inside the warp; every lane of the warp
// takes part, partners outside the team are ignored).
Val team_sum(const Val& v, const Val& team_size) {
  Val sum = v;
  for (std::uint32_t m = 16; m >= 1; m /= 2) {
    Val other = warp_shuffle_xor(sum, m);
    sum = sum + select(team_size > m, other, 0.0f);
  }
  return sum;
}

void build_rms_norm_short_rows(KernelBuilder& k, DType T) {
  Tensor x = k.input("x", T), w = k.input("w", T);
  Tensor out = k.output("out", T);
  Val n = k.scalar_u32("n");
  require_1d_launch(k);
  // A team is a power of two of at most 32 lanes, so a group of whole warps holds whole teams
  // (a partial team would sum part of a row and store it over the next group's first row).
  k.require(threads_per_threadgroup(0) % 32u == 0u, "tpg.x % 32 == 0 (whole warps)");
  k.require(n > 0u, "n > 0");
  k.require_len_multiple(x, n, "n (whole rows)");
  NormScalars s = norm_scalars(k, w, n);
  require_out_per_element(k, out, x);

  Team team = team_for(n, T);
  Val rows_per_group = threads_per_threadgroup(0) >> team.log2;
  Val row = threadgroup_id(0) * rows_per_group + (thread_id(0) >> team.log2);
  const Val rows = x.len() / n;
  RowLoop r{row, row * n, thread_id(0) & (team.size - 1u), team.size, n, rows, row < rows};

  // Lanes of rows past the end still take part in the shuffles, with nothing to add.
  Var sum_sq = f32(0.0f);
  if_(r.in_range,
      [&] { for_each_element(r, x, [&](const Val& v, const Val&) { sum_sq += v * v; }); });
  Val scale = rsqrt(team_sum(sum_sq, team.size) / n.to(F32) + s.eps);
  if_(r.in_range, [&] { write_scaled(r, x, w, out, scale, s.weight_offset); });
}

// ---- registry entries ---------------------------------------------------------------------------

const ParamDoc kN{"n", "u32: row length (> 0; len(x) is a whole number of rows)"};
const ParamDoc kEps{"eps", "f32: added to the mean square under the root"};
const ParamDoc kOffset{"weight_offset", "f32: added to each weight (0: Llama, Qwen; 1: Gemma)"};

double elements_bytes(std::size_t n, DType t) { return double(n) * double(size_of(t)); }

// rows x n rows of T; `streams` row-sized tensors moved (read or written), plus w.
BenchCase norm_case(std::string label, std::size_t rows, std::size_t n, DType t,
                    const std::vector<std::string>& row_tensors) {
  BenchCase b{std::move(label), t, {}, {}, {}, 0.0, 0.0};
  for (const std::string& name : row_tensors) b.elements[name] = rows * n;
  b.elements["w"] = n;
  b.scalars = {{"n", std::uint32_t(n)}, {"eps", 1e-6f}, {"weight_offset", 0.0f}};
  b.bytes = double(row_tensors.size()) * elements_bytes(rows * n, t) + elements_bytes(n, t);
  return b;
}

}  // namespace

KernelInfo add_rms_norm::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_add_rms_norm,
      .doc = {.summary = "residual add and RMS norm of each row, both results stored",
              .formula = "h = round_T(x + residual); out = h * rsqrt(mean(h^2) + eps) * "
                         "(w + weight_offset), in f32 from the rounded h",
              .buffers = {{"x", "[rows, n] T: the layer's output"},
                          {"residual", "[rows, n] T: the residual stream"},
                          {"w", "[n] T: weight"},
                          {"h", "[rows, n] T: the new residual stream"},
                          {"out", "[rows, n] T: the normalised rows"}},
              .scalars = {kN, kEps, kOffset},
              .geometry = "one threadgroup per row (len(x) / n groups); 32-128 threads a "
                          "group, one 16-byte vector or one element per thread per step"},
      .geometry = mlx::rows::row_geometry,
      .bench =
          [](BenchScale scale) {
            const bool full = scale == BenchScale::Full;
            const std::size_t rows = full ? 32768 : 16, n = full ? 4096 : 256;
            return std::vector<BenchCase>{
                norm_case(std::to_string(rows) + " x " + std::to_string(n), rows, n,
                          full ? DType::BF16 : DType::F32, {"x", "residual", "h", "out"})};
          },
  };
}

KernelInfo rms_norm_short_rows::info() {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = activation_dtypes(),
      .body = build_rms_norm_short_rows,
      .doc = {.summary = "RMS norm of many short rows (n <= 256), several rows a threadgroup",
              .formula = "out = x * rsqrt(mean(x^2) + eps) * (w + weight_offset), per row, in f32",
              .buffers = {{"x", "[rows, n] T: the rows (per-head q or k: rows = tokens * heads)"},
                          {"w", "[n] T: weight"},
                          {"out", "[rows, n] T"}},
              .scalars = {kN, kEps, kOffset},
              .geometry = "256 threads a group; a team of min(32, bit_ceil(n / vector width)) "
                          "lanes a row (n lanes when n is not a multiple of the width), "
                          "256 / team rows a group"},
      .geometry = [](const LaunchShape& s) { return short_rows_plan(s, ""); },
      .bench =
          [](BenchScale scale) {
            if (scale == BenchScale::Smoke) {
              return std::vector<BenchCase>{norm_case("20 x 96", 20, 96, DType::F32, {"x", "out"})};
            }
            // Qwen3-8B q and k norm: 32 + 8 heads of 128, a prefill of 4096 tokens and one token.
            return std::vector<BenchCase>{
                norm_case("T4096 x 40 heads x 128", 4096 * 40, 128, DType::BF16, {"x", "out"}),
                norm_case("T1 x 40 heads x 128", 40, 128, DType::BF16, {"x", "out"})};
          },
  };
}

}  // namespace mt::kernels::ffai::norms
