// Quantised GEMM: out[m, n] = sum_k a[m, k] * w[n, k] with w the MLX affine weight as
// dequantize_affine writes it, w = T(T(q) * scale) + bias (mx.quantized_matmul with
// transpose=True; the prefill counterpart of qgemv_affine). f16 and bf16 run on the tensor
// cores, f32 on the CUDA cores.
//
// Tensor cores: the pipeline of the dense gemm (gemm.cpp) with the weight tile made, not
// copied. Each threadgroup owns a BM x BN block of out; k is walked in slices of 64 (two
// 32-code units of every weight row). The slices of `a` go through a ring of STAGES swizzled
// threadgroup tiles by asynchronous copies, as in gemm; the weight slices go through a ring of
// the same depth, written by the threads themselves: while the warps multiply slice t, every
// thread has the codes, scales and biases of slice t + 1 in flight (global loads into
// registers, 16 bytes at a time for 4 and 8 bits), and at the top of the next step it
// dequantises them into their stage, eight values of T to a 16-byte chunk of the swizzled
// tile (consecutive, 16-byte aligned elements, which the GPU compiler merges into one store;
// the swizzle puts the chunks eight threads store in eight bank groups). One barrier per
// slice orders every hazard: the slice of a has landed (copy_async_wait before it), every
// thread's weights of the slice are stored, and the stages written next (a's oldest, the
// weights' following one) are no longer read. Tails: rows of a past m and columns past
// k copy zeros; weight rows past n repeat row n - 1 and units past k get a zero scale and
// bias, so their weights are 0; stores past m or n are skipped.
//
// f32 (no f32 tensor-core MMA): 64 x 64 blocks of 128 threads of 8 x 4 outputs each, k in
// slices of one unit through two row-major threadgroup tiles (rows padded to 33 floats, so
// the threads that read a column of the weight tile hit 32 banks), fmas in f32.
//
// Contract: the affine format (bits, group_size, k a positive multiple of group_size); m, n
// > 0; every length as the shapes imply (products checked without wrapping, so no index
// below passes 2^32); tpg = (THREADS, 1, 1) on a 1-D grid.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../activation_kernel.hpp"
#include "affine_entry.hpp"
#include "affine_format.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/dsl/tile.hpp"
#include "metaltile/kernels/mlx/quantized.hpp"

