// The tile layer on every backend, one warp: tiles of a (16 x 16) and b (8 x 16, fewer chunks
// than threads) copied asynchronously into swizzled threadgroup tiles, multiplied into a 16 x 8
// accumulator tile, mapped elementwise with its coordinates, reduced per row (sum and max) and
// stored through a 13 x 7 view (the masked tail must stay poisoned-free and exact in length),
// against a plain oracle. Then double-buffered MmaOperands over two stages of two k steps and
// paired stores (4-byte pairs of f16 / bf16, 8-byte of f32) through an even and an odd-width
// view. Then attention's two products: a product fed from registers, with per-row values.
#include "metaltile/dsl/tile.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "metaltile/dsl/dsl.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"

namespace mt::test {
namespace {

constexpr std::uint32_t kRows = 13, kCols = 7;  // the stored view: a tail in both dimensions

Kernel tile_kernel(DType t) {
  return trace("tile_ops", KernelMode::Reduction, [&](KernelBuilder& k) {
    const Tensor a = k.input("a", t), b = k.input("b", t);
    const Tensor out = k.output("out", DType::F32);
    const Tensor sums = k.output("row_sums", DType::F32), maxes = k.output("row_maxes", DType::F32);
    const SharedTiles sa("a_tiles", t, 16, 16, 1), sb("b_tiles", t, 8, 16, 1);
    copy_tile_async(sa, u32(0), matrix_view(a, u32(16), u32(16)), u32(0), u32(0), 32, true);
    copy_tile_async(sb, u32(0), matrix_view(b, u32(8), u32(16)), u32(0), u32(0), 32, true);
    copy_async_commit();
    copy_async_wait(0);
    barrier();
    AccumulatorTile acc("acc", t, 16, 8);
    acc.mma(sa, u32(0), u32(0), sb, u32(0));
    acc.apply([](const Val& v, const Val& row, const Val& col) {
      return v * 2.0f + row.to(DType::F32) - col.to(DType::F32);
    });
    const std::vector<Val> row_sums = acc.row_reduce(CombineOp::Add);
    const std::vector<Val> row_maxes = acc.row_reduce(CombineOp::Max);
    const Val lane = lane_id();
    for (std::uint32_t i = 0; i < row_sums.size(); ++i) {
      const Val row = lane / 4u + (i / 2 * 16 + i % 2 * 8);
      if_(lane % 4u == 0u, [&] {
        sums[row] = row_sums[i];
        maxes[row] = row_maxes[i];
      });
    }
    acc.store(MatrixView{out, u32(kRows), u32(kCols), u32(kCols)}, u32(0), u32(0));
  });
}

TEST(Tile, CopyMmaApplyReduceAndMaskedStore) {
  for (DType t : {DType::F16, DType::BF16}) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> a(256), b(128);
    for (float& x : a) x = d(rng);
    for (float& x : b) x = d(rng);
    a = round_all(a, t);
    b = round_all(b, t);
    std::vector<float> full(16 * 8), sum(16, 0.0f), mx(16, -1e30f), stored(kRows * kCols);
    for (std::uint32_t r = 0; r < 16; ++r) {
      for (std::uint32_t c = 0; c < 8; ++c) {
        double dot = 0;
        for (std::uint32_t q = 0; q < 16; ++q) dot += double{a[r * 16 + q]} * b[c * 16 + q];
        const float v = static_cast<float>(static_cast<float>(dot) * 2.0 + r - c);
        full[r * 8 + c] = v;
        sum[r] += v;
        mx[r] = std::max(mx[r], v);
        if (r < kRows && c < kCols) stored[r * kCols + c] = v;
      }
    }
    const Kernel k = tile_kernel(t);
    for_each_backend([&](Context& ctx) {
      SCOPED_TRACE(std::string(name_of(t)));
      BufferMap buffers{{"a", pack(a, t)},
                        {"b", pack(b, t)},
                        {"out", poisoned(kRows * kCols, DType::F32)},
                        {"row_sums", poisoned(16, DType::F32)},
                        {"row_maxes", poisoned(16, DType::F32)}};
      const DispatchResult r = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
      expect_close(unpack(r.outputs.at("out"), DType::F32), stored, 1e-4, 1e-5, "out");
      expect_close(unpack(r.outputs.at("row_sums"), DType::F32), sum, 1e-3, 1e-5, "row_sums");
      expect_close(unpack(r.outputs.at("row_maxes"), DType::F32), mx, 1e-4, 1e-5, "row_maxes");
    });
  }
}

// One warp, a 32 x 16 accumulator (two A and two B fragments a k step, one matrix load for the B
// pair) over K = 64: stages 0 and 1 hold k 0..31 and 32..63, two k steps each, walked with the
// next step's fragments loaded before this step's MMAs. `out` (32 x 16, T) takes every pair as
// a vector; `tail` (29 x 15 of f32, an odd row stride) takes them element by element.
Kernel operands_kernel(DType t) {
  return trace("tile_operands", KernelMode::Reduction, [&](KernelBuilder& k) {
    const Tensor a = k.input("a", t), b = k.input("b", t);
    const Tensor out = k.output("out", t), tail = k.output("tail", DType::F32);
    const SharedTiles sa("a_tiles", t, 32, 32, 2), sb("b_tiles", t, 16, 32, 2);
    for (std::uint32_t s = 0; s < 2; ++s) {
      copy_tile_async(sa, u32(s), matrix_view(a, u32(32), u32(64)), u32(0), u32(s * 32), 32, true);
      copy_tile_async(sb, u32(s), matrix_view(b, u32(16), u32(64)), u32(0), u32(s * 32), 32, true);
    }
    copy_async_commit();
    copy_async_wait(0);
    barrier();
    AccumulatorTile acc("acc", t, 32, 16);
    const MmaOperands operands(acc, sa, u32(0), sb, u32(0));
    operands.load(0, 0, 0);
    const std::uint32_t steps = 2 * operands.steps();
    for (std::uint32_t i = 0; i < steps; ++i) {
      const std::uint32_t next = i + 1;
      if (next < steps) {
        operands.load(next % 2, next / operands.steps(), next % operands.steps());
      }
      acc.mma(operands, i % 2);
    }
    acc.store_pairs(matrix_view(out, u32(32), u32(16)), u32(0), u32(0));
    acc.store_pairs(matrix_view(tail, u32(29), u32(15)), u32(0), u32(0));
  });
}

TEST(Tile, DoubleBufferedOperandsAndPairedStores) {
  for (DType t : {DType::F16, DType::BF16}) {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> a(32 * 64), b(16 * 64);
    for (float& x : a) x = d(rng);
    for (float& x : b) x = d(rng);
    a = round_all(a, t);
    b = round_all(b, t);
    std::vector<float> full(32 * 16), tail(29 * 15);
    for (std::uint32_t r = 0; r < 32; ++r) {
      for (std::uint32_t c = 0; c < 16; ++c) {
        double dot = 0;
        for (std::uint32_t q = 0; q < 64; ++q) dot += double{a[r * 64 + q]} * b[c * 64 + q];
        full[r * 16 + c] = static_cast<float>(dot);
        if (r < 29 && c < 15) tail[r * 15 + c] = static_cast<float>(dot);
      }
    }
    const Kernel k = operands_kernel(t);
    for_each_backend([&](Context& ctx) {
      SCOPED_TRACE(std::string(name_of(t)));
      BufferMap buffers{{"a", pack(a, t)},
                        {"b", pack(b, t)},
                        {"out", poisoned(32 * 16, t)},
                        {"tail", poisoned(29 * 15, DType::F32)}};
      const DispatchResult r = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
      expect_close(unpack(r.outputs.at("out"), t), round_all(full, t), 1e-3, 1e-2, "out");
      expect_close(unpack(r.outputs.at("tail"), DType::F32), tail, 1e-4, 1e-5, "tail");
    });
  }
}

// One warp, attention's two products: S = A Bᵀ (32 x 32) with A held in a one-stage tile and B
// in stage 1 of a two-stage ring, each row scaled by a value chosen by its place among the
// lane's rows (apply_by_row: factor i + 1), then O = S V (32 x 16) with S rounded to T as the A
// operand from registers and V (32 x 16, n contiguous) from stage 1 of its ring, loaded
// transposed. Inputs are multiples of 1/2 in [-1, 1], so S, its scaled rows (|.| <= 64, in
// quarters) and O are exact in T and f32: the comparison is exact.
Kernel products_kernel(DType t) {
  return trace("tile_products", KernelMode::Reduction, [&](KernelBuilder& k) {
    const Tensor a = k.input("a", t), b = k.input("b", t), v = k.input("v", t);
    const Tensor out = k.output("out", DType::F32);
    const SharedTiles sa("a_tiles", t, 32, 16, 1), sb("b_tiles", t, 32, 16, 2);
    const SharedTiles sv("v_tiles", t, 32, 16, 2);
    copy_tile_async(sa, u32(0), matrix_view(a, u32(32), u32(16)), u32(0), u32(0), 32, true);
    copy_tile_async(sb, u32(1), matrix_view(b, u32(32), u32(16)), u32(0), u32(0), 32, true);
    copy_tile_async(sv, u32(1), matrix_view(v, u32(32), u32(16)), u32(0), u32(0), 32, true);
    copy_async_commit();
    copy_async_wait(0);
    barrier();
    AccumulatorTile s("s", t, 32, 32);
    s.mma(sa, u32(0), u32(0), sb, u32(1), u32(0));
    s.apply_by_row([](const Val& x, std::uint32_t i, const Val&) { return x * float(i + 1); });
    AccumulatorTile o("o", t, 32, 16);
    o.mma(s, sv, u32(1), u32(0));
    o.store(matrix_view(out, u32(32), u32(16)), u32(0), u32(0));
  });
}

TEST(Tile, ProductOfAProductFromRegistersWithRowValues) {
  for (DType t : {DType::F16, DType::BF16}) {
    std::mt19937 rng(13);
    std::uniform_int_distribution<int> d(-2, 2);
    std::vector<float> a(32 * 16), b(32 * 16), v(32 * 16);
    for (std::vector<float>* m : {&a, &b, &v}) {
      for (float& x : *m) x = 0.5f * float(d(rng));
    }
    std::vector<double> scaled(32 * 32);
    for (std::uint32_t r = 0; r < 32; ++r) {
      const double factor = 2 * (r / 16) + (r % 16) / 8 + 1;  // i + 1 of row r
      for (std::uint32_t c = 0; c < 32; ++c) {
        double dot = 0;
        for (std::uint32_t q = 0; q < 16; ++q) dot += double{a[r * 16 + q]} * b[c * 16 + q];
        scaled[r * 32 + c] = dot * factor;
      }
    }
    std::vector<float> expected(32 * 16);
    for (std::uint32_t r = 0; r < 32; ++r) {
      for (std::uint32_t n = 0; n < 16; ++n) {
        double sum = 0;
        for (std::uint32_t q = 0; q < 32; ++q) sum += scaled[r * 32 + q] * v[q * 16 + n];
        expected[r * 16 + n] = static_cast<float>(sum);
      }
    }
    const Kernel k = products_kernel(t);
    for_each_backend([&](Context& ctx) {
      SCOPED_TRACE(std::string(name_of(t)));
      BufferMap buffers{{"a", pack(a, t)},
                        {"b", pack(b, t)},
                        {"v", pack(v, t)},
                        {"out", poisoned(32 * 16, DType::F32)}};
      const DispatchResult r = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
      EXPECT_EQ(unpack(r.outputs.at("out"), DType::F32), expected);
    });
  }
}

}  // namespace
}  // namespace mt::test
