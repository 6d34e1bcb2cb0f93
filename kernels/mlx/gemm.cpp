// Dense GEMM on the tensor cores: out = a * bᵀ, f16/bf16 in, f32 accumulation, any M, N, K.
//
// Each threadgroup owns a BM x BN block of out. Its warps (WARPS_M x WARPS_N, each a WM x WN
// accumulator tile) multiply BK-wide k slices of a and b from a ring of STAGES swizzled
// threadgroup tiles; while they work on slice t the group's threads have already issued the
// asynchronous copies of slices t + 1 .. t + STAGES - 1, so the copies hide behind the tensor
// cores. One barrier per slice orders both hazards: the slice being read has landed (its
// copies were waited for, copy_async_wait(STAGES - 2), before the barrier) and the stage being
// refilled is no longer read (every warp passed the barrier after its last mma on it).
// Tails are masked: chunks past m, n or k copy zeros, stores past m or n are skipped.
// The gemm_wgmma variants (sm_90) keep the ring and the copies but multiply with the warpgroup
// MMA straight from the tiles (build_gemm_wgmma); the gemm_wgmma_tma variants fill the ring
// with bulk copies from one producer thread, ordered by async barriers (build_gemm_wgmma_tma).
//
// Contract: m, n, k > 0; len(a) = m*k, len(b) = n*k, len(out) = m*n (checked without
// wrapping, so no index in the body passes 2^32); the aligned variants need k % 8 == 0 (16-byte
// rows for the asynchronous copies); tpg = (THREADS, 1, 1), a 1-D grid.
#include "metaltile/kernels/mlx/gemm.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "../activation_kernel.hpp"
#include "metaltile/dsl/bulk_tile.hpp"
#include "metaltile/dsl/dsl.hpp"
#include "metaltile/dsl/patterns.hpp"
#include "metaltile/dsl/tile.hpp"
#include "metaltile/dsl/warpgroup_tile.hpp"
#include "metaltile/kernels/launch_plan.hpp"