namespace mt::kernels::mlx::quantized {
namespace {

using namespace affine;

constexpr DType F32 = DType::F32;
constexpr DType U32 = DType::U32;
constexpr std::uint32_t kSliceUnits = 2;                    // units of a weight row a k slice
constexpr std::uint32_t kSlice = kSliceUnits * kUnitCodes;  // k slice of the tensor-core path
constexpr std::uint32_t kMaxUnitWords = 8;                  // a unit is `bits` <= 8 words
constexpr std::uint32_t kThreads = 128;                     // the entry's kernels
constexpr std::uint32_t kSimtBlock = 64, kSimtStride = kUnitCodes + 1;

struct QgemmConfig {
  std::uint32_t bm, bn, stages, warps_m, warps_n;
  constexpr std::uint32_t threads() const { return 32 * warps_m * warps_n; }
  constexpr std::uint32_t wm() const { return bm / warps_m; }
  constexpr std::uint32_t wn() const { return bn / warps_n; }
  // Each thread dequantises this many consecutive units of one weight row per slice.
  constexpr std::uint32_t units_per_thread() const { return bn * kSliceUnits / threads(); }
  constexpr bool splits_slices() const {
    return bn * kSliceUnits % threads() == 0 && units_per_thread() >= 1 &&
           kSliceUnits % units_per_thread() == 0;
  }
};

constexpr QgemmConfig k64x64{64, 64, 3, 2, 2};
constexpr QgemmConfig k128x128{128, 128, 3, 2, 2};
constexpr QgemmConfig k128x128W8{128, 128, 3, 2, 4};

// The tensors, scalars and preconditions of every qgemm kernel.
struct QgemmParams {
  Tensor a, wq, scales, biases, out;
  Val m, n, k, group_size, bits;
};

QgemmParams declare_qgemm(KernelBuilder& b, DType t, std::uint32_t threads) {
  QgemmParams q{b.input("a", t),      b.input("wq", U32), b.input("scales", t),
                b.input("biases", t), b.output("out", t), b.scalar_u32("m"),
                b.scalar_u32("n"),    b.scalar_u32("k"),  b.scalar_u32("group_size"),
                b.scalar_u32("bits")};
  require_affine_format(b, q.bits, q.group_size);
  b.require(q.m > 0u && q.n > 0u, "m and n are positive");
  b.require(q.k > 0u && q.k % q.group_size == 0u, "k > 0 and k % group_size == 0");
  const Val row_groups = q.k / q.group_size;
  b.require_len(q.a, q.m * q.k, "m*k");
  b.require_len(q.wq, q.n * (q.k / 32u * q.bits), "n*k*bits/32");
  b.require_len(q.scales, q.n * row_groups, "n*k/group_size");
  b.require_len(q.biases, q.n * row_groups, "n*k/group_size");
  b.require_len(q.out, q.m * q.n, "m*n");
  require_1d_launch(b);
  b.require(threads_per_threadgroup(0) == threads, "tpg = (" + std::to_string(threads) + ", 1, 1)");
  return q;
}

// The scale and bias of unit `unit` of weight row `row`, and the unit clamped into the row:
// past the row's end (k, not a multiple of the slice) both are 0, so its weights are 0.
struct UnitParams {
  Val unit, scale, bias;
};
UnitParams unit_params(const QgemmParams& q, const Val& row, const Val& unit) {
  const Val units = q.k / kUnitCodes, inside = unit < units, at = min(unit, units - 1u);
  const Val group = row * (q.k / q.group_size) + (at >> units_per_group_shift(q.group_size));
  return {at, select(inside, q.scales[group], 0), select(inside, q.biases[group], 0)};
}

// Values at (row, col ..) of tile `stage`, col a multiple of the 16-byte chunk: consecutive
// elements from a 16-byte boundary, which the GPU compiler merges into 16-byte stores.
void store_run(const SharedTiles& tiles, const Val& stage, const Val& row, const Val& col,
               std::span<const Val> values) {
  const Val first = tiles.at(stage, row, col);
  for (std::uint32_t i = 0; i < values.size(); ++i) {
    tiles.array()[i == 0 ? first : first + i] = values[i];
  }
}

// A thread's share of each k slice of the block's weight rows: `count` consecutive units of
// one row. load() puts the codes (and scales and biases) of a slice in flight into registers;
// store() dequantises them into a stage of the weight tiles, in a later step of the loop (so
// they travel in per-thread arrays, not in values of one step).
class SliceDequantizer {
 public:
  SliceDequantizer(const QgemmParams& q, const Val& row, const Val& tile_row, const Val& first,
                   std::uint32_t count)
      : q_(q),
        row_(row),
        tile_row_(tile_row),
        first_(first),
        count_(count),
        words_(thread_array("codes", U32, count * kMaxUnitWords)),
        scales_(thread_array("unit_scales", q.scales.dtype(), count)),
        biases_(thread_array("unit_biases", q.biases.dtype(), count)) {}

  void load(const Val& slice) {
    std::vector<Val> units;
    for (std::uint32_t u = 0; u < count_; ++u) {
      const UnitParams p = unit_params(q_, row_, slice * kSliceUnits + first_ + u);
      units.push_back(p.unit);
      scales_[u] = p.scale;
      biases_[u] = p.bias;
    }
    for_each_bits(q_.bits, [&](std::uint32_t bits) {
      const Val row_first = row_ * (q_.k / 32u * bits);
      for (std::uint32_t u = 0; u < count_; ++u) {
        const std::vector<Val> w = load_unit_words(q_.wq, row_first + units[u] * bits, bits);
        for (std::uint32_t j = 0; j < bits; ++j) words_[u * kMaxUnitWords + j] = w[j];
      }
    });
  }

