// The contracts of the row kernels: every buffer's length against n and the rows of x, and the
// 1-D launch they are written for. Each violation is an mt::Error naming the kernel and the
// buffer (or the launch shape), and the context stays usable.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "kernels/mlx/rows_oracle.hpp"
#include "metaltile/kernels/mlx/rows.hpp"
#include "metaltile/kernels/registry.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace rows = mt::test::rows;

constexpr std::uint32_t kRows = 3, kN = 7;

// Valid buffers for row kernel k on [3, 7] rows of dtype t.
mt::BufferMap valid_buffers(const mt::Kernel& k, DType t) {
  mt::BufferMap b;
  for (const mt::Param& p : k.params) {
    if (p.name == "x")
      b["x"] = mt::test::pack(rows::random_values(kRows * kN, 4, t, -1.0f, 1.0f), t);
    if (p.name == "w" || p.name == "b") b[p.name] = mt::test::pack(std::vector<float>(kN, 1.0f), t);
    if (p.name == "out") {
      const bool per_row = k.name == "argmax" || k.name == "row_sum" || k.name == "row_max";
      b["out"] = mt::test::poisoned(per_row ? kRows : kRows * kN, p.dtype);
    }
  }
  b["n"] = le_bytes(kN);
  if (k.find_param("eps").valid()) b["eps"] = le_bytes(1e-5f);
  return b;
}

std::vector<mt::Kernel> row_kernels(DType t) {
  std::vector<mt::Kernel> kernels;
  for (const mt::KernelInfo& info : mt::registered_kernels()) {
    if (info.family == "mlx::rows") kernels.push_back(info.build(t));
  }
  return kernels;
}

TEST(MlxRowsContract, EveryBufferOneElementShortOrLongIsAnError) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    std::size_t checked = 0;
    for (const mt::Kernel& k : row_kernels(DType::F32)) {
      const mt::BufferMap good = valid_buffers(k, DType::F32);
      const std::array<std::size_t, 3> grid{kRows + 1, 1, 1}, tpg{32, 1, 1};
      for (const mt::Param& p : k.params) {
        if (!p.is_tensor()) continue;
        for (int delta : {-1, +1}) {
          SCOPED_TRACE(k.name + ": " + p.name + (delta < 0 ? " one short" : " one long"));
          mt::BufferMap b = good;
          b[p.name] = mt::test::poisoned(b[p.name].size() / mt::size_of(p.dtype) + delta, p.dtype);
          const std::string what =
              mt::test::error_of([&] { ctx.dispatch_with_grid(k, b, {}, grid, tpg); });
          mt::test::expect_mentions(
              what, {"kernel '" + k.name + "'", "param '" + p.name + "'", "expected ", ", got "});
          ++checked;
        }
      }
      EXPECT_NO_THROW(ctx.dispatch_with_grid(k, good, {}, grid, tpg)) << k.name;
    }
    // x and out for six kernels, w for two, b for one: 15 buffers, each short and long.
    EXPECT_EQ(checked, 2u * 15);
  });
}

TEST(MlxRowsContract, OutputOfARowsLengthNamesTheFormula) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const mt::Kernel k = mt::kernels::mlx::argmax::kernel_ir_for(DType::F16);
    mt::BufferMap b = valid_buffers(k, DType::F16);
    b["out"] = mt::test::poisoned(kRows + 2, DType::U32);
    EXPECT_EQ(mt::test::error_of([&] {
                ctx.dispatch_with_grid(k, b, {}, {kRows, 1, 1}, {32, 1, 1});
              }),
              "kernel 'argmax': param 'out': expected 3 elements (12 bytes) = rows = len(x)/n with "
              "n=7, len(x)=21, got 5 elements (20 bytes)");
  });
}

// A kernel written for a 1-D threadgroup used to combine all 64 threads of a {32, 2, 1} group
// while striding by thread_id(0): softmax rows summed to 0.5. Now every row kernel rejects it,
// and a 2-D grid too.
TEST(MlxRowsContract, TwoDimensionalLaunchIsAnErrorNamingTheKernel) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (const mt::Kernel& k : row_kernels(DType::F32)) {
      SCOPED_TRACE(k.name);
      const mt::BufferMap b = valid_buffers(k, DType::F32);
      EXPECT_EQ(mt::test::error_of([&] {
                  ctx.dispatch_with_grid(k, b, {}, {kRows, 1, 1}, {32, 2, 1});
                }),
                "kernel '" + k.name +
                    "': precondition failed: a 1-D threadgroup: tpg = (x, 1, 1) (tpg=(32,2,1))");
      EXPECT_EQ(mt::test::error_of([&] {
                  ctx.dispatch_with_grid(k, b, {}, {kRows, 1, 2}, {32, 1, 1});
                }),
                "kernel '" + k.name +
                    "': precondition failed: a 1-D grid: grid = (x, 1, 1) (grid=(3,1,2))");
      EXPECT_NO_THROW(ctx.dispatch_with_grid(k, b, {}, {kRows, 1, 1}, {32, 1, 1}));
    }
  });
}

}  // namespace