namespace mt::kernels::mlx::gemm {
namespace {

struct GemmConfig {
  std::uint32_t bm, bn, bk, stages, warps_m, warps_n;
  bool aligned = true;
  std::uint32_t producer_warps = 0;  // warps that only issue copies (the bulk-copy variants)
  std::uint32_t consumer_threads() const { return 32 * warps_m * warps_n; }
  std::uint32_t threads() const { return consumer_threads() + 32 * producer_warps; }
  std::uint32_t wm() const { return bm / warps_m; }
  std::uint32_t wn() const { return bn / warps_n; }
};

constexpr GemmConfig k128x128S3{128, 128, 64, 3, 2, 2};
constexpr GemmConfig k128x128S4{128, 128, 64, 4, 2, 2};
constexpr GemmConfig k128x128W8{128, 128, 64, 3, 2, 4};
constexpr GemmConfig k128x256S3{128, 256, 64, 3, 2, 4};
constexpr GemmConfig k64x64S2{64, 64, 32, 2, 2, 2};
constexpr GemmConfig kUnaligned{64, 64, 32, 2, 2, 2, false};
// Warpgroup MMA (sm_90): warps_m x warps_n = 2 x 4 warps are two warpgroups, each owning 64
// rows and the block's whole width.
constexpr GemmConfig kWgmma128x128{128, 128, 64, 4, 2, 4};
constexpr GemmConfig kWgmma128x256{128, 256, 64, 3, 2, 4};
// Warpgroup MMA fed by bulk copies (sm_90): the two consumer warpgroups and one producer warp.
// Stages fill what threadgroup memory the block may take (one block an SM either way).
constexpr GemmConfig kWgmmaTma128x128{128, 128, 64, 6, 2, 4, true, 1};
constexpr GemmConfig kWgmmaTma128x256{128, 256, 64, 4, 2, 4, true, 1};

// --- the kernels (the DSL lines the docs count) --------------------------------------------

// The contract, the views and where the group's block and the warp's tile lie.
struct GemmBlock {
  MatrixView va, vb, vo;
  Val kk, row0, col0, warp_row, warp_col;
};

GemmBlock gemm_block(KernelBuilder& k, DType t, const GemmConfig& c) {
  const Tensor a = k.input("a", t), b = k.input("b", t), out = k.output("out", t);
  const Val m = k.scalar_u32("m"), n = k.scalar_u32("n"), kk = k.scalar_u32("k");
  k.require(m > 0u && n > 0u && kk > 0u, "m, n and k are positive");
  k.require_len(a, m * kk, "m*k");
  k.require_len(b, n * kk, "n*k");
  k.require_len(out, m * n, "m*n");
  if (c.aligned) k.require(kk % 8u == 0u, "k % 8 == 0 (16-byte rows; gemm takes any k)");
  require_1d_launch(k);
  k.require(threads_per_threadgroup(0) == c.threads(),
            "tpg = (" + std::to_string(c.threads()) + ", 1, 1)");

  const Val tiles_n = (n + (c.bn - 1)) / c.bn, block = threadgroup_id(0), warp = warp_id();
  return GemmBlock{matrix_view(a, m, kk),     matrix_view(b, n, kk),
                   matrix_view(out, m, n),    kk,
                   block / tiles_n * c.bm,    block % tiles_n * c.bn,
                   warp / c.warps_n * c.wm(), warp % c.warps_n * c.wn()};
}

template <const GemmConfig& C>
void build_gemm(KernelBuilder& k, DType t) {
  const GemmBlock g = gemm_block(k, t, C);
  const MatrixView &va = g.va, &vb = g.vb;
  const Val &row0 = g.row0, &col0 = g.col0, &warp_row = g.warp_row, &warp_col = g.warp_col;
  const SharedTiles sa("a_tiles", t, C.bm, C.bk, C.stages);
  const SharedTiles sb("b_tiles", t, C.bn, C.bk, C.stages);
  AccumulatorTile acc("acc", t, C.wm(), C.wn());
  const auto load_slice = [&](const Val& slice) {
    const Val stage = slice % C.stages, k0 = slice * C.bk;
    copy_tile_async(sa, stage, va, row0, k0, C.threads(), C.aligned);
    copy_tile_async(sb, stage, vb, col0, k0, C.threads(), C.aligned);
    copy_async_commit();
  };

  for (std::uint32_t s = 0; s + 1 < C.stages; ++s) load_slice(u32(s));
  const Val slices = (g.kk + (C.bk - 1)) / C.bk;
  for (Val slice : range(0u, slices)) {
    copy_async_wait(C.stages - 2);  // slice has landed for this thread's copies...
    barrier();                      // ...and everyone's; the oldest stage is free again
    load_slice(slice + (C.stages - 1));
    acc.mma(sa, slice % C.stages, warp_row, sb, warp_col);
  }
  acc.store(g.vo, row0 + warp_row, col0 + warp_col);
}

// build_gemm with the k loop unrolled by the stage count (slice round + s lives in stage s, a
// constant, so every tile index is a lane offset computed before the loop plus a constant),
// the fragments of the next k step loaded before the MMAs of this one (two buffers), and
// pairs of outputs stored as one 4-byte vector. The copy of slice t + STAGES - 1 goes into the
// stage of slice t - 1, free since the barrier ending slice t - 1; that barrier (after waiting
// for the thread's copies of slice t) comes before the loads of slice t's first fragments.
template <const GemmConfig& C>
void build_gemm_unrolled(KernelBuilder& k, DType t) {
  static_assert(C.aligned && C.bk % 32 == 0, "an even number of k steps a slice");
  const GemmBlock g = gemm_block(k, t, C);
  const MatrixView &va = g.va, &vb = g.vb;
  const Val &row0 = g.row0, &col0 = g.col0, &warp_row = g.warp_row, &warp_col = g.warp_col;
  const SharedTiles sa("a_tiles", t, C.bm, C.bk, C.stages);
  const SharedTiles sb("b_tiles", t, C.bn, C.bk, C.stages);
  AccumulatorTile acc("acc", t, C.wm(), C.wn());
  const MmaOperands operands(acc, sa, warp_row, sb, warp_col);  // lane offsets: before the loop
  const auto load_slice = [&](const Val& slice, std::uint32_t stage) {
    const Val k0 = slice * C.bk;
    copy_tile_async(sa, u32(stage), va, row0, k0, C.threads(), true);
    copy_tile_async(sb, u32(stage), vb, col0, k0, C.threads(), true);
    copy_async_commit();
  };

  for (std::uint32_t s = 0; s + 1 < C.stages; ++s) load_slice(u32(s), s);
  copy_async_wait(C.stages - 2);
  barrier();
  operands.load(0, 0, 0);
  const Val slices = (g.kk + (C.bk - 1)) / C.bk;
  for (Val round : range(0u, slices, C.stages)) {
    for (std::uint32_t s = 0; s < C.stages; ++s) {
      const Val slice = round + s;
      if_(slice < slices, [&] {
        load_slice(slice + (C.stages - 1), (s + C.stages - 1) % C.stages);
        for (std::uint32_t step = 0; step < operands.steps(); ++step) {
          if (step + 1 < operands.steps()) {
            operands.load((step + 1) % 2, s, step + 1);
          } else {                          // the next slice's first fragments:
            copy_async_wait(C.stages - 2);  // it has landed for this thread's copies...
            barrier();  // ...and everyone's; no warp reads slice's stage any more
            operands.load((step + 1) % 2, (s + 1) % C.stages, 0);
          }
          acc.mma(operands, step % 2);
        }
      });
    }
  }
  acc.store_pairs(g.vo, row0 + warp_row, col0 + warp_col);
}

// The pipeline of build_gemm on the warpgroup MMA: each of the block's two warpgroups
// multiplies its 64 rows by the whole block width straight from the tiles, asynchronously, and
// keeps the MMAs of one slice in flight while it issues the next slice's. A stage is refilled
// only after the MMAs that read it retired, so copies run STAGES - 2 slices ahead: at slice t
// the thread waits for slice t's copies, publishes them (fence for the MMA's proxy, barrier),
// issues the copies of slice t + STAGES - 2 into the stage of slice t - 2 (whose MMAs every
// warpgroup retired with the wait(1) before this barrier), then slice t's MMAs, keeping one
// group in flight.
template <const GemmConfig& C>
void build_gemm_wgmma(KernelBuilder& k, DType t) {
  static_assert(C.aligned && C.bk == 64 && C.bm == 128 && C.stages >= 3, "two warpgroups");
  const GemmBlock g = gemm_block(k, t, C);
  const SharedTiles sa("a_tiles", t, C.bm, C.bk, C.stages);
  const SharedTiles sb("b_tiles", t, C.bn, C.bk, C.stages);
  const WarpgroupAccumulator acc = warpgroup_accumulator("acc", C.bn);
  const Val& rows = g.warp_row;  // the warpgroup's first row in the block: 0 or 64
  const std::uint32_t ahead = C.stages - 2;
  const auto load_slice = [&](const Val& slice) {
    const Val stage = slice % C.stages, k0 = slice * C.bk;
    copy_tile_async(sa, stage, g.va, g.row0, k0, C.threads(), true);
    copy_tile_async(sb, stage, g.vb, g.col0, k0, C.threads(), true);
    copy_async_commit();
  };

  acc.fill(f32(0));
  for (std::uint32_t s = 0; s < ahead; ++s) load_slice(u32(s));
  const Val slices = (g.kk + (C.bk - 1)) / C.bk;
  for (Val slice : range(0u, slices)) {
    copy_async_wait(ahead - 1);  // slice has landed for this thread's copies...
    fence_async_shared();        // ...is visible to the MMAs...
    barrier();                   // ...and everyone's; slice - 2's MMAs have retired
    load_slice(slice + ahead);
    warpgroup_fence();
    warpgroup_mma(acc, sa, slice % C.stages, rows, sb, u32(0));
    warpgroup_commit();
    warpgroup_wait(1);
  }
  warpgroup_wait(0);
  store(acc, g.vo, g.row0 + rows, g.col0);
}

// The warpgroup MMA fed by bulk copies, warp-specialised: lane 0 of the producer warp issues
// one bulk copy per tile, its bytes counted on the stage's `full` barrier; the two warpgroups
// wait on `full`, multiply, and arrive on the stage's `empty` barrier once the MMAs reading it
// retired, which the producer waits on before refilling that stage with slice t + STAGES.
// Stage s of slice t is in its (t / STAGES)-th round: both barriers' phases have that parity.
// The consumers keep one slice's MMAs in flight while they issue the next slice's
// (wait(1) retires slice t - 1 after slice t is issued, and frees its stage). The loop is
// range_by_role: on the GPU each role runs its own loop inside its branch, which keeps ptxas
// from serialising the MMAs across trips (C7518); the interpreter runs consumers, then the
// producer, in each trip, and sees every wait complete. The roles are tested on the
// warpgroup index as lane 0 has it, visibly warp-uniform.
template <const GemmConfig& C>
void build_gemm_wgmma_tma(KernelBuilder& k, DType t) {
  static_assert(C.aligned && C.bk == 64 && C.bm == 128 && C.producer_warps == 1, "1 producer");
  const GemmBlock g = gemm_block(k, t, C);
  const SharedTiles sa("a_tiles", t, C.bm, C.bk, C.stages);
  const SharedTiles sb("b_tiles", t, C.bn, C.bk, C.stages);
  const TensorMapRef a_map = tensor_map("a_map", g.va.tensor, g.va.rows, g.va.cols, g.va.stride,
                                        C.bm, C.bk, Swizzle::Bytes128);
  const TensorMapRef b_map = tensor_map("b_map", g.vb.tensor, g.vb.rows, g.vb.cols, g.vb.stride,
                                        C.bn, C.bk, Swizzle::Bytes128);
  // empty[STAGES] is a spare that the consumers' first trip arrives on; nobody waits on it.
  const AsyncBarriers full("full", C.stages), empty("empty", C.stages + 1);
  const WarpgroupAccumulator acc = warpgroup_accumulator("acc", C.bn);
  const Val& rows = g.warp_row;  // the warpgroup's first row in the block: 0 or 64
  const Val warpgroup = warp_shuffle(thread_id(0) / kWarpgroupSize, 0u);
  const Val consumer = warpgroup < C.consumer_threads() / kWarpgroupSize;
  const Val producer_warp = warpgroup == C.consumer_threads() / kWarpgroupSize;
  const Val slices = (g.kk + (C.bk - 1)) / C.bk;
  const auto stage = [](const Val& slice) { return slice % C.stages; };
  const auto parity = [](const Val& slice) { return slice / C.stages % 2u; };
  const auto load_slice = [&](const Val& slice, const Val& into) {
    full.arrive_expect(into, u32(a_map.box_bytes() + b_map.box_bytes()));
    load_tile_bulk(sa, into, a_map, g.row0, slice * C.bk, full, into);
    load_tile_bulk(sb, into, b_map, g.col0, slice * C.bk, full, into);
  };
  const auto multiply = [&](const Val& slice) {
    full.wait(stage(slice), parity(slice));  // slice has landed
    warpgroup_fence();
    warpgroup_mma(acc, sa, stage(slice), rows, sb, u32(0));
    warpgroup_commit();
  };
  // The producer refills the stage of `slice`, once its MMAs retired, with slice + STAGES.
  const auto refill = [&](const Val& slice) {
    const Val next = slice + C.stages;
    if_(next < slices, [&] {
      empty.wait(stage(slice), parity(slice));
      load_slice(next, stage(slice));
    });
  };

  const Val producer = producer_warp && lane_id() == 0u;
  if_(producer, [&] {
    for (std::uint32_t s = 0; s < C.stages; ++s) full.init(u32(s), 1);
    for (std::uint32_t s = 0; s <= C.stages; ++s) empty.init(u32(s), C.consumer_threads());
    for (std::uint32_t s = 0; s < C.stages; ++s) {
      if_(u32(s) < slices, [&] { load_slice(u32(s), u32(s)); });
    }
  });
  acc.fill(f32(0));
  barrier();  // the barriers are initialised for everyone
  for (Val slice : range_by_role(0u, slices)) {
    if_(consumer, [&] {
      multiply(slice);
      warpgroup_wait(1);  // slice - 1's MMAs have retired, so its stage is free; slice 0
      // arrives on the spare barrier instead (a branch here would serialise the MMAs)
      empty.arrive(select(slice == 0u, u32(C.stages), stage(slice - 1u)));
    });
    if_(producer, [&] { if_(slice > 0u, [&] { refill(slice - 1u); }); });
  }
  if_(consumer, [&] {
    warpgroup_wait(0);
    store(acc, g.vo, g.row0 + rows, g.col0);
  });
}

// --- registration: docs, geometry rules and benchmark shapes ------------------------------

LaunchPlan gemm_launch(const LaunchShape& s, const GemmConfig& c, std::string kernel) {
  const std::size_t m = s.u32("m"), n = s.u32("n");
  LaunchStep step;
  step.kernel = std::move(kernel);
  step.grid = {geometry::ceil_div(m, c.bm) * geometry::ceil_div(n, c.bn), 1, 1};
  step.tpg = {c.threads(), 1, 1};
  return LaunchPlan{{}, {step}};
}

// Unaligned rows need the element-wise copies (the entry's own kernel); a problem with fewer
// 128 x 128 blocks than a GPU has multiprocessors runs 64 x 64 blocks, four times as many;
// larger ones run on the warpgroup MMA where the device has it (sm_90), else on mma.sync.
LaunchPlan gemm_rule(const LaunchShape& s) {
  const std::size_t m = s.u32("m"), n = s.u32("n"), k = s.u32("k");
  if (k % 8 != 0) return gemm_launch(s, kUnaligned, "");
  const std::size_t blocks = geometry::ceil_div(m, 128) * geometry::ceil_div(n, 128);
  if (blocks < s.limits().multiprocessors) {
    return gemm_launch(s, k64x64S2, std::string(gemm_64x64_s2::name));
  }
  if (s.limits().warpgroup_mma) {
    // 128 x 256 tiles where they still fill every multiprocessor (0.74-0.76x cuBLAS on the
    // H200 against 0.55-0.59x for 128 x 128).
    if (geometry::ceil_div(m, 128) * geometry::ceil_div(n, 256) >= s.limits().multiprocessors) {
      return gemm_launch(s, kWgmmaTma128x256, std::string(gemm_wgmma_tma_128x256::name));
    }
    return gemm_launch(s, kWgmmaTma128x128, std::string(gemm_wgmma_tma_128x128::name));
  }
  return gemm_launch(s, k128x128S3, std::string(gemm_128x128_s3::name));
}

BenchCase gemm_case(std::size_t m, std::size_t n, std::size_t k) {
  BenchCase c{"M" + std::to_string(m) + " N" + std::to_string(n) + " K" + std::to_string(k),
              DType::BF16,
              {{"a", m * k}, {"b", n * k}, {"out", m * n}},
              {{"m", std::uint32_t(m)}, {"n", std::uint32_t(n)}, {"k", std::uint32_t(k)}},
              {},
              2.0 * double(m * k + n * k + m * n),
              2.0 * double(m) * double(n) * double(k)};
  return c;
}

std::vector<BenchCase> gemm_cases(BenchScale scale) {
  if (scale == BenchScale::Smoke) return {gemm_case(33, 40, 72)};
  return {gemm_case(4096, 4096, 4096), gemm_case(8192, 8192, 8192), gemm_case(512, 14336, 4096)};
}

KernelInfo gemm_info(void (*body)(KernelBuilder&, DType), const GemmConfig& c, GeometryRule rule,
                     std::string summary) {
  const std::string tiles = std::to_string(c.bm) + " x " + std::to_string(c.bn);
  return KernelInfo{
      .default_mode = KernelMode::Reduction,
      .dtypes = {DType::F16, DType::BF16},
      .body = body,
      .doc = {.summary = std::move(summary),
              .formula = "out[m, n] = sum_k a[m, k] * b[n, k] (out = a bᵀ), f32 accumulation "
                         "in the tensor cores, rounded to T once",
              .buffers = {{"a", "[M, K] T"},
                          {"b", "[N, K] T: a linear layer's weight (row n is output feature n)"},
                          {"out", "[M, N] T"}},
              .scalars = {{"m", "u32: M (> 0)"},
                          {"n", "u32: N (> 0)"},
                          {"k", c.aligned ? "u32: K (> 0, a multiple of 8)" : "u32: K (> 0)"}},
              .geometry = "Reduction mode, " + std::to_string(c.threads()) +
                          " threads a group, one group per " + tiles + " block of out (ceil(m / " +
                          std::to_string(c.bm) + ") * ceil(n / " + std::to_string(c.bn) +
                          ") groups, n fastest); k in slices of " + std::to_string(c.bk) +
                          " through " + std::to_string(c.stages) +
                          " stages of threadgroup tiles; " + std::to_string(c.warps_m * c.warps_n) +
                          " warps of " + std::to_string(c.wm()) + " x " + std::to_string(c.wn())},
      .geometry = std::move(rule),
      .bench = gemm_cases,
  };
}

template <const GemmConfig& C, void (*Body)(KernelBuilder&, DType) = build_gemm<C>>
KernelInfo variant_info(std::string summary) {
  return gemm_info(
      Body, C, [](const LaunchShape& s) { return gemm_launch(s, C, ""); }, std::move(summary));
}

// The geometry of a warpgroup MMA variant: `filled` says how a stage's tiles are filled and
// `roles` names the group's warpgroups (and warps).
template <const GemmConfig& C>
std::string warpgroup_geometry(const std::string& filled, const std::string& roles) {
  return "Reduction mode, " + std::to_string(C.threads()) + " threads a group, one group per " +
         std::to_string(C.bm) + " x " + std::to_string(C.bn) + " block of out (ceil(m / " +
         std::to_string(C.bm) + ") * ceil(n / " + std::to_string(C.bn) +
         ") groups, n fastest); k in slices of 64 through " + std::to_string(C.stages) +
         " stages of 128-byte-swizzled threadgroup tiles" + filled + "; " + roles +
         " (CUDA needs sm_90)";
}

// A warpgroup MMA variant: its geometry names warpgroups rather than warps.
template <const GemmConfig& C>
KernelInfo wgmma_info(std::string summary) {
  KernelInfo info = variant_info<C, build_gemm_wgmma<C>>(std::move(summary));
  info.doc.geometry = warpgroup_geometry<C>(
      "", "2 warpgroups of 64 x " + std::to_string(C.bn) + " (warpgroup MMA)");
  return info;
}

// A bulk-copy variant: its geometry names the producer warp too.
template <const GemmConfig& C>
KernelInfo wgmma_tma_info(std::string summary) {
  KernelInfo info = variant_info<C, build_gemm_wgmma_tma<C>>(std::move(summary));
  info.doc.geometry = warpgroup_geometry<C>(
      ", each filled by two bulk copies (tensor maps of a and b) and guarded by a full and an "
      "empty async barrier",
      "2 consumer warpgroups of 64 x " + std::to_string(C.bn) + " and 1 producer warp");
  return info;
}

}  // namespace

KernelInfo gemm::info() {
  return gemm_info(build_gemm<kUnaligned>, kUnaligned, gemm_rule,
                   "dense GEMM a bᵀ on the tensor cores: runs gemm_64x64_s2 for small problems, "
                   "gemm_128x128_s3 otherwise, and for k % 8 != 0 this kernel (64 x 64 blocks "
                   "whose tiles load element by element)");
}
KernelInfo gemm_128x128_s3::info() {
  return variant_info<k128x128S3>("dense GEMM, 128 x 128 blocks, 3 stages, 4 warps of 64 x 64");
}
KernelInfo gemm_128x128_s4::info() {
  return variant_info<k128x128S4>("dense GEMM, 128 x 128 blocks, 4 stages, 4 warps");
}
KernelInfo gemm_128x128_w8::info() {
  return variant_info<k128x128W8>("dense GEMM, 128 x 128 blocks, 3 stages, 8 warps of 64 x 32");
}
KernelInfo gemm_128x256_s3::info() {
  return variant_info<k128x256S3>("dense GEMM, 128 x 256 blocks, 3 stages, 8 warps");
}
KernelInfo gemm_128x128_s3_u::info() {
  return variant_info<k128x128S3, build_gemm_unrolled<k128x128S3>>(
      "dense GEMM, 128 x 128 blocks, 3 stages, 4 warps of 64 x 64; k loop unrolled by the "
      "stages, fragments double-buffered, paired stores");
}
KernelInfo gemm_128x256_s3_u::info() {
  return variant_info<k128x256S3, build_gemm_unrolled<k128x256S3>>(
      "dense GEMM, 128 x 256 blocks, 3 stages, 8 warps of 64 x 64; k loop unrolled by the "
      "stages, fragments double-buffered, paired stores");
}
KernelInfo gemm_wgmma_128x128::info() {
  return wgmma_info<kWgmma128x128>(
      "dense GEMM on the warpgroup MMA (sm_90), 128 x 128 blocks, 4 stages, 2 warpgroups of "
      "64 x 128, one MMA group in flight");
}
KernelInfo gemm_wgmma_128x256::info() {
  return wgmma_info<kWgmma128x256>(
      "dense GEMM on the warpgroup MMA (sm_90), 128 x 256 blocks, 3 stages, 2 warpgroups of "
      "64 x 256, one MMA group in flight");
}
KernelInfo gemm_wgmma_tma_128x128::info() {
  return wgmma_tma_info<kWgmmaTma128x128>(
      "dense GEMM on the warpgroup MMA fed by bulk copies (TMA, sm_90), 128 x 128 blocks, 6 "
      "stages, 2 consumer warpgroups of 64 x 128 and a producer warp, mbarrier per stage");
}
KernelInfo gemm_wgmma_tma_128x256::info() {
  return wgmma_tma_info<kWgmmaTma128x256>(
      "dense GEMM on the warpgroup MMA fed by bulk copies (TMA, sm_90), 128 x 256 blocks, 4 "
      "stages, 2 consumer warpgroups of 64 x 256 and a producer warp, mbarrier per stage");
}
KernelInfo gemm_64x64_s2::info() {
  return variant_info<k64x64S2>("dense GEMM, 64 x 64 blocks, 2 stages of k = 32, 4 warps");
}

}  // namespace mt::kernels::mlx::gemm
