// Bulk tile copies and asynchronous barriers on every backend (CUDA: sm_90 devices only, said
// when skipped): boxes of a tensor map copied into threadgroup memory with each swizzle mode,
// hanging past every edge of the tensor (zeros there) and at negative corners, against a plain
// oracle of the swizzled layout; barrier phases that alternate parity over a loop of copies
// and arrivals. The interpreter reports misuse: a read before the wait, a wait that can never
// complete (missing arrivals, bytes expected but not delivered or delivered beyond what was
// announced), a barrier used before its init or before a barrier() published it, a
// misaligned destination, a group ending with bytes outstanding, and an extent the bulk copy
// engine cannot describe.
#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "metaltile/dsl/dsl.hpp"
#include "metaltile/runtime/context.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt::test {
namespace {

// Bulk copies need sm_90 on CUDA; elsewhere the test says it did not run there.
bool runs_bulk_copies(const Context& ctx) {
  if (ctx.backend() != Backend::Cuda || ctx.description().find("sm_90") != std::string::npos) {
    return true;
  }
  std::cout << "*** bulk copies not run on " << ctx.description() << ": they need sm_90\n";
  return false;
}

Bytes scalar_u32(std::uint32_t v) { return pack_u32(std::vector<std::uint32_t>{v}); }
Bytes scalar_i32(std::int32_t v) { return pack_i32(std::vector<std::int32_t>{v}); }

// box_kernel's buffers: `src` as given, `out` poisoned, the extent and the corner.
BufferMap box_buffers(const std::vector<float>& src, DType t, std::size_t out_elements,
                      std::uint32_t rows, std::uint32_t cols, std::uint32_t stride,
                      std::int32_t row0, std::int32_t col0) {
  return BufferMap{{"src", pack(src, t)},          {"out", poisoned(out_elements, t)},
                   {"rows", scalar_u32(rows)},     {"cols", scalar_u32(cols)},
                   {"stride", scalar_u32(stride)}, {"row0", scalar_i32(row0)},
                   {"col0", scalar_i32(col0)}};
}

// Where element (r, c) of a box of `cols` 2-byte elements a row lands, in elements, written
// from the swizzle's definition (16-byte chunk c / 8 of row r XORed with the row's place in the
// pattern) rather than from core/tensor_map.cpp's address arithmetic.
std::uint32_t oracle_index(Swizzle s, std::uint32_t cols, std::uint32_t r, std::uint32_t c) {
  switch (s) {
    case Swizzle::None: return r * cols + c;
    case Swizzle::Bytes32: return r * 16 + ((c / 8) ^ (r / 4 % 2)) * 8 + c % 8;
    case Swizzle::Bytes64: return r * 32 + ((c / 8) ^ (r / 2 % 4)) * 8 + c % 8;
    case Swizzle::Bytes128: return r * 64 + ((c / 8) ^ (r % 8)) * 8 + c % 8;
  }
  return 0;
}

// One thread copies the box at (row0, col0) of `src` [rows, cols] (row stride `stride`) into
// `tile`; every thread waits for it and copies the tile to `out` as it lies.
Kernel box_kernel(DType t, std::uint32_t box_rows, std::uint32_t box_cols, Swizzle s) {
  const std::string name = "bulk_box_" + std::string(name_of(t)) + "_" + std::to_string(box_rows) +
                           "x" + std::to_string(box_cols) + "_" + std::string(swizzle_name(s));
  return trace(name, KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor src = b.input("src", t), out = b.output("out", t);
    const Val rows = b.scalar_u32("rows"), cols = b.scalar_u32("cols");
    const Val stride = b.scalar_u32("stride");
    const Val row0 = b.scalar_i32("row0"), col0 = b.scalar_i32("col0");
    const TensorMapRef map = tensor_map("src_map", src, rows, cols, stride, box_rows, box_cols, s);
    const ArrayRef tile = b.threadgroup_array("tile", t, box_rows * box_cols);
    const AsyncBarriers full("full", 1);
    const Val tid = thread_id(0);
    if_(tid == 0u, [&] { full.init(u32(0), 1); });
    barrier();
    if_(tid == 0u, [&] {
      full.arrive_expect(u32(0), u32(map.box_bytes()));
      bulk_tensor_load(tile, u32(0), map, row0, col0, full, u32(0));
    });
    full.wait(u32(0), u32(0));
    for (const Val& i : range(tid, u32(box_rows * box_cols), threads_per_threadgroup(0))) {
      out[i] = tile[i];
    }
  });
}

