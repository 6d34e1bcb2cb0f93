// (b) Host time per launch of a small kernel: the byte-map dispatch_with_grid, the
// device-resident launch (enqueue only, and enqueue + synchronize), and a launch inside a
// replayed graph of 100 launches.
#include <cstdint>
#include <string>
#include <vector>

#include "bench.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/dsl/dsl.hpp"

namespace mt::bench {
namespace {

// out[i] = src[i] + c for i < n.
Kernel add_kernel() {
  return trace("bench_add", KernelMode::Grid3D, [](KernelBuilder& b) {
    Tensor src = b.input("src", DType::F32);
    Tensor out = b.output("out", DType::F32);
    Val n = b.scalar_u32("n");
    Val c = b.scalar_f32("c");
    Val i = program_id(0);
    if_(i < n, [&] { out[i] = src[i] + c; });
  });
}

std::vector<std::uint8_t> le_bytes(std::uint32_t v) {
  return {std::uint8_t(v), std::uint8_t(v >> 8), std::uint8_t(v >> 16), std::uint8_t(v >> 24)};
}

}  // namespace

void measure_launch(const Setup& setup, Report& report) {
  const bool quick = setup.options.quick;
  const std::uint32_t n = quick ? 256 : 4096;
  const std::array<std::size_t, 3> grid{(n + 127) / 128, 1, 1}, tpg{128, 1, 1};
  const int calls = quick ? 20 : 200, enqueues = quick ? 50 : 2000, replays = quick ? 3 : 50;
  constexpr int kGraphLaunches = 100;
  const Kernel k = add_kernel();
  const std::string shape = std::to_string(n) + " f32 elements";

  for (const Target& t : setup.targets) {
    const Context& ctx = t.ctx;
    // Byte map: every call uploads, launches, synchronises and downloads.
    BufferMap buffers{{"src", std::vector<std::uint8_t>(n * 4, 0)},
                      {"out", std::vector<std::uint8_t>(n * 4, 0)},
                      {"n", le_bytes(n)},
                      {"c", le_bytes(0x3F800000u)}};
    for (int i = 0; i < 3; ++i) ctx.dispatch_with_grid(k, buffers, {}, grid, tpg);
    std::vector<double> us;
    for (int i = 0; i < calls; ++i) {
      us.push_back(time_us([&] { ctx.dispatch_with_grid(k, buffers, {}, grid, tpg); }));
    }
    report.add({"launch", "dispatch_with_grid (byte map)", t.variant, median(us), "us",
                shape + "; median of " + std::to_string(calls)});

    const PreparedKernel prepared = ctx.prepare(k);
    const Stream stream = ctx.create_stream();
    const DeviceBuffer src = ctx.upload(std::vector<std::uint8_t>(n * 4, 0));
    const DeviceBuffer out = ctx.allocate(n * 4);
    const DeviceBindings bindings{{"src", src}, {"out", out}, {"n", n}, {"c", 1.0f}};
    for (int i = 0; i < 3; ++i) ctx.launch(prepared, bindings, grid, tpg, stream);
    stream.synchronize();

    const double enqueue_us = time_us([&] {
      for (int i = 0; i < enqueues; ++i) ctx.launch(prepared, bindings, grid, tpg, stream);
    });
    stream.synchronize();
    report.add({"launch", "device-resident launch, enqueue only", t.variant, enqueue_us / enqueues,
                "us", shape + "; mean of " + std::to_string(enqueues)});

    // The backend's own part of a launch, without the runtime's binding and contract checks.
    std::vector<DeviceArgument> args;
    for (const Param& p : prepared.executable().kernel().params) {
      DeviceArgument a;
      if (p.name == "src") a.memory = &src.memory();
      if (p.name == "out") a.memory = &out.memory();
      if (p.name == "n") a.scalar = Scalar::of_int(n);
      if (p.name == "c") a.scalar = Scalar::of_float(1.0);
      args.push_back(a);
    }
    const LaunchDims dims{{std::uint32_t(grid[0]), 1, 1}, {std::uint32_t(tpg[0]), 1, 1}};
    const double backend_us = time_us([&] {
      for (int i = 0; i < enqueues; ++i) {
        t.backend->enqueue(prepared.executable(), args, dims, stream.handle());
      }
    });
    stream.synchronize();
    report.add({"launch", "backend enqueue only (no runtime checks)", t.variant,
                backend_us / enqueues, "us", shape + "; mean of " + std::to_string(enqueues)});

    us.clear();
    for (int i = 0; i < calls; ++i) {
      us.push_back(time_us([&] {
        ctx.launch(prepared, bindings, grid, tpg, stream);
        stream.synchronize();
      }));
    }
    report.add({"launch", "device-resident launch + synchronize", t.variant, median(us), "us",
                shape + "; median of " + std::to_string(calls)});

    const Graph graph = ctx.capture(stream, [&] {
      for (int i = 0; i < kGraphLaunches; ++i) ctx.launch(prepared, bindings, grid, tpg, stream);
    });
    graph.replay(stream);
    stream.synchronize();
    std::vector<double> host, total;
    for (int r = 0; r < replays; ++r) {
      double replay_us = 0.0;
      total.push_back(time_us([&] {
        replay_us = time_us([&] { graph.replay(stream); });
        stream.synchronize();
      }));
      host.push_back(replay_us);
    }
    report.add({"launch", "per launch in a replayed graph of 100, replay only", t.variant,
                median(host) / kGraphLaunches, "us",
                shape + "; median of " + std::to_string(replays) + " replays"});
    report.add({"launch", "per launch in a replayed graph of 100, + synchronize", t.variant,
                median(total) / kGraphLaunches, "us",
                shape + "; median of " + std::to_string(replays) + " replays"});
  }
}

}  // namespace mt::bench