  void store(const SharedTiles& tiles, const Val& stage) const {
    const std::uint32_t chunk = 16 / static_cast<std::uint32_t>(size_of(tiles.dtype()));
    for_each_bits(q_.bits, [&](std::uint32_t bits) {
      for (std::uint32_t u = 0; u < count_; ++u) {
        std::vector<Val> words;
        for (std::uint32_t j = 0; j < bits; ++j) words.push_back(words_[u * kMaxUnitWords + j]);
        const std::vector<Val> w = dequantize_unit_values(words, bits, scales_[u], biases_[u]);
        const Val col = (first_ + u) * kUnitCodes;
        for (std::uint32_t c = 0; c < kUnitCodes; c += chunk) {
          store_run(tiles, stage, tile_row_, c == 0 ? col : col + c,
                    std::span<const Val>(w).subspan(c, chunk));
        }
      }
    });
  }

 private:
  const QgemmParams& q_;
  Val row_, tile_row_, first_;
  std::uint32_t count_;
  // Registers carried from load() to store() across the loop's back edge: the units' words
  // ([count, kMaxUnitWords] u32), scales and biases.
  ArrayRef words_, scales_, biases_;

  static ArrayRef thread_array(std::string name, DType t, std::uint32_t size) {
    return KernelBuilder::current().thread_array(std::move(name), t, size);
  }
};

// --- the kernels (the DSL lines the docs count) --------------------------------------------

template <const QgemmConfig& C>
void qgemm_tensor_cores(const QgemmParams& q, DType t) {
  static_assert(C.splits_slices(), "the threads must split a slice's units evenly");
  const MatrixView va = matrix_view(q.a, q.m, q.k), vo = matrix_view(q.out, q.m, q.n);
  const Val tiles_n = (q.n + (C.bn - 1)) / C.bn, block = threadgroup_id(0);
  const Val row0 = block / tiles_n * C.bm, col0 = block % tiles_n * C.bn;
  const Val warp = warp_id();
  const Val warp_row = warp / C.warps_n * C.wm(), warp_col = warp % C.warps_n * C.wn();

  const SharedTiles sa("a_tiles", t, C.bm, kSlice, C.stages);
  const SharedTiles sw("w_tiles", t, C.bn, kSlice, C.stages);
  AccumulatorTile acc("acc", t, C.wm(), C.wn());
  const std::uint32_t units = C.units_per_thread(), threads_per_row = kSliceUnits / units;
  const Val tile_row = thread_id(0) / threads_per_row;
  SliceDequantizer weights(q, min(col0 + tile_row, q.n - 1u), tile_row,
                           thread_id(0) % threads_per_row * units, units);
  const auto load_a = [&](const Val& slice) {
    copy_tile_async(sa, slice % C.stages, va, row0, slice * kSlice, C.threads(), true);
    copy_async_commit();
  };

  for (std::uint32_t s = 0; s + 1 < C.stages; ++s) load_a(u32(s));
  weights.load(u32(0));
  const Val slices = (q.k + (kSlice - 1)) / kSlice;
  for (Val slice : range(0u, slices)) {
    weights.store(sw, slice % C.stages);  // the codes loaded during the last slice's MMAs
    copy_async_wait(C.stages - 2);        // a's slice has landed for this thread's copies...
    barrier();                            // ...and everyone's, and every thread's weights
    load_a(slice + (C.stages - 1));
    weights.load(min(slice + 1u, slices - 1u));  // in flight while the MMAs run
    acc.mma(sa, slice % C.stages, warp_row, sw, warp_col);
  }
  acc.store(vo, row0 + warp_row, col0 + warp_col);
}

void qgemm_simt(KernelBuilder& b, const QgemmParams& q) {
  const Val tiles_n = (q.n + (kSimtBlock - 1)) / kSimtBlock, block = threadgroup_id(0);
  const Val row0 = block / tiles_n * kSimtBlock, col0 = block % tiles_n * kSimtBlock;
  const Val tid = thread_id(0), tx = tid % 16u, ty = tid / 16u;  // out rows ty + 8i, cols tx + 16j
  const ArrayRef as = b.threadgroup_array("a_tile", F32, kSimtBlock * kSimtStride);
  const ArrayRef ws = b.threadgroup_array("w_tile", F32, kSimtBlock * kSimtStride);
  const ArrayRef acc = b.thread_array("acc", F32, 32);
  for (std::uint32_t i = 0; i < 32; ++i) acc[i] = f32(0.0f);
  const Val w_row = min(col0 + tid, q.n - 1u);
  for (Val unit : range(0u, q.k / kUnitCodes)) {
    for (std::uint32_t i = 0; i < kSimtBlock * kUnitCodes / kThreads; ++i) {
      const Val r = tid / kUnitCodes + i * (kThreads / kUnitCodes), c = tid % kUnitCodes;
      const Val row = row0 + r;
      const Val x = q.a[min(row, q.m - 1u) * q.k + unit * kUnitCodes + c];
      as[r * kSimtStride + c] = select(row < q.m, x, 0.0f);
    }
    if_(tid < kSimtBlock, [&] {
      const UnitParams p = unit_params(q, w_row, unit);
      for_each_bits(q.bits, [&](std::uint32_t bits) {
        const Val first = w_row * (q.k / 32u * bits) + unit * bits;
        const std::vector<Val> w =
            dequantize_unit_values(load_unit_words(q.wq, first, bits), bits, p.scale, p.bias);
        for (std::uint32_t i = 0; i < kUnitCodes; ++i) ws[tid * kSimtStride + i] = w[i];
      });
    });
    barrier();
    for (Val kk : range(u32(0), u32(kUnitCodes))) {
      for (std::uint32_t i = 0; i < 8; ++i) {
        const Val x = as[(ty + 8 * i) * kSimtStride + kk];
        for (std::uint32_t j = 0; j < 4; ++j) {
          acc[i * 4 + j] = fma(x, ws[(tx + 16 * j) * kSimtStride + kk].load(), acc[i * 4 + j]);
        }
      }
    }
    barrier();
  }
  for (std::uint32_t i = 0; i < 8; ++i) {
    for (std::uint32_t j = 0; j < 4; ++j) {
      const Val row = row0 + ty + 8 * i, col = col0 + tx + 16 * j;
      const Val value = acc[i * 4 + j];
      if_(row < q.m && col < q.n, [&] { q.out[row * q.n + col] = value; });
    }
  }
}

// The entry: 64 x 64 blocks of 128 threads, on the tensor cores for f16 and bf16.
void build_qgemm(KernelBuilder& b, DType t) {
  const QgemmParams q = declare_qgemm(b, t, kThreads);
  if (t == F32) return qgemm_simt(b, q);
  qgemm_tensor_cores<k64x64>(q, t);
}

template <const QgemmConfig& C>
void build_qgemm_variant(KernelBuilder& b, DType t) {
  qgemm_tensor_cores<C>(declare_qgemm(b, t, C.threads()), t);
}

// --- registration: docs, geometry rules and benchmark shapes ------------------------------

LaunchPlan qgemm_launch(const LaunchShape& s, const QgemmConfig& c, std::string kernel) {
  LaunchStep step;
  step.kernel = std::move(kernel);
  step.grid = {geometry::ceil_div(s.u32("m"), c.bm) * geometry::ceil_div(s.u32("n"), c.bn), 1, 1};
  step.tpg = {c.threads(), 1, 1};
  return LaunchPlan{{}, {step}};
}

// f32 and problems with fewer 128 x 128 blocks than the GPU has multiprocessors run the entry's
// own 64 x 64 blocks; the rest qgemm_affine_128x128.
LaunchPlan qgemm_rule(const LaunchShape& s) {
  const std::size_t blocks =
      geometry::ceil_div(s.u32("m"), 128) * geometry::ceil_div(s.u32("n"), 128);
  if (s.dtype() == F32 || blocks < s.limits().multiprocessors) return qgemm_launch(s, k64x64, "");
  return qgemm_launch(s, k128x128, std::string(qgemm_affine_128x128::name));
}

BenchCase qgemm_case(std::size_t m, const QuantisedWeight& w) {
  BenchCase c{"M" + std::to_string(m) + " N" + std::to_string(w.n) + " K" + std::to_string(w.k) +
                  " " + w.label(),
              DType::BF16,
              {},
              {},
              {},
              0.0,
              0.0};
  w.add_to(c);
  c.elements["a"] = m * w.k;
  c.elements["out"] = m * w.n;
  c.scalars["m"] = std::uint32_t(m);
  c.scalars["n"] = std::uint32_t(w.n);
  c.scalars["k"] = std::uint32_t(w.k);
  c.bytes = w.bytes(DType::BF16) + 2.0 * double(m * w.k + m * w.n);
  c.flops = 2.0 * double(m) * double(w.n) * double(w.k);
  return c;
}

// A prefill MLP projection (M = 512 tokens, N = 14336, K = 4096), 4- and 8-bit in groups of
// 64, and a square 4096^3 at 4 bits (gemm's shape); smoke: one small odd shape.
std::vector<BenchCase> qgemm_cases(BenchScale scale) {
  if (scale == BenchScale::Smoke) return {qgemm_case(17, {40, 96, 32, 4})};
  return {qgemm_case(512, {14336, 4096, 64, 4}), qgemm_case(512, {14336, 4096, 64, 8}),
          qgemm_case(4096, {4096, 4096, 64, 4})};
}

KernelInfo qgemm_info(void (*body)(KernelBuilder&, DType), std::vector<DType> dtypes,
                      GeometryRule rule, std::string summary, std::string geometry) {
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = std::move(dtypes),
      .body = body,
      .doc = {.summary = std::move(summary),
              .formula = "out[m, n] = sum_k a[m, k] * w[n, k], w = T(T(q[n, k]) * scale[n, g]) + "
                         "bias[n, g] (g = k / group_size: dequantize_affine's weights), f32 "
                         "accumulation, rounded to T once",
              .buffers = {{"a", "[M, K] T"}, kWqDoc, kScalesDoc, kBiasesDoc, {"out", "[M, N] T"}},
              .scalars = {{"m", "u32: M (> 0)"},
                          {"n", "u32: N, the rows of the weight (> 0)"},
                          {"k", "u32: K (a positive multiple of group_size)"},
                          kGroupSizeDoc,
                          kBitsDoc},
              .geometry = std::move(geometry)},
      .geometry = std::move(rule),
      .bench = qgemm_cases,
  };
}

std::string tensor_core_geometry(const QgemmConfig& c) {
  const std::string bm = std::to_string(c.bm), bn = std::to_string(c.bn);
  return "Reduction mode, " + std::to_string(c.threads()) + " threads a group, one group per " +
         bm + " x " + bn + " block of out (ceil(m / " + bm + ") * ceil(n / " + bn +
         ") groups, n fastest); k in slices of 64 through " + std::to_string(c.stages) +
         " stages of a tiles and dequantised weight tiles; " +
         std::to_string(c.warps_m * c.warps_n) + " warps of " + std::to_string(c.wm()) + " x " +
         std::to_string(c.wn());
}

}  // namespace