void check_box(Context& ctx, DType t, std::uint32_t box_rows, std::uint32_t box_cols, Swizzle s,
               std::uint32_t rows, std::uint32_t cols, std::int32_t row0, std::int32_t col0) {
  SCOPED_TRACE(std::string(name_of(t)) + " box " + std::to_string(box_rows) + "x" +
               std::to_string(box_cols) + " " + std::string(swizzle_name(s)) + " tensor " +
               std::to_string(rows) + "x" + std::to_string(cols) + " at (" + std::to_string(row0) +
               ", " + std::to_string(col0) + ")");
  const std::uint32_t stride = (cols + 7) / 8 * 8 + 8;  // 16-byte rows with a gap after each
  std::vector<float> src(std::size_t{rows} * stride);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i % 251) + 1;
  std::vector<float> expected(std::size_t{box_rows} * box_cols, 0.0f);
  for (std::uint32_t r = 0; r < box_rows; ++r) {
    for (std::uint32_t c = 0; c < box_cols; ++c) {
      const std::int64_t gr = row0 + std::int64_t{r}, gc = col0 + std::int64_t{c};
      const bool inside = gr >= 0 && gc >= 0 && gr < rows && gc < cols;
      expected[oracle_index(s, box_cols, r, c)] = inside ? src[gr * stride + gc] : 0.0f;
    }
  }
  const DispatchResult r =
      ctx.dispatch_with_grid(box_kernel(t, box_rows, box_cols, s),
                             box_buffers(src, t, expected.size(), rows, cols, stride, row0, col0),
                             {}, {1, 1, 1}, {128, 1, 1});
  expect_close(unpack(r.outputs.at("out"), t), expected, 0, 0, "out");
}

TEST(BulkCopy, BoxesInEachSwizzleModeWithZerosPastTheEdges) {
  for_each_backend([](Context& ctx) {
    if (!runs_bulk_copies(ctx)) return;
    check_box(ctx, DType::BF16, 16, 64, Swizzle::Bytes128, 40, 100, 8, 0);     // inside
    check_box(ctx, DType::BF16, 16, 64, Swizzle::Bytes128, 21, 100, 8, 64);    // past both edges
    check_box(ctx, DType::F16, 24, 32, Swizzle::Bytes64, 30, 50, -3, 40);      // above the start
    check_box(ctx, DType::BF16, 8, 16, Swizzle::Bytes32, 9, 20, 4, -8);        // left of it
    check_box(ctx, DType::BF16, 12, 24, Swizzle::None, 5, 30, 0, 16);          // no swizzle
    check_box(ctx, DType::BF16, 16, 64, Swizzle::Bytes128, 10, 10, 200, 200);  // wholly outside
  });
}

// Three loads through one tile, each completing the next phase of `full` (parity 0, 1, 0),
// and a second barrier that 64 threads arrive on each round: out[round] sums the tile.
Kernel phases_kernel() {
  return trace("bulk_phases", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor src = b.input("src", DType::BF16), out = b.output("out", DType::F32);
    const TensorMapRef map =
        tensor_map("src_map", src, u32(24), u32(64), u32(64), 8, 64, Swizzle::Bytes128);
    const ArrayRef tile = b.threadgroup_array("tile", DType::BF16, 8 * 64);
    const AsyncBarriers full("full", 1), done("done", 1);
    const Val tid = thread_id(0);
    if_(tid == 0u, [&] {
      full.init(u32(0), 1);
      done.init(u32(0), 64);
    });
    barrier();
    for (const Val& round : range(0u, u32(3))) {
      const Val parity = round % 2u;
      if_(tid == 0u, [&] {
        full.arrive_expect(u32(0), u32(map.box_bytes()));
        bulk_tensor_load(tile, u32(0), map, (round * 8u).to(DType::I32), i32(0), full, u32(0));
      });
      full.wait(u32(0), parity);
      if_(tid == 0u, [&] {
        Var sum = f32(0);
        for (const Val& i : range(0u, u32(8 * 64))) sum += tile[i].to(DType::F32);
        out[round] = Val(sum);
      });
      if_(tid < 64u, [&] { done.arrive(u32(0)); });
      done.wait(u32(0), parity);
      barrier();  // every read of the tile is done before the next copy lands
    }
  });
}

