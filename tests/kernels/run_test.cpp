// mt::kernels::run by name: every registered kernel's geometry rule gives the launch an explicit
// dispatch_with_grid would need (same outputs on every backend), a multi-launch plan with a
// scratch buffer runs all its steps on both the byte-map and the device-resident path, and the
// errors name the kernel and the parameter.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "metaltile/metaltile.hpp"
#include "support/backends.hpp"
#include "support/bytes.hpp"
#include "support/errors.hpp"

namespace {

using mt::DType;
using mt::test::le_bytes;
namespace rows = mt::kernels::mlx::rows;

std::vector<float> iota_values(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(int(i % 13) - 6);
  return v;
}

TEST(RunByName, RowKernelMatchesExplicitGeometry) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      SCOPED_TRACE(mt::name_of(t));
      const std::uint32_t rows_n = 5, n = 40;
      mt::BufferMap b;
      b["x"] = mt::test::pack(iota_values(rows_n * n, 0.25f), t);
      b["out"] = mt::test::poisoned(rows_n * n, t);
      b["n"] = le_bytes(n);
      const mt::DispatchResult by_name = mt::kernels::run(ctx, "softmax", t, b);
      const mt::DispatchResult explicit_grid = ctx.dispatch_with_grid(
          rows::softmax::kernel_ir_for(t), b, {}, {rows_n, 1, 1}, {64, 1, 1});
      ASSERT_EQ(by_name.outputs.size(), 1u);
      EXPECT_EQ(by_name.outputs.at("out"), explicit_grid.outputs.at("out"));
      // Specialising n gives the same bits.
      b.erase("n");
      const mt::DispatchResult specialised = mt::kernels::run(ctx, "softmax", t, b, {{"n", n}});
      EXPECT_EQ(specialised.outputs.at("out"), explicit_grid.outputs.at("out"));
    }
  });
}

TEST(RunByName, KvCacheUpdateWritesTheTokenAtItsPosition) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::uint32_t heads = 3, max_seq = 5, head_dim = 8, position = 2;
    const std::vector<float> token = iota_values(heads * head_dim, 0.5f);
    std::vector<float> cache(heads * max_seq * head_dim, 7.0f);
    mt::BufferMap b;
    b["src"] = mt::test::pack(token, DType::F32);
    b["out"] = mt::test::pack(cache, DType::F32);
    b["head_dim"] = le_bytes(head_dim);
    b["max_seq"] = le_bytes(max_seq);
    b["position"] = le_bytes(position);
    const mt::DispatchResult r = mt::kernels::run(ctx, "kv_cache_update", DType::F32, b);
    for (std::uint32_t h = 0; h < heads; ++h) {
      for (std::uint32_t d = 0; d < head_dim; ++d) {
        cache[(h * max_seq + position) * head_dim + d] = token[h * head_dim + d];
      }
    }
    mt::test::expect_close(mt::test::unpack(r.outputs.at("out"), DType::F32), cache, 0, 0, "out");
  });
}

// The sum of every element in two launches of the registered row_sum: rows into a scratch
// buffer of partial sums, then the partials as one row into `out`.
void build_total(mt::KernelBuilder& k, DType t) {
  mt::Tensor x = k.input("x", t);
  mt::Tensor out = k.output("out", t);
  mt::Val n = k.scalar_u32("n");
  k.require(n > 0u, "n > 0");
  k.require(x.len() % n == 0u, "len(x) % n == 0");
  k.require(out.len() == 1u, "len(out) == 1");
}

mt::KernelInfo two_pass_total() {
  mt::KernelInfo info;
  info.family = "test";
  info.name = "two_pass_total";
  info.default_mode = mt::KernelMode::Reduction;
  info.dtypes = {DType::F32};
  info.body = build_total;
  info.geometry = [](const mt::LaunchShape& s) {
    const std::size_t n = s.u32("n"), rows_n = s.elements("x") / n;
    mt::LaunchPlan plan;
    plan.scratch = {{"partials", DType::F32, rows_n}};
    mt::LaunchStep per_row{"row_sum", {rows_n, 1, 1}, {32, 1, 1}, {{"out", "partials"}}, {}};
    mt::LaunchStep total{"row_sum",
                         {1, 1, 1},
                         {32, 1, 1},
                         {{"x", "partials"}},
                         {{"n", static_cast<std::uint32_t>(rows_n)}}};
    plan.steps = {per_row, total};
    return plan;
  };
  info.bench = [](mt::BenchScale) { return std::vector<mt::BenchCase>{}; };
  return info;
}

