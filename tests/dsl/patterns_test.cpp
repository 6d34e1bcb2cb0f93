// The public patterns (metaltile/dsl/patterns.hpp) as a kernel author uses them: a row kernel
// written with row_loop, map_elements and for_each_element runs on every backend and dtype,
// on rows that take the vector path and rows that do not, and its contract rejects a 2-D launch.
#include "metaltile/dsl/patterns.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "metaltile/runtime/context.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace mt {
namespace {

// out[r, i] = (x[r, i] + b[i]) / max|x[r, :]|, the row's absolute maximum reduced over the
// threadgroup.
Kernel normalise_rows(DType t) {
  return trace("normalise_rows", KernelMode::Reduction, [t](KernelBuilder& k) {
    Tensor x = k.input("x", t), b = k.input("b", t), out = k.output("out", t);
    RowLoop r = row_loop(k, x);
    require_out_per_element(k, out, x);
    k.require_len(b, r.n, "n");
    Var peak = f32(0.0f);
    if_(r.in_range, [&] {
      for_each_element(r, x, [&](const Val& v, const Val&) { peak = max(peak, abs(v)); });
    });
    Val row_peak = threadgroup_max(peak);
    if_(r.in_range, [&] {
      map_elements(r, x, {b}, out, [&](const Val& v, const std::vector<Val>& column) {
        return (v + column[0]) / row_peak;
      });
    });
  });
}

TEST(Patterns, RowKernelOfThePublicPatternsOnEveryBackendAndDtype) {
  test::for_each_backend([](Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      // n = 24 is a whole number of 16-byte vectors for every dtype; n = 13 is not.
      for (std::uint32_t n : {24u, 13u}) {
        SCOPED_TRACE(std::string(name_of(t)) + " n=" + std::to_string(n));
        const std::uint32_t rows = 5;
        std::vector<float> x(rows * n), b(n);
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 37 % 23) - 11) * 0.25f;
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(i) * 0.125f;
        x = test::round_all(x, t);
        b = test::round_all(b, t);
        BufferMap buffers{{"x", test::pack(x, t)},
                          {"b", test::pack(b, t)},
                          {"out", test::poisoned(x.size(), t)},
                          {"n", test::le_bytes(n)}};
        // One threadgroup past the last row: it must do nothing.
        const DispatchResult got =
            ctx.dispatch_with_grid(normalise_rows(t), buffers, {}, {rows + 1, 1, 1}, {64, 1, 1});
        std::vector<float> expected(x.size());
        for (std::uint32_t r = 0; r < rows; ++r) {
          float peak = 0.0f;
          for (std::uint32_t i = 0; i < n; ++i) peak = std::max(peak, std::fabs(x[r * n + i]));
          for (std::uint32_t i = 0; i < n; ++i) {
            expected[r * n + i] = round_to(t, (x[r * n + i] + b[i]) / peak);
          }
        }
        const std::vector<float> out = test::unpack(got.outputs.at("out"), t);
        test::expect_close(out, expected, 0.0, 0.0, "normalised rows");
      }
    }
  });
}

TEST(Patterns, RowLoopStatesAOneDimensionalLaunch) {
  Context ctx = Context::create(Backend::Cpu);
  BufferMap buffers{{"x", test::pack(std::vector<float>(8, 1.0f), DType::F32)},
                    {"b", test::pack(std::vector<float>(4, 0.0f), DType::F32)},
                    {"out", test::poisoned(8, DType::F32)},
                    {"n", test::le_bytes(std::uint32_t{4})}};
  const std::string error = test::error_of([&] {
    ctx.dispatch_with_grid(normalise_rows(DType::F32), buffers, {}, {2, 2, 1}, {32, 1, 1});
  });
  EXPECT_NE(error.find("normalise_rows"), std::string::npos) << error;
  EXPECT_NE(error.find("a 1-D grid"), std::string::npos) << error;
  const std::string whole_rows = test::error_of([&] {
    BufferMap short_x = buffers;
    short_x["n"] = test::le_bytes(std::uint32_t{3});
    ctx.dispatch_with_grid(normalise_rows(DType::F32), short_x, {}, {2, 1, 1}, {32, 1, 1});
  });
  EXPECT_NE(whole_rows.find("whole rows"), std::string::npos) << whole_rows;
}

}  // namespace
}  // namespace mt