TEST(BulkCopy, BarrierPhasesAlternateOverALoop) {
  for_each_backend([](Context& ctx) {
    if (!runs_bulk_copies(ctx)) return;
    std::vector<float> src(24 * 64);
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i % 7);
    std::vector<float> expected(3, 0.0f);
    for (std::size_t i = 0; i < src.size(); ++i) expected[i / (8 * 64)] += src[i];
    BufferMap buffers{{"src", pack(src, DType::BF16)}, {"out", poisoned(3, DType::F32)}};
    const DispatchResult r =
        ctx.dispatch_with_grid(phases_kernel(), buffers, {}, {1, 1, 1}, {128, 1, 1});
    expect_close(unpack(r.outputs.at("out"), DType::F32), expected, 0, 0, "out");
  });
}

// --- the interpreter's reports ----------------------------------------------------------------

enum class Misuse {
  ReadBeforeWait,
  NoCopy,
  MissingArrival,
  ExpectTooMuch,
  ExpectTooLittle,
  UseBeforeInit,
  InitNotPublished,
  Misaligned,
  MisalignedColumn,
  EndWithBytesOutstanding,
};

Kernel misuse_kernel(Misuse what) {
  return trace("bulk_misuse", KernelMode::Grid3D, [&](KernelBuilder& b) {
    const Tensor src = b.input("src", DType::BF16), out = b.output("out", DType::BF16);
    const TensorMapRef map =
        tensor_map("src_map", src, u32(8), u32(64), u32(64), 8, 64, Swizzle::Bytes128);
    const ArrayRef tile = b.threadgroup_array("tile", DType::BF16, 2 * 8 * 64);
    const AsyncBarriers full("full", 2);
    const Val tid = thread_id(0);
    if (what != Misuse::UseBeforeInit) {
      if_(tid == 0u, [&] { full.init(u32(1), what == Misuse::MissingArrival ? 2 : 1); });
    }
    if (what != Misuse::InitNotPublished) barrier();
    const std::uint32_t bytes = map.box_bytes();
    if_(tid == 0u, [&] {
      const std::uint32_t expect = what == Misuse::ExpectTooMuch     ? 2 * bytes
                                   : what == Misuse::ExpectTooLittle ? bytes / 2
                                                                     : bytes;
      full.arrive_expect(u32(1), u32(expect));
      if (what != Misuse::NoCopy && what != Misuse::EndWithBytesOutstanding) {
        const Val at = u32(what == Misuse::Misaligned ? 8 : 0);
        const Val col = i32(what == Misuse::MisalignedColumn ? -5 : 0);
        bulk_tensor_load(tile, at, map, i32(0), col, full, u32(1));
      }
    });
    if (what == Misuse::ReadBeforeWait) out[tid] = tile[tid];
    if (what == Misuse::EndWithBytesOutstanding) return;
    full.wait(u32(1), u32(0));
    out[tid] = tile[tid];
  });
}