KernelInfo qgemm_affine::info() {
  return qgemm_info(
      build_qgemm, activation_dtypes(), qgemm_rule,
      "quantised GEMM a * dequantize(W)ᵀ (mx.quantized_matmul, transpose) for prefill: runs "
      "qgemm_affine_128x128 for large f16/bf16 problems, else this kernel (64 x 64 blocks; "
      "tensor cores for f16/bf16, CUDA cores for f32)",
      tensor_core_geometry(k64x64) +
          "; f32: the same groups and blocks, each thread 8 x 4 outputs, k in slices of 32");
}
KernelInfo qgemm_affine_128x128::info() {
  return qgemm_info(
      build_qgemm_variant<k128x128>, {DType::F16, DType::BF16},
      [](const LaunchShape& s) { return qgemm_launch(s, k128x128, ""); },
      "quantised GEMM, 128 x 128 blocks, 3 stages, 4 warps of 64 x 64",
      tensor_core_geometry(k128x128));
}
KernelInfo qgemm_affine_128x128_w8::info() {
  return qgemm_info(
      build_qgemm_variant<k128x128W8>, {DType::F16, DType::BF16},
      [](const LaunchShape& s) { return qgemm_launch(s, k128x128W8, ""); },
      "quantised GEMM, 128 x 128 blocks, 3 stages, 8 warps of 64 x 32",
      tensor_core_geometry(k128x128W8));
}

}  // namespace mt::kernels::mlx::quantized