TEST(RunByName, MultiLaunchPlanRunsEveryStepOnBothPaths) {
  const mt::KernelInfo info = two_pass_total();
  mt::test::for_each_backend([&](mt::Context& ctx) {
    const std::uint32_t rows_n = 6, n = 10;
    std::vector<float> x(rows_n * n);
    std::iota(x.begin(), x.end(), 1.0f);
    const float expected = 60.0f * 61.0f / 2.0f;
    mt::BufferMap b;
    b["x"] = mt::test::pack(x, DType::F32);
    b["out"] = mt::test::poisoned(1, DType::F32);
    b["n"] = le_bytes(n);
    const mt::DispatchResult r = mt::kernels::run(ctx, info, DType::F32, b);
    ASSERT_EQ(r.outputs.size(), 1u) << "only the entry's outputs come back, not its scratch";
    EXPECT_EQ(mt::test::unpack(r.outputs.at("out"), DType::F32), std::vector<float>{expected});

    // Device-resident: the runner keeps its scratch, so a captured graph replays correctly.
    const mt::DeviceBuffer in = ctx.upload(b["x"]);
    const mt::DeviceBuffer out = ctx.upload(mt::test::poisoned(1, DType::F32));
    const mt::Stream stream = ctx.create_stream();
    mt::kernels::KernelRunner runner(ctx, info, DType::F32);
    runner.launch({{"x", in}, {"out", out}, {"n", n}}, stream);
    stream.synchronize();
    EXPECT_TRUE(runner.uses_scratch());
    EXPECT_EQ(mt::test::unpack(out.download(), DType::F32), std::vector<float>{expected});
    out.upload(mt::test::poisoned(1, DType::F32));
    const mt::Graph graph = ctx.capture(stream, [&] {
      runner.launch({{"x", in}, {"out", out}, {"n", n}}, stream);
    });
    graph.replay(stream);
    stream.synchronize();
    EXPECT_EQ(mt::test::unpack(out.download(), DType::F32), std::vector<float>{expected});
  });
}

TEST(RunByName, DeviceResidentRunMatchesByteMapRun) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    const std::uint32_t rows_n = 4, n = 64;
    const std::vector<float> x = iota_values(rows_n * n, 0.125f);
    mt::BufferMap b;
    b["x"] = mt::test::pack(x, DType::BF16);
    b["out"] = mt::test::poisoned(rows_n, DType::U32);
    b["n"] = le_bytes(n);
    const mt::DispatchResult bytes = mt::kernels::run(ctx, "argmax", DType::BF16, b);
    const mt::DeviceBuffer in = ctx.upload(b["x"]);
    const mt::DeviceBuffer out = ctx.upload(b["out"]);
    const mt::Stream stream = ctx.create_stream();
    mt::kernels::run(ctx, "argmax", DType::BF16, {{"x", in}, {"out", out}, {"n", n}}, stream);
    stream.synchronize();
    EXPECT_EQ(out.download(), bytes.outputs.at("out"));
  });
}

TEST(RunByName, ErrorsNameTheKernelAndParameter) {
  mt::test::for_each_backend([](mt::Context& ctx) {
    mt::BufferMap b;
    b["x"] = mt::test::pack(iota_values(12, 1.0f), DType::F32);
    b["out"] = mt::test::poisoned(12, DType::F32);
    b["n"] = le_bytes(4u);
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "no_such_kernel", DType::F32, b); }),
        {"no_such_kernel", "tile list"});
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "softmax", DType::I32, b); }),
        {"softmax", "i32", "f32, f16, bf16"});
    mt::BufferMap missing = b;
    missing.erase("x");
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "softmax", DType::F32, missing); }),
        {"softmax", "'x'", "missing"});
    mt::BufferMap bad = b;
    bad["n"] = le_bytes(5u);
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "softmax", DType::F32, bad); }),
        {"softmax", "'x'", "a multiple of 5 elements (20 bytes)", "got 12 elements (48 bytes)"});
    // A wrong output length names the buffer and both byte counts.
    mt::BufferMap short_out = b;
    short_out["out"] = mt::test::poisoned(10, DType::F32);
    mt::test::expect_mentions(
        mt::test::error_of([&] { mt::kernels::run(ctx, "softmax", DType::F32, short_out); }),
        {"softmax", "'out'", "expected 12 elements (48 bytes)", "got 10 elements (40 bytes)"});
    // The context stays usable.
    EXPECT_EQ(mt::kernels::run(ctx, "softmax", DType::F32, b).outputs.at("out").size(), 48u);
  });
}

// Every registered kernel's smoke benchmark case is a valid request: run by name accepts it.
TEST(RunByName, EveryKernelRunsItsSmokeBenchCase) {
  const mt::Context ctx = mt::Context::create(mt::Backend::Cpu);
  for (const mt::KernelInfo& info : mt::registered_kernels()) {
    const std::vector<mt::BenchCase> cases = info.bench(mt::BenchScale::Smoke);
    ASSERT_FALSE(cases.empty()) << info.name;
    EXPECT_FALSE(info.doc.summary.empty()) << info.name;
    EXPECT_FALSE(info.doc.geometry.empty()) << info.name;
    for (const mt::BenchCase& c : cases) {
      SCOPED_TRACE(info.name + " " + c.label);
      const mt::Kernel& k = mt::traced_kernel(info.name, c.dtype);
      mt::BufferMap b;
      for (const mt::Param& p : k.params) {
        if (p.is_tensor()) {
          ASSERT_EQ(c.elements.count(p.name), 1u) << p.name;
          b[p.name].assign(c.elements.at(p.name) * mt::size_of(p.dtype), 0);
        } else {
          ASSERT_EQ(c.scalars.count(p.name), 1u) << p.name;
          std::visit([&](auto v) { b[p.name] = le_bytes(v); }, c.scalars.at(p.name));
        }
      }
      for (const auto& [name, fill] : c.fills) {
        if (fill.kind == mt::BenchFill::Kind::Iota) {
          std::vector<std::uint32_t> v(c.elements.at(name));
          for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint32_t>(i % fill.n);
          b[name] = mt::test::pack_u32(v);
        } else if (fill.kind == mt::BenchFill::Kind::Value) {
          b[name] = mt::test::pack_u32(std::vector<std::uint32_t>(c.elements.at(name), fill.n));
        }
      }
      EXPECT_NO_THROW(mt::kernels::run(ctx, info.name, c.dtype, b));
    }
  }
}

}  // namespace