TEST(BulkCopy, InterpreterReportsMisuse) {
  Context ctx = Context::create(Backend::Cpu);
  const auto run = [&](Misuse what) {
    BufferMap buffers{{"src", pack(std::vector<float>(8 * 64, 1.0f), DType::BF16)},
                      {"out", poisoned(128, DType::BF16)}};
    return error_of([&] {
      ctx.dispatch_with_grid(misuse_kernel(what), buffers, {}, {1, 1, 1}, {128, 1, 1});
    });
  };
  expect_mentions(run(Misuse::ReadBeforeWait),
                  {"kernel 'bulk_misuse'", "array 'tile'", "read before this thread waited",
                   "'full'[1]", "array_load"});
  expect_mentions(run(Misuse::NoCopy),
                  {"kernel 'bulk_misuse'", "'full'[1]", "can never complete", "1024 bytes",
                   "expected but not delivered", "async_barrier_wait"});
  expect_mentions(run(Misuse::MissingArrival),
                  {"'full'[1]", "can never complete", "phase 0 still lacks 1 arrival"});
  expect_mentions(run(Misuse::ExpectTooMuch),
                  {"'full'[1]", "can never complete", "1024 bytes of bulk copies expected"});
  expect_mentions(run(Misuse::ExpectTooLittle),
                  {"'full'[1]", "can never complete", "512 bytes delivered beyond"});
  expect_mentions(run(Misuse::UseBeforeInit),
                  {"kernel 'bulk_misuse'", "'full'[1] is used before its init"});
  expect_mentions(run(Misuse::InitNotPublished), {"'full'[1]", "in the epoch of its init"});
  expect_mentions(run(Misuse::Misaligned),
                  {"array 'tile'", "at element 8", "aligned to 1024 bytes", "bulk_tensor_load"});
  expect_mentions(run(Misuse::MisalignedColumn),
                  {"tensor map 'src_map'", "column corner -5", "-10 bytes", "multiple of 16"});
  expect_mentions(run(Misuse::EndWithBytesOutstanding),
                  {"kernel 'bulk_misuse'", "'full'[1]", "1024 bytes", "never waited for"});
  // The context stays usable after each report.
  BufferMap buffers{{"src", pack(std::vector<float>(8 * 64, 1.0f), DType::BF16)},
                    {"out", poisoned(128, DType::BF16)}};
  EXPECT_FALSE(error_of([&] {
                 ctx.dispatch_with_grid(misuse_kernel(Misuse::MissingArrival), buffers, {},
                                        {1, 1, 1}, {128, 1, 1});
               }).empty());
}

// A column corner off a 16-byte row boundary would stop the GPU's kernel: on every backend it
// is an error naming the tensor map (CUDA's checked mode skips the copy, completes its bytes so
// no thread hangs, and reports it), and the context then runs a good box.
TEST(BulkCopy, ColumnCornerOffA16ByteBoundaryIsAnErrorOnEveryBackend) {
  for_each_backend([](Context& ctx) {
    if (!runs_bulk_copies(ctx)) return;
    const Kernel k = box_kernel(DType::BF16, 8, 16, Swizzle::Bytes32);
    const std::uint32_t rows = 9, cols = 20, stride = 32;
    const std::vector<float> src(rows * stride, 1.0f);
    expect_mentions(
        error_of([&] {
          ctx.dispatch_with_grid(k, box_buffers(src, DType::BF16, 128, rows, cols, stride, 0, -5),
                                 {}, {1, 1, 1}, {128, 1, 1});
        }),
        {"kernel 'bulk_box_bf16_8x16_32B'", "tensor map 'src_map'", "column corner -5", "-10 bytes",
         "multiple of 16"});
    check_box(ctx, DType::BF16, 8, 16, Swizzle::Bytes32, rows, cols, 4, -8);
  });
}

TEST(BulkCopy, ExtentTheEngineCannotDescribeIsAnErrorNamingTheTensor) {
  Context ctx = Context::create(Backend::Cpu);
  const Kernel k = box_kernel(DType::BF16, 8, 16, Swizzle::Bytes32);
  const auto run = [&](std::uint32_t rows, std::uint32_t cols, std::uint32_t stride,
                       std::size_t elements) {
    const BufferMap buffers =
        box_buffers(std::vector<float>(elements, 1.0f), DType::BF16, 128, rows, cols, stride, 0, 0);
    return error_of([&] { ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {128, 1, 1}); });
  };
  expect_mentions(run(4, 5, 5, 20), {"kernel 'bulk_box_bf16_8x16_32B'", "param 'src'",
                                     "tensor map 'src_map'", "10 bytes", "multiple of 16"});
  expect_mentions(run(4, 16, 16, 60),
                  {"param 'src'", "tensor map 'src_map'", "reaches element 64", "has 60"});
  expect_mentions(run(4, 17, 16, 64), {"param 'src'", "longer than the row stride"});
  expect_mentions(run(0, 16, 16, 64), {"param 'src'", "at least 1"});
}

}  // namespace
}  // namespace mt::test
